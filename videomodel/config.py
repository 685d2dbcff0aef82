"""The video model's configs: one dataclass per model, defaults = what configs/ ships (training.model_config).

    WorldModelConfig            videomodel.world_model.DiTWorldModel     configs/videomodel/dit.yaml
      .autoencoder: AutoencoderConfig  videomodel.autoencoder.VideoAutoencoder   configs/train/autoencoder.yaml (model)
      .dit: DiTConfig                  videomodel.dit.VideoDiT (a named size in DIT_VARIANTS, any of it overridden)
      .objective: ObjectiveConfig      videomodel.objectives.build_objective
      .sampler: SamplerConfig          videomodel.samplers.build_sampler

Each round-trips through the "model" entry of a checkpoint's config.json (`to_dict` / `from_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from training.model_config import ModelConfig

# Our DiT sizes, named by width (h) and depth (d). Parameters with 4 latent channels, p=2 (before text
# cross-attention, which adds ~25 %): h192-d4 2.9M, h256-d8 8.9M, h384-d12 32.8M. For comparison, the DiT
# paper's table (Peebles & Xie): DiT-S 384 wide, 12 deep, 6 heads; DiT-B 768/12/12; DiT-L 1024/24/16;
# DiT-XL 1152/28/16 -- so h384-d12 has the width, depth and heads of DiT's DiT-S.
DIT_VARIANTS: dict[str, dict[str, Any]] = {
    "h192-d4": dict(hidden_size=192, depth=4, num_heads=3, mlp_ratio=4.0),
    "h256-d8": dict(hidden_size=256, depth=8, num_heads=4, mlp_ratio=3.0),
    "h384-d12": dict(hidden_size=384, depth=12, num_heads=6, mlp_ratio=4.0),
}
# Legacy names, which reuse DiT's names for other sizes (our "DiT-B" has the size of DiT's DiT-S). Accepted
# wherever a variant is named, so the configs and checkpoints that say them (e.g.
# checkpoints/*videomodel/config.json: "DiT-XS") keep loading and resuming unchanged.
OLD_VARIANT_NAMES: dict[str, str] = {"DiT-XS": "h192-d4", "DiT-S": "h256-d8", "DiT-B": "h384-d12"}

OBJECTIVE_OPTIONS = {"flow_matching": ("time_sampling", "logit_mean", "logit_std"),
                     "ddpm_eps": ("cosine_offset", "min_alpha_bar")}
SAMPLERS = ("euler", "heun", "ddim")
INFERENCE_DTYPES = ("float32", "bfloat16", "auto")


def variant_dims(variant: str) -> dict[str, Any]:
    """A variant's (or an old name's) hidden_size, depth, num_heads, mlp_ratio."""
    name = OLD_VARIANT_NAMES.get(variant, variant)
    if name not in DIT_VARIANTS:
        raise ValueError(f"unknown DiT variant {variant!r}; known: {', '.join(DIT_VARIANTS)} "
                         f"(old names: {', '.join(OLD_VARIANT_NAMES)})")
    return dict(DIT_VARIANTS[name])


@dataclass
class AutoencoderConfig(ModelConfig):
    """The per-frame convolutional autoencoder: one stride-2 stage between consecutive `channels`."""

    channels: list[int] = field(default_factory=lambda: [16, 32, 64])  # [16, 32, 64]: 64x64x3 -> 16x16x4
    latent_channels: int = 4
    image_size: int = 64
    latent_penalty: float = 1e-4  # L2 on the raw latents (keeps their scale from drifting)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.channels or min(self.channels) < 1 or self.latent_channels < 1 or \
                self.image_size % 2 ** (len(self.channels) - 1):
            raise ValueError(f"bad autoencoder config: channels={self.channels}, "
                             f"latent_channels={self.latent_channels}, image_size={self.image_size}")


@dataclass
class DiTConfig(ModelConfig):
    """The DiT: a named size (DIT_VARIANTS), whose width, depth, heads or MLP ratio may be overridden (unset:
    the variant's). The latent grid, channels and frame count come from the world model."""

    variant: str = "h192-d4"
    patch_size: int = 2
    p_uncond: float = 0.1          # text replaced by the learned null embedding this often (classifier-free guidance)
    text_tokens: bool = True       # cross-attention to the subgoal's token states; false: the pooled vector only
    hidden_size: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    mlp_ratio: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        variant_dims(self.variant)  # a known name
        if self.patch_size < 1 or not 0.0 <= self.p_uncond <= 1.0:
            raise ValueError(f"bad DiT config: patch_size={self.patch_size}, p_uncond={self.p_uncond}")

    def dims(self) -> dict[str, Any]:
        """hidden_size, depth, num_heads, mlp_ratio: the variant's, with what this config overrides."""
        dims = variant_dims(self.variant)
        return {k: v if getattr(self, k) is None else getattr(self, k) for k, v in dims.items()}

    def architecture(self) -> dict[str, Any]:
        """What the weights depend on (whatever the variant is called)."""
        return {**self.dims(), "patch_size": self.patch_size, "text_tokens": self.text_tokens}


@dataclass
class ObjectiveConfig(ModelConfig):
    """How the DiT trains. Unset options take the objective's own defaults (videomodel.objectives)."""

    name: str = "flow_matching"         # flow_matching | ddpm_eps
    time_sampling: str | None = None    # flow_matching only: logit_normal (when unset) | uniform
    foreground_weight: float = 8.0      # latent cells under blocks / pusher weigh this much more
    logit_mean: float | None = None     # flow_matching's logit-normal t
    logit_std: float | None = None
    cosine_offset: float | None = None  # ddpm_eps's cosine schedule
    min_alpha_bar: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.name not in OBJECTIVE_OPTIONS:
            raise ValueError(f"unknown objective {self.name!r}; known: {', '.join(OBJECTIVE_OPTIONS)}")
        if self.name == "flow_matching" and self.time_sampling is None:
            self.time_sampling = "logit_normal"
        foreign = [k for name, keys in OBJECTIVE_OPTIONS.items() if name != self.name for k in keys
                   if getattr(self, k) is not None]
        if foreign:
            raise ValueError(f"objective {self.name!r} takes no {', '.join(foreign)}")


@dataclass
class SamplerConfig(ModelConfig):
    """How the world model samples (may change without retraining)."""

    name: str = "euler"             # euler | heun (flow_matching models), ddim (ddpm_eps models)
    steps: int | None = None        # unset: 8 (euler, heun), 10 (ddim)
    shift: float | None = None      # euler/heun: time-grid shift (unset: 1.0)
    clip_x0: float | None = None    # ddim: clip the predicted clean latents (unset: no clipping)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.name not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.name!r}; known: {', '.join(SAMPLERS)}")
        if self.steps is None:
            self.steps = 10 if self.name == "ddim" else 8
        wrong = "shift" if self.name == "ddim" and self.shift is not None else \
            "clip_x0" if self.name != "ddim" and self.clip_x0 is not None else None
        if wrong:
            raise ValueError(f"sampler {self.name!r} takes no {wrong}")


@dataclass
class WorldModelConfig(ModelConfig):
    """The DiT world model: autoencoder + DiT on 1 context + `horizon` latent frames, objective, sampler."""

    image_size: int = 64
    horizon: int = 4                # imagined frames per clip (T); the DiT sees 1 context + T frames
    frame_stride: int = 4           # env steps between consecutive frames of the training clips
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)  # image_size: the world model's
    dit: DiTConfig = field(default_factory=DiTConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    predict_change: bool = True     # generate each frame's latent minus the context's (static cells exactly 0)
    cfg_scale: float = 2.0          # classifier-free guidance; 1.0 turns it off (and halves the cost of sampling)
    inference_dtype: str = "float32"  # "bfloat16": autocast while sampling and decoding; "auto": bfloat16 where it is fast

    # what a config.json written before these options existed meant by leaving them out
    LEGACY_DEFAULTS = {"predict_change": False, "dit": {"text_tokens": False}, "objective": {"foreground_weight": 1.0}}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.horizon < 1 or self.frame_stride < 1:
            raise ValueError(f"horizon and frame_stride must be >= 1, got {self.horizon}, {self.frame_stride}")
        if self.inference_dtype not in INFERENCE_DTYPES:
            raise ValueError(f"inference_dtype must be one of {list(INFERENCE_DTYPES)}, got {self.inference_dtype!r}")
        if self.autoencoder.image_size != self.image_size:
            self.autoencoder = self.autoencoder.replace(image_size=self.image_size)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["autoencoder"].pop("image_size")  # the world model's, saved once
        return out
