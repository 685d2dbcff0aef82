from pathlib import Path

from hydra.utils import instantiate
from omegaconf import OmegaConf

from videomodel.world_model import DiTWorldModel

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "videomodel"


def test_the_architecture_config_builds_dit_xs_with_text_tokens_on_320_tokens(hash_text_encoder):
    cfg = OmegaConf.load(CONFIGS / "dit.yaml")
    model = instantiate(cfg, text_encoder=hash_text_encoder)
    assert isinstance(model, DiTWorldModel) and model.frame_stride == cfg.frame_stride
    assert model.dit.max_frames * model.dit.tokens_per_frame == 320
    assert model.predict_change and model.dit.text_tokens
    assert 3.4e6 < sum(p.numel() for p in model.dit.parameters()) < 3.9e6  # DiT-XS 2.9 M + cross-attention 0.7 M
    assert model.config["autoencoder"]["channels"] == [16, 32, 64]  # plain lists: JSON-serialisable


def test_the_pretrained_config_loads_a_saved_model(tmp_path, tiny_world_config, hash_text_encoder):
    DiTWorldModel(**tiny_world_config, text_encoder=hash_text_encoder).save(tmp_path / "wm")
    cfg = OmegaConf.load(CONFIGS / "dit_pretrained.yaml")
    cfg.path, cfg.horizon = str(tmp_path / "wm"), 3
    cfg.sampler.steps = 2
    model = instantiate(cfg, text_encoder=hash_text_encoder)
    assert model.sampler.steps == 2 and model.cfg_scale == cfg.cfg_scale and model.horizon == 3
