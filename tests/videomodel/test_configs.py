import json
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from videomodel.config import AutoencoderConfig, ObjectiveConfig, SamplerConfig, WorldModelConfig
from videomodel.world_model import DiTWorldModel

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "videomodel"
ROOT = CONFIGS.parents[1]


def _yaml(path: Path, key: str | None = None) -> dict:
    cfg = OmegaConf.to_container(OmegaConf.load(path))
    cfg = cfg[key] if key else cfg
    return {k: v for k, v in cfg.items() if not k.startswith("_")}


def test_the_config_dataclasses_default_to_what_configs_ships():
    shipped = _yaml(CONFIGS / "dit.yaml")
    assert WorldModelConfig().to_dict() == shipped
    assert WorldModelConfig.from_dict(shipped) == WorldModelConfig()
    assert AutoencoderConfig().to_dict() == _yaml(ROOT / "configs" / "train" / "autoencoder.yaml", "model")
    pretrained = _yaml(CONFIGS / "dit_pretrained.yaml")
    assert SamplerConfig().to_dict() == pretrained["sampler"]
    assert {k: getattr(WorldModelConfig(), k) for k in ("cfg_scale", "inference_dtype", "horizon", "frame_stride")} == \
        {k: pretrained[k] for k in ("cfg_scale", "inference_dtype", "horizon", "frame_stride")}


def test_configs_refuse_unknown_or_misplaced_options():
    with pytest.raises(ValueError, match="unknown WorldModelConfig"):
        WorldModelConfig.from_dict({"horizom": 4})
    with pytest.raises(ValueError, match="unknown DiT variant"):
        WorldModelConfig.from_dict({"dit": {"variant": "DiT-XXL"}})
    with pytest.raises(ValueError, match="takes no time_sampling"):
        ObjectiveConfig(name="ddpm_eps", time_sampling="uniform")
    assert ObjectiveConfig(name="ddpm_eps").to_dict() == {"name": "ddpm_eps", "foreground_weight": 8.0}
    assert SamplerConfig(name="ddim").steps == 10 and SamplerConfig(name="heun").steps == 8
    with pytest.raises(ValueError, match="horizon"):
        DiTWorldModel(horizon=0)


@pytest.mark.parametrize("checkpoint", ["videomodel", "metaworld-videomodel"])
def test_the_shipped_config_json_files_read_back_as_they_are(checkpoint):
    saved = json.loads((ROOT / "checkpoints" / checkpoint / "config.json").read_text())["model"]
    config = WorldModelConfig.from_dict(saved, saved=True)
    assert config.dit.variant == "DiT-XS" and config.dit.dims()["hidden_size"] == 192  # the old name of h192-d4
    # keys a file from before an option existed lacks mean what the code then did, not today's defaults
    assert {k: v for k, v in config.to_dict().items() if k in saved} == \
        {k: v if k != "dit" else {**v, "text_tokens": config.dit.text_tokens} for k, v in saved.items()}
    if "predict_change" not in saved:
        assert not config.predict_change and not config.dit.text_tokens


def test_a_config_json_from_before_the_config_dataclasses_loads_with_the_old_meaning(tmp_path, tiny_world_config,
                                                                                       hash_text_encoder):
    DiTWorldModel(**tiny_world_config, text_encoder=hash_text_encoder).save(tmp_path / "wm")
    path = tmp_path / "wm" / "config.json"
    saved = json.loads(path.read_text())
    for key in ("predict_change", "cfg_scale"):
        saved["model"].pop(key)
    saved["model"]["dit"].pop("text_tokens")
    saved["model"]["dit"]["variant"] = "DiT-XS"
    saved["model"]["objective"] = {"name": "flow_matching"}
    path.write_text(json.dumps(saved))
    model = DiTWorldModel.from_pretrained(tmp_path / "wm", text_encoder=hash_text_encoder)
    assert not model.predict_change and not model.dit.text_tokens and model.objective.foreground_weight == 1.0
    assert model.cfg_scale == 2.0 and model.config.dit.variant == "DiT-XS"


def test_the_architecture_config_builds_h192_d4_with_text_tokens_on_320_tokens(hash_text_encoder):
    cfg = OmegaConf.load(CONFIGS / "dit.yaml")
    model = instantiate(cfg, text_encoder=hash_text_encoder)
    assert isinstance(model, DiTWorldModel) and model.frame_stride == cfg.frame_stride
    assert model.dit.max_frames * model.dit.tokens_per_frame == 320
    assert model.predict_change and model.dit.text_tokens
    assert 3.4e6 < sum(p.numel() for p in model.dit.parameters()) < 3.9e6  # h192-d4 2.9 M + cross-attention 0.7 M
    assert model.config.to_dict()["autoencoder"]["channels"] == [16, 32, 64]  # plain lists: JSON-serialisable


def test_the_pretrained_config_loads_a_saved_model(tmp_path, tiny_world_config, hash_text_encoder):
    DiTWorldModel(**tiny_world_config, text_encoder=hash_text_encoder).save(tmp_path / "wm")
    cfg = OmegaConf.load(CONFIGS / "dit_pretrained.yaml")
    cfg.path, cfg.horizon = str(tmp_path / "wm"), 3
    cfg.sampler.steps = 2
    model = instantiate(cfg, text_encoder=hash_text_encoder)
    assert model.sampler.steps == 2 and model.cfg_scale == cfg.cfg_scale and model.horizon == 3
