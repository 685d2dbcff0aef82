import pytest
import torch

from training import TrainConfig
from training import precision
from videomodel.world_model import DiTWorldModel


@pytest.fixture
def flags(monkeypatch):
    def set_flags(*names):
        monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(names))
    return set_flags


def test_auto_picks_bf16_only_on_cpus_with_bf16_instructions(flags):
    flags("avx2", "fma")
    assert precision.resolve_mixed_precision("auto") == "no"
    flags("avx2", "avx512f", "avx512_bf16")
    assert precision.resolve_mixed_precision("auto") == "bf16"
    flags("amx_bf16")
    assert precision.bf16_is_fast("cpu")
    assert precision.resolve_mixed_precision("no") == "no" and precision.resolve_mixed_precision("bf16") == "bf16"


def test_cpu_flags_are_read_from_this_machine():
    assert "fpu" in precision.cpu_flags() or "fp" in precision.cpu_flags()  # x86 / arm


def test_train_config_takes_auto_and_refuses_unknown_precisions():
    assert TrainConfig(mixed_precision="auto").mixed_precision == "auto"
    with pytest.raises(ValueError, match="mixed_precision must be"):
        TrainConfig(mixed_precision="bf15")


def test_world_model_auto_dtype_samples_with_and_without_bf16(flags):
    kwargs = dict(horizon=1, autoencoder={"channels": [8, 8, 8]}, dit={"variant": "DiT-XS", "depth": 1},
                  cfg_scale=1.0, sampler={"name": "euler", "steps": 1}, inference_dtype="auto")
    model = DiTWorldModel(**kwargs, text_encoder=None).eval()
    seen = []
    model.dit.register_forward_hook(lambda *_: seen.append(torch.is_autocast_enabled("cpu")))
    ctx, emb = torch.zeros(1, 1, 4, 16, 16), torch.zeros(1, 384)
    for names, autocast in ((("avx2",), False), (("avx512_bf16",), True)):
        flags(*names)
        out = model.sample_latents(ctx, emb, generator=torch.Generator().manual_seed(0))
        assert out.shape == (1, 2, 4, 16, 16) and torch.isfinite(out).all()
        assert seen.pop() is autocast
    with pytest.raises(ValueError, match="inference_dtype must be one of"):
        DiTWorldModel(**{**kwargs, "inference_dtype": "fp8"})
