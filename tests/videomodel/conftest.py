import functools
import hashlib

import pytest
import torch


class HashTextEncoder:
    """Stands in for MiniLM where the text only has to be *some* fixed embedding: a unit vector seeded by the
    text's hash (stable across processes), no model to load."""

    dim = 384

    def embed(self, texts):
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
            rows.append(torch.nn.functional.normalize(torch.randn(self.dim, generator=torch.Generator().manual_seed(seed)), dim=0))
        return torch.stack(rows) if rows else torch.zeros(0, self.dim)

    def embed_tokens(self, texts):
        """One hashed unit vector per word: word order and every word count, as with MiniLM's token states."""
        from videomodel.text_encoder import pad_tokens

        return pad_tokens([self.embed(text.split() or [""]) for text in texts])


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The test networks are tiny: a second intra-op thread only adds synchronisation, and when the other core
    is busy it slows every op down. Restored after each test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def hash_text_encoder():
    return HashTextEncoder()


@pytest.fixture(scope="session")
def minilm():
    """The real text encoder, loaded once per session (a few seconds)."""
    from videomodel.text_encoder import TextEncoder

    return TextEncoder()


# 16x16 frames -> 4x4x4 latents -> 4 tokens per frame with p=2: every test network runs in milliseconds.
# Whole frames, the pooled text vector and an unweighted loss (the shipped config: predict_change, text_tokens,
# foreground_weight 8); tests of those options turn them on.
TINY_WORLD = {
    "image_size": 16,
    "horizon": 3,
    "frame_stride": 4,
    "autoencoder": {"channels": [8, 8, 8], "latent_channels": 4},
    "dit": {"variant": "h192-d4", "hidden_size": 32, "depth": 2, "num_heads": 2, "patch_size": 2, "p_uncond": 0.1,
            "text_tokens": False},
    "objective": {"name": "flow_matching", "foreground_weight": 1.0},
    "sampler": {"name": "euler", "steps": 4},
    "predict_change": False,
    "cfg_scale": 2.0,
}


@pytest.fixture
def tiny_world_config():
    import copy

    return copy.deepcopy(TINY_WORLD)


def record_episodes(out, size, task="push_to_center"):
    """Two scripted tabletop episodes of `task` at size x size px, recorded to `out`."""
    from sim.env import TabletopEnv
    from sim.record import RecordJob, record

    cfg = {"image_size": size}
    record(RecordJob(out=str(out), tasks=[task], episodes=2, episodes_per_shard=2,
                     env_factory=functools.partial(TabletopEnv, **cfg), env_config=cfg))
    return out


@pytest.fixture(scope="session")
def episodes_16px(tmp_path_factory):
    return record_episodes(tmp_path_factory.mktemp("video-data-16"), 16)
