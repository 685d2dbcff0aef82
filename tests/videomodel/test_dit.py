import pytest
import torch

from videomodel.config import DiTConfig
from videomodel.dit import DIT_VARIANTS, OLD_VARIANT_NAMES, VideoDiT, build_dit, patchify, sincos_2d, unpatchify
from videomodel.objectives import FlowMatching


def tiny_dit(**overrides) -> VideoDiT:
    config = dict(latent_size=4, in_channels=4, max_frames=4, patch_size=2, hidden_size=32, depth=2, num_heads=2,
                  text_tokens=False)
    return VideoDiT(**{**config, **overrides})


def _inputs(b=2, frames=4, c=4, size=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, frames, c, size, size, generator=g), torch.rand(b, generator=g), torch.randn(b, 384, generator=g)


def test_patchify_unpatchify_are_exact_inverses():
    x = torch.randn(2, 8, 4, 16, 16)
    tokens = patchify(x, 2)
    assert tokens.shape == (2, 8 * 64, 16)  # 64 tokens per frame, 512 per clip
    assert torch.equal(unpatchify(tokens, 2, 4, 8, 16, 16), x)
    t = torch.randn(3, 5 * 16, 4 * 4 * 2)
    assert torch.equal(patchify(unpatchify(t, 4, 2, 5, 16, 16), 4), t)


def test_patchify_orders_tokens_frame_major_and_keeps_patches_local():
    x = torch.zeros(1, 3, 4, 8, 8)
    x[0, 1, :, 2:4, 4:6] = 1.0  # frame 1, patch row 1, patch column 2 (p=2, 4x4 grid)
    tokens = patchify(x, 2)
    hot = tokens.abs().sum(-1).nonzero()[:, 1].tolist()
    assert hot == [1 * 16 + 1 * 4 + 2]
    assert torch.all(tokens[0, hot[0]] == 1.0)


def test_shapes_and_fewer_frames_than_max():
    model = tiny_dit()
    x, t, y = _inputs(frames=4)
    assert model(x, t, y).shape == x.shape
    assert model(x[:, :2], t, y).shape == x[:, :2].shape
    with pytest.raises(ValueError):
        model(torch.randn(1, 5, 4, 4, 4), t[:1], y[:1])


def test_adaln_zero_blocks_are_identity_and_output_is_zero_at_init():
    model = tiny_dit()
    x, t, y = _inputs()
    with torch.no_grad():
        c = model.t_embedder(t) + model.y_embedder(y, torch.zeros(2, dtype=torch.bool))
        tokens = model.embed_tokens(x)
        for block in model.blocks:
            assert torch.equal(block(tokens, c), tokens)
        assert torch.count_nonzero(model.final_layer(tokens, c)) == 0
        assert torch.count_nonzero(model(x, t, y)) == 0


def test_every_parameter_gets_a_gradient_even_without_dropped_text():
    """DDP fails on parameters left out of the graph; the null embedding must take part every step."""
    model = tiny_dit(p_uncond=0.0)
    # move off the adaLN-Zero init so gradients reach every layer
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    x, t, y = _inputs()
    model(x, t, y).pow(2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []


def _perturbed(model: VideoDiT) -> VideoDiT:
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def test_cfg_scale_one_equals_the_conditional_output_and_scale_s_extrapolates():
    model = _perturbed(tiny_dit())
    x, t, y = _inputs()
    with torch.no_grad():
        cond = model(x, t, y)
        uncond = model(x, t, y, drop_text=torch.ones(2, dtype=torch.bool))
        assert not torch.allclose(cond, uncond)
        assert torch.allclose(model.forward_with_cfg(x, t, y, 1.0), cond, atol=1e-5)
        assert torch.allclose(model.forward_with_cfg(x, t, y, 3.0), uncond + 3.0 * (cond - uncond), atol=1e-5)


def test_dropped_text_ignores_the_text_embedding():
    model = _perturbed(tiny_dit())
    x, t, y = _inputs()
    drop = torch.ones(2, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(model(x, t, y, drop_text=drop), model(x, t, torch.randn_like(y), drop_text=drop))
        assert not torch.allclose(model(x, t, y), model(x, t, torch.randn_like(y)))


def test_spatial_position_embedding_is_distinct_per_patch():
    pos = sincos_2d(32, 4, 4)
    assert pos.shape == (16, 32)
    assert torch.cdist(pos, pos).add(torch.eye(16) * 10).min() > 0.1


def test_variant_sizes():
    def count(variant):
        return sum(p.numel() for p in build_dit(variant).parameters())

    plain = {"text_tokens": False}  # the sizes without cross-attention to the text's tokens
    assert 2.0e6 < sum(p.numel() for p in build_dit("h192-d4", **plain).parameters()) < 3.2e6
    assert 7.5e6 < sum(p.numel() for p in build_dit("h256-d8", **plain).parameters()) < 9.5e6
    assert set(DIT_VARIANTS) >= {"h192-d4", "h256-d8", "h384-d12"}
    with pytest.raises(ValueError):
        build_dit("DiT-XXL")


def test_variant_names_are_not_the_dit_papers_and_old_names_still_build_the_same_sizes():
    # DiT's own table (Peebles & Xie): S 384/12/6, B 768/12/12, L 1024/24/16, XL 1152/28/16; our names are our own
    dit_paper = {"S": (384, 12, 6), "B": (768, 12, 12), "L": (1024, 24, 16), "XL": (1152, 28, 16)}
    for name in DIT_VARIANTS:
        assert not name.startswith("DiT-")
    assert (DIT_VARIANTS["h384-d12"]["hidden_size"], DIT_VARIANTS["h384-d12"]["depth"],
            DIT_VARIANTS["h384-d12"]["num_heads"]) == dit_paper["S"]
    # names saved before the rename (the shipped checkpoints say "DiT-XS") build the same network
    for old, new in OLD_VARIANT_NAMES.items():
        assert DiTConfig(variant=old).dims() == DiTConfig(variant=new).dims() == DIT_VARIANTS[new]
    assert DiTConfig(variant="DiT-XS").architecture() == DiTConfig().architecture()
    small = dict(latent_size=4, max_frames=2, depth=1, text_tokens=False)
    assert build_dit("DiT-XS", **small).state_dict().keys() == build_dit("h192-d4", **small).state_dict().keys()
    assert DiTConfig(variant="DiT-XS").to_dict()["variant"] == "DiT-XS"  # saved as given: resumes unchanged


def test_a_tiny_dit_overfits_one_clip():
    torch.manual_seed(0)
    model = tiny_dit(p_uncond=0.0, hidden_size=64)
    objective = FlowMatching()
    clip = torch.randn(1, 4, 4, 4, 4).expand(8, -1, -1, -1, -1)
    text = torch.randn(1, 384).expand(8, -1)

    def held_out_loss():
        # the same t / noise every time, so the comparison is not luck
        state = torch.random.get_rng_state()
        torch.manual_seed(123)
        with torch.no_grad():
            loss = sum(float(objective.loss(lambda x, t: model(x, t, text), clip, 1)) for _ in range(8)) / 8
        torch.random.set_rng_state(state)
        return loss

    before = held_out_loss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(200):
        loss = objective.loss(lambda x, t: model(x, t, text), clip, 1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = held_out_loss()
    assert after < before / 5, (before, after)


def _tokens(b=2, length=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(length)[None] < torch.tensor([length, length - 2])[:b, None]
    return torch.randn(b, length, 384, generator=g) * mask[..., None], mask


def test_text_token_cross_attention_starts_as_the_identity_and_reads_the_tokens():
    plain = _perturbed(tiny_dit())
    crossed = tiny_dit(text_tokens=True)
    missing, unexpected = crossed.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all("cross" in k or "text_token" in k for k in missing)
    crossed.eval()
    x, t, y = _inputs()
    tokens, mask = _tokens()
    with torch.no_grad():
        # zero-initialised output projections: adding cross-attention to a trained DiT changes nothing yet
        assert torch.allclose(crossed(x, t, y, text_tokens=tokens, text_mask=mask), plain(x, t, y), atol=1e-6)
        _perturbed(crossed)
        out = crossed(x, t, y, text_tokens=tokens, text_mask=mask)
        # the same pooled embedding with other token states gives another prediction, and so do the same
        # states in another order (the text tokens carry positions: "red next to blue" is not the reverse)
        assert not torch.allclose(out, crossed(x, t, y, text_tokens=torch.randn_like(tokens), text_mask=mask))
        order = torch.tensor([0, 2, 1, 3, 4])
        assert not torch.allclose(out[:1], crossed(x[:1], t[:1], y[:1], text_tokens=tokens[:1, order], text_mask=mask[:1]))
        # padding is masked out; a dropped text (CFG's unconditional half) reads neither its tokens nor its embedding
        padded = tokens.clone()
        padded[1, 3:] = 7.0
        assert torch.allclose(out, crossed(x, t, y, text_tokens=padded, text_mask=mask), atol=1e-5)
        drop = torch.ones(2, dtype=torch.bool)
        assert torch.equal(crossed(x, t, y, drop, tokens, mask), crossed(x, t, torch.randn_like(y), drop,
                                                                         torch.randn_like(tokens), mask))
        cond, uncond = out, crossed(x, t, y, drop, tokens, mask)
        assert torch.allclose(crossed.forward_with_cfg(x, t, y, 3.0, tokens, mask), uncond + 3.0 * (cond - uncond),
                              atol=1e-5)
    with pytest.raises(ValueError, match="text_tokens"):
        crossed(x, t, y)


def test_every_cross_attention_parameter_gets_a_gradient():
    model = tiny_dit(p_uncond=0.0, text_tokens=True)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    x, t, y = _inputs()
    tokens, mask = _tokens()
    model(x, t, y, text_tokens=tokens, text_mask=mask).pow(2).mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
