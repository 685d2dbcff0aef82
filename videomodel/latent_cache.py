"""A dataset's frames encoded by one autoencoder, kept on disk so the next DiT run does not encode them again
(encoding a dataset is slow on a CPU; under DDP the main process encodes it and the others read the cache).

One safetensors file per autoencoder (named by a hash of its config and weights) in the cache directory, with
each episode's latents (float16) and foreground cells under "<shard file>/<episode key>". It records a digest of
every shard it was built from: a shard that changed or was added since makes it stale, and it is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from sim.dataset import EpisodeRef
from training.atomic import atomic_write


def autoencoder_fingerprint(autoencoder: torch.nn.Module) -> str:
    config = getattr(autoencoder, "config", {})
    config = config.to_dict() if hasattr(config, "to_dict") else config  # an AutoencoderConfig: the dict it saves
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name, tensor in sorted(autoencoder.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def episode_key(ref: EpisodeRef) -> str:
    return f"{ref.path.name}/{ref.key}"


def _shard_digests(refs: list[EpisodeRef]) -> str:
    """sha256 of every shard's bytes (cheap next to encoding): a re-recorded shard of the same name is another."""
    digests = {}
    for path in sorted({r.path for r in refs}):
        with open(path, "rb") as f:
            digests[path.name] = hashlib.file_digest(f, "sha256").hexdigest()
    return json.dumps(digests, sort_keys=True)


def load_latents(path: Path, refs: list[EpisodeRef]) -> dict[str, tuple[torch.Tensor, torch.Tensor]] | None:
    """{episode key: (latents [T+1, C, h, w] float16, foreground [T+1, h, w] bool)} for every episode in `refs`,
    or None when the file is missing, unreadable, or was built from other shards."""
    if not path.exists():
        return None
    keys = [episode_key(r) for r in refs]
    try:
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("shards") != _shard_digests(refs):
                return None
            stored = set(f.keys())
            if any(f"latents/{k}" not in stored or f"foreground/{k}" not in stored for k in keys):
                return None
            return {k: (f.get_tensor(f"latents/{k}"), f.get_tensor(f"foreground/{k}")) for k in keys}
    except (SafetensorError, OSError, ValueError):
        return None


def save_latents(path: Path, refs: list[EpisodeRef], latents: list[torch.Tensor], foreground: list[torch.Tensor]) -> None:
    """Write atomically (a temp file renamed over the old one): an interrupted write leaves no half cache."""
    tensors = {}
    for ref, z, fg in zip(refs, latents, foreground):
        tensors[f"latents/{episode_key(ref)}"] = z.contiguous()
        tensors[f"foreground/{episode_key(ref)}"] = fg.contiguous()
    # serialized in memory: safetensors' own writer reports a full disk without errno (atomic_write names the file)
    atomic_write(path, save(tensors, metadata={"shards": _shard_digests(refs)}))
