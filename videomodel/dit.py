"""A spatio-temporal Diffusion Transformer (after facebookresearch/DiT models.py), the whole network on one screen.

    x [B, F, C, H, W] latent frames (the first `num_context` clean, the rest noisy)
      -> patchify: p x p patches of every frame, frame-major order: [B, F * (H/p) * (W/p), p*p*C]
      -> linear patch embedding + fixed 2-D sin-cos spatial + learned temporal position embedding
      -> depth x DiTBlock (full self-attention over all frames' tokens, adaLN-Zero modulated by c;
                           with text_tokens, then cross-attention to the subgoal's token states, as in PixArt-a)
      -> FinalLayer (adaLN, linear) -> unpatchify -> prediction [B, F, C, H, W] (velocity or noise)
    c = TimestepEmbedder(t) + TextEmbedder(text embedding, or the learned null embedding for CFG)

The prediction at context positions is meaningless: objectives mask it out, samplers overwrite it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from videomodel.config import DIT_VARIANTS, OLD_VARIANT_NAMES, DiTConfig  # noqa: F401  (the size table lives there)

TEXT_DIM = 384  # all-MiniLM-L6-v2


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """[B, F, C, H, W] -> [B, F * (H/p) * (W/p), p * p * C]; tokens frame-major, then row, then column."""
    b, f, c, h, w = x.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f"latent grid {h}x{w} is not divisible by patch size {p}")
    x = x.reshape(b, f, c, h // p, p, w // p, p)
    return x.permute(0, 1, 3, 5, 4, 6, 2).reshape(b, f * (h // p) * (w // p), p * p * c)


def unpatchify(tokens: torch.Tensor, patch_size: int, channels: int, frames: int, height: int, width: int) -> torch.Tensor:
    """Exact inverse of `patchify`: [B, F * (H/p) * (W/p), p * p * C] -> [B, F, C, H, W]."""
    p = patch_size
    b = tokens.shape[0]
    x = tokens.reshape(b, frames, height // p, width // p, p, p, channels)
    return x.permute(0, 1, 6, 2, 4, 3, 5).reshape(b, frames, channels, height, width)


def sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2))
    angles = np.outer(positions.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def sincos_2d(dim: int, grid_h: int, grid_w: int) -> torch.Tensor:
    """[grid_h * grid_w, dim] fixed position embedding, row-major; half the channels per axis."""
    rows, cols = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")
    emb = np.concatenate([sincos_1d(dim // 2, rows), sincos_1d(dim // 2, cols)], axis=1)
    return torch.from_numpy(emb).float()


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class TimestepEmbedder(nn.Module):
    """t in [0, 1] -> sinusoidal features of 1000 t -> MLP -> [B, D]."""

    def __init__(self, hidden_size: int, frequency_size: int = 256):
        super().__init__()
        self.frequency_size = frequency_size
        self.mlp = nn.Sequential(nn.Linear(frequency_size, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.frequency_size // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = 1000.0 * t.float()[:, None] * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class TextEmbedder(nn.Module):
    """Sentence embedding [B, 384] -> [B, D]; rows marked `drop` get the learned null embedding instead
    (classifier-free guidance). torch.where keeps both paths in the graph, so every parameter gets a
    gradient every step (DDP needs that)."""

    def __init__(self, hidden_size: int, text_dim: int = TEXT_DIM):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(text_dim, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))
        self.null_embedding = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, text_emb: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
        y = self.mlp(text_emb)
        return torch.where(drop[:, None], self.null_embedding.to(y.dtype).expand_as(y), y)


class Attention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class CrossAttention(nn.Module):
    """Image tokens [B, N, D] attend to text tokens [B, L, D] where mask [B, L] is True."""

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(hidden_size, hidden_size)
        self.kv = nn.Linear(hidden_size, 2 * hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.num_heads
        q = self.q(x).reshape(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(y).reshape(b, y.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class DiTBlock(nn.Module):
    """Pre-norm transformer block; adaLN-Zero: shift/scale/gate from c, gates zero at init (block = identity).
    The optional cross-attention to the text is not modulated; its output projection starts at zero."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float = 4.0, cross_attention: bool = False):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        if cross_attention:
            self.norm_cross = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
            self.cross_attn = CrossAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        mlp_hidden = int(hidden_size * mlp_ratio)
        # exact GELU: on CPU faster than DiT's tanh approximation
        self.mlp = nn.Sequential(nn.Linear(hidden_size, mlp_hidden), nn.GELU(), nn.Linear(mlp_hidden, hidden_size))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor, text: torch.Tensor | None = None,
                text_mask: torch.Tensor | None = None) -> torch.Tensor:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        if text is not None:
            x = x + self.cross_attn(self.norm_cross(x), text, text_mask)
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    def __init__(self, hidden_size: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class VideoDiT(nn.Module):
    """Built from a `DiTConfig` (or its fields as keyword arguments: `VideoDiT(hidden_size=32, depth=2, ...)`);
    its latent grid size, latent channels and frame capacity come from the world model around it."""

    def __init__(self, config: DiTConfig | dict | None = None, *, latent_size: int = 16, in_channels: int = 4,
                 max_frames: int = 8, text_dim: int = TEXT_DIM, **options):
        super().__init__()
        config = DiTConfig.from_args(config, options)
        dims = config.dims()
        hidden_size, depth, num_heads, mlp_ratio = (dims[k] for k in ("hidden_size", "depth", "num_heads", "mlp_ratio"))
        patch_size, text_tokens = config.patch_size, config.text_tokens
        latent_size, in_channels, max_frames, text_dim = (int(v) for v in (latent_size, in_channels, max_frames, text_dim))
        if latent_size % patch_size:
            raise ValueError(f"latent_size {latent_size} is not divisible by patch_size {patch_size}")
        self.config = config
        self.latent_size, self.in_channels, self.max_frames = latent_size, in_channels, max_frames
        self.patch_size, self.p_uncond, self.text_tokens = patch_size, config.p_uncond, text_tokens
        grid = latent_size // patch_size
        self.tokens_per_frame = grid * grid

        self.x_embedder = nn.Linear(patch_size * patch_size * in_channels, hidden_size)
        self.register_buffer("spatial_pos", sincos_2d(hidden_size, grid, grid), persistent=False)
        self.temporal_pos = nn.Parameter(torch.zeros(max_frames, hidden_size))
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = TextEmbedder(hidden_size, text_dim)
        if text_tokens:  # token states -> the width of the image tokens; dropped texts read one null token
            self.text_token_proj = nn.Sequential(nn.Linear(text_dim, hidden_size), nn.GELU(),
                                                 nn.Linear(hidden_size, hidden_size))
            self.null_text_token = nn.Parameter(torch.zeros(hidden_size))
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio, text_tokens) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, patch_size, in_channels)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.temporal_pos, std=0.02)
        nn.init.normal_(self.y_embedder.null_embedding, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        nn.init.normal_(self.y_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.y_embedder.mlp[2].weight, std=0.02)
        # adaLN-Zero: every block starts as the identity, the output as zero
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
            if self.text_tokens:
                nn.init.zeros_(block.cross_attn.proj.weight)
                nn.init.zeros_(block.cross_attn.proj.bias)
        if self.text_tokens:
            nn.init.normal_(self.null_text_token, std=0.02)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    def embed_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """[B, F, C, H, W] -> [B, F * tokens_per_frame, D] with position embeddings."""
        frames = x.shape[1]
        if frames > self.max_frames:
            raise ValueError(f"{frames} frames given, the model was built for at most {self.max_frames}")
        pos = self.temporal_pos[:frames, None, :] + self.spatial_pos[None]  # F, N, D
        return self.x_embedder(patchify(x, self.patch_size)) + pos.reshape(1, -1, pos.shape[-1])

    def text_token_states(self, text_tokens: torch.Tensor, text_mask: torch.Tensor,
                          drop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, L, 384] states + mask -> [B, L, D] keys for cross-attention; dropped rows see the null token only.
        A sin-cos position embedding is added: MiniLM's states of "red" as the moved block and as the anchor
        are nearly the same, so without it the attention could barely tell "red next to blue" from the reverse."""
        y = self.text_token_proj(text_tokens)
        y = y + torch.from_numpy(sincos_1d(y.shape[-1], np.arange(y.shape[1]))).to(y)
        y = torch.where(drop[:, None, None], self.null_text_token.to(y.dtype).expand_as(y), y)
        only_first = torch.arange(y.shape[1], device=y.device)[None] == 0
        return y, torch.where(drop[:, None], only_first, text_mask)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text_emb: torch.Tensor,
                drop_text: torch.Tensor | None = None, text_tokens: torch.Tensor | None = None,
                text_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, F, C, H, W], t [B] in [0, 1], text_emb [B, 384] -> prediction [B, F, C, H, W]; with
        `text_tokens` (the architecture option) also the token states [B, L, 384] and their mask [B, L].
        drop_text [B] bool uses the null text embedding (and null token) for those rows; if None, in training
        mode each row is dropped with probability p_uncond, in eval mode none is."""
        b, frames, c, h, w = x.shape
        if self.text_tokens and (text_tokens is None or text_mask is None):
            raise ValueError("this DiT cross-attends to the text's token states: give text_tokens and text_mask")
        if drop_text is None:
            drop_text = (torch.rand(b, device=x.device) < self.p_uncond) if self.training else \
                torch.zeros(b, dtype=torch.bool, device=x.device)
        cond = self.t_embedder(t) + self.y_embedder(text_emb, drop_text)
        text, mask = self.text_token_states(text_tokens, text_mask, drop_text) if self.text_tokens else (None, None)
        tokens = self.embed_tokens(x)
        for block in self.blocks:
            tokens = block(tokens, cond, text, mask)
        return unpatchify(self.final_layer(tokens, cond), self.patch_size, c, frames, h, w)

    def forward_with_cfg(self, x: torch.Tensor, t: torch.Tensor, text_emb: torch.Tensor, cfg_scale: float,
                         text_tokens: torch.Tensor | None = None, text_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Classifier-free guidance: uncond + s * (cond - uncond), both halves in one batched pass."""
        b = x.shape[0]
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]).to(x.device)
        twice = (lambda v: None if v is None else torch.cat([v, v]))
        out = self.forward(twice(x), twice(t), twice(text_emb), drop, twice(text_tokens), twice(text_mask))
        cond, uncond = out.chunk(2)
        return uncond + cfg_scale * (cond - uncond)


def build_dit(variant: str | None = None, **overrides) -> VideoDiT:
    """A named variant (DIT_VARIANTS, or an old name; default: DiTConfig's) with any DiTConfig field or
    VideoDiT argument (latent_size, in_channels, max_frames, text_dim) overridden."""
    structural = {k: overrides.pop(k) for k in ("latent_size", "in_channels", "max_frames", "text_dim")
                  if k in overrides}
    config = DiTConfig.from_dict(overrides if variant is None else {**overrides, "variant": variant})
    return VideoDiT(config, **structural)
