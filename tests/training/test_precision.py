"""training.precision: what `mixed_precision: auto` and `inference_dtype: auto` resolve to, from the CPU's flags.

The flags are mocked (a fake /proc/cpuinfo, or `cpu_flags` itself), so these tests check the decision, not the
machine they run on."""

import pytest
import torch

from training import Trainer, TrainConfig
from training import precision
from videomodel.world_model import DiTWorldModel

AVX2_ONLY = ("fpu", "sse2", "avx", "avx2", "fma")
AVX512_BF16 = ("fpu", "avx2", "avx512f", "avx512_bf16")


@pytest.fixture
def flags(monkeypatch):
    def set_flags(*names):
        monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(names))
    return set_flags


@pytest.fixture
def cpuinfo(monkeypatch, tmp_path):
    """Point cpu_flags at a fake /proc/cpuinfo with the given text (None: the file cannot be read)."""
    def use(text):
        path = tmp_path / "cpuinfo"
        if text is not None:
            path.write_text(text)
        monkeypatch.setattr(precision, "Path", lambda _: path)
        precision.cpu_flags.cache_clear()
    yield use
    precision.cpu_flags.cache_clear()  # later tests read the real machine again


X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14
flags\t\t: fpu vme sse2 avx avx2 avx512f avx512_bf16 amx_tile
bugs\t\t: sysret_ss_attrs

processor\t: 1
flags\t\t: fpu vme sse2 avx avx2 avx512f avx512_bf16 amx_tile
"""
ARM = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 bf16 i8mm
CPU implementer\t: 0x41
"""


def test_cpu_flags_parse_x86_and_arm_cpuinfo(cpuinfo):
    cpuinfo(X86)
    assert precision.cpu_flags() == frozenset({"fpu", "vme", "sse2", "avx", "avx2", "avx512f", "avx512_bf16",
                                               "amx_tile"})
    assert precision.bf16_is_fast("cpu")
    cpuinfo(ARM)
    got = precision.cpu_flags()
    assert {"fp", "asimd", "bf16", "i8mm"} <= got and "0x41" not in got and "243.75" not in got


def test_cpu_flags_without_cpuinfo_or_flags_line_mean_no_bf16(cpuinfo):
    cpuinfo(None)
    assert precision.cpu_flags() == frozenset()
    assert precision.resolve_mixed_precision("auto") == "no"
    cpuinfo("processor\t: 0\nmodel name\t: something\n")
    assert precision.cpu_flags() == frozenset()
    assert precision.resolve_mixed_precision("auto") == "no"


def test_auto_picks_bf16_only_on_cpus_with_bf16_instructions(flags):
    flags(*AVX2_ONLY)
    assert not precision.bf16_is_fast("cpu")
    assert precision.resolve_mixed_precision("auto") == "no"
    flags(*AVX512_BF16)
    assert precision.resolve_mixed_precision("auto") == "bf16"
    flags("fpu", "amx_bf16")
    assert precision.bf16_is_fast("cpu") and precision.resolve_mixed_precision("auto", "cpu") == "bf16"


@pytest.mark.parametrize("cpu", [AVX2_ONLY, AVX512_BF16])
def test_explicit_settings_are_kept_whatever_the_cpu(flags, cpu):
    flags(*cpu)
    for setting in ("no", "bf16", "fp16"):
        assert precision.resolve_mixed_precision(setting) == setting
        assert precision.resolve_mixed_precision(setting, "cuda") == setting


def test_on_cuda_auto_asks_the_gpu_not_the_cpu(flags, monkeypatch):
    flags(*AVX512_BF16)  # a bf16 CPU says nothing about the GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not precision.bf16_is_fast("cuda") and precision.resolve_mixed_precision("auto", "cuda") == "no"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert precision.resolve_mixed_precision("auto", torch.device("cuda", 0)) == "no"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    flags(*AVX2_ONLY)
    assert precision.resolve_mixed_precision("auto", "cuda") == "bf16"
    assert precision.resolve_mixed_precision("auto", "cpu") == "no"


def test_train_config_takes_auto_and_refuses_unknown_precisions():
    assert TrainConfig(mixed_precision="auto").mixed_precision == "auto"
    with pytest.raises(ValueError, match="mixed_precision must be"):
        TrainConfig(mixed_precision="bf15")


@pytest.mark.parametrize("cpu, expected", [(AVX2_ONLY, "no"), (AVX512_BF16, "bf16")])
def test_trainer_resolves_auto_into_the_accelerators_precision(flags, tmp_path, cpu, expected):
    flags(*cpu)
    model = torch.nn.Linear(2, 2)
    config = TrainConfig(steps=1, batch_size=1, mixed_precision="auto")
    trainer = Trainer(model, {}, [], lambda m, b: (torch.zeros(()), {}), config, tmp_path)
    assert trainer.mixed_precision == expected
    assert trainer.accelerator.mixed_precision == expected
    explicit = Trainer(model, {}, [], lambda m, b: (torch.zeros(()), {}), TrainConfig(mixed_precision="no"), tmp_path)
    assert explicit.accelerator.mixed_precision == "no"  # an explicit setting ignores the flags


def test_world_model_inference_dtype_follows_the_setting_and_auto_the_cpu(flags):
    kwargs = dict(horizon=1, autoencoder={"channels": [8, 8, 8]}, dit={"variant": "h192-d4", "depth": 1, "text_tokens": False},
                  cfg_scale=1.0, sampler={"name": "euler", "steps": 1})
    ctx, emb = torch.zeros(1, 1, 4, 16, 16), torch.zeros(1, 384)
    cases = [("auto", AVX2_ONLY, False), ("auto", AVX512_BF16, True),
             ("float32", AVX512_BF16, False), ("bfloat16", AVX2_ONLY, True)]
    for dtype, cpu, autocast in cases:
        model = DiTWorldModel(**kwargs, inference_dtype=dtype, text_encoder=None).eval()
        seen = []
        model.dit.register_forward_hook(
            lambda *_: seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"))))
        flags(*cpu)
        out = model.sample_latents(ctx, emb, generator=torch.Generator().manual_seed(0))
        assert out.shape == (1, 2, 4, 16, 16) and out.dtype == torch.float32 and torch.isfinite(out).all()
        assert seen and seen[-1][0] is autocast, (dtype, cpu)
        if autocast:
            assert seen[-1][1] == torch.bfloat16
    with pytest.raises(ValueError, match="inference_dtype must be one of"):
        DiTWorldModel(**kwargs, inference_dtype="fp8")
