"""The inverse-dynamics CNN: shapes, the protocol, checkpoints."""

from pathlib import Path

import numpy as np
import pytest
import torch

from invdyn.model import InverseDynamicsCNN
from training import CheckpointError


def tiny(**kw):
    torch.manual_seed(0)
    return InverseDynamicsCNN(**{"frame_stride": 4, "image_size": 32, "width": 4, "hidden": 16, **kw})


def frames(n, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize("stride,context", [(1, 0), (4, 0), (4, 2)])
def test_actions_gives_stride_actions_per_pair(stride, context):
    model = tiny(frame_stride=stride, context=context)
    out = model.actions(frames(4))
    assert out.shape == (3 * stride, 2) and out.dtype == np.float32
    assert np.all(np.abs(out) <= 1)
    assert model(torch.rand(5, context + 2, 32, 32, 3)).shape == (5, stride, 2)


def test_action_dim_is_configurable_and_saved(tmp_path):
    model = tiny(action_dim=4)  # Meta-World: xyz displacement + gripper
    assert model.actions(frames(3)).shape == (2 * 4, 4)
    model.save(tmp_path / "m")
    assert InverseDynamicsCNN.from_pretrained(tmp_path / "m").action_dim == 4
    with pytest.raises(ValueError, match="action_dim=0"):
        tiny(action_dim=0)


def test_pairs_get_earlier_frames_repeating_the_first():
    model = tiny(context=2)
    f = frames(4)
    pairs = model.pair_inputs(f)
    assert pairs.shape == (3, 4, 32, 32, 3)
    np.testing.assert_array_equal(pairs[0], f[[0, 0, 0, 1]])
    np.testing.assert_array_equal(pairs[2], f[[0, 1, 2, 3]])


def test_actions_rejects_frames_of_the_wrong_size():
    with pytest.raises(ValueError, match="32x32"):
        tiny().actions(frames(3, size=64))
    with pytest.raises(ValueError, match="N >= 1"):
        tiny().actions(frames(1))


def test_save_then_load_gives_identical_actions(tmp_path):
    model = tiny(context=1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # not the init a fresh model would get
    model.save(tmp_path / "m")
    loaded = InverseDynamicsCNN.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    f = frames(6)
    np.testing.assert_array_equal(loaded.actions(f), model.actions(f))


def test_missing_or_corrupt_checkpoint_is_a_one_line_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        InverseDynamicsCNN.from_pretrained(tmp_path / "nothing")
    tiny().save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError) as e:
        InverseDynamicsCNN.from_pretrained(tmp_path / "m")
    assert "model.safetensors" in str(e.value) and "\n" not in str(e.value)


def test_weights_of_another_architecture_are_refused(tmp_path):
    tiny(width=4).save(tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    config.write_text(config.read_text().replace('"width": 4', '"width": 8'))
    with pytest.raises(CheckpointError, match="do not fit"):
        InverseDynamicsCNN.from_pretrained(tmp_path / "m")


def test_pretrained_config_loads_a_checkpoint_for_the_agent(tmp_path):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    import configs

    model = tiny()
    model.save(tmp_path / "m")
    cfg = OmegaConf.load(Path(configs.__file__).parent / "invdyn" / "cnn_pretrained.yaml")
    cfg.path = str(tmp_path / "m")
    loaded = instantiate(cfg)
    assert loaded.frame_stride == 4
    np.testing.assert_array_equal(loaded.actions(frames(3)), model.actions(frames(3)))


def test_the_config_defaults_are_what_configs_ships_and_old_config_json_files_load():
    from omegaconf import OmegaConf

    from invdyn.model import InverseDynamicsConfig

    root = Path(__file__).resolve().parents[2]
    shipped = OmegaConf.to_container(OmegaConf.load(root / "configs" / "invdyn" / "cnn.yaml"))
    assert InverseDynamicsConfig().to_dict() == {k: v for k, v in shipped.items() if not k.startswith("_")}
    assert InverseDynamicsCNN().config == InverseDynamicsConfig()
    assert InverseDynamicsCNN(InverseDynamicsConfig(width=4, image_size=32)).config.width == 4
    with pytest.raises(ValueError, match="unknown InverseDynamicsConfig"):
        InverseDynamicsCNN(widht=4)
    with pytest.raises(ValueError, match="bad inverse-dynamics config"):
        InverseDynamicsConfig(image_size=40)
    for name, action_dim in (("invdyn-k4", 2), ("metaworld-invdyn-k8", 4)):  # k4's config.json has no action_dim
        model = InverseDynamicsCNN.from_pretrained(root / "checkpoints" / name)
        assert model.action_dim == action_dim and model.config.to_dict()["action_dim"] == action_dim
