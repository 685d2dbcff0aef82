import numpy as np

from dreamplan.episode import play
import torch

from dreamplan.bc import BCAgent, BCPolicy, BCWindows, bc_loss
from sim.env import TabletopEnv
from sim.record import run_expert_episode
from sim.dataset import ShardWriter


class _HashText:
    """A deterministic stand-in sentence embedding (the real MiniLM encoder is tested in tests/videomodel)."""

    dim = 384

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            out[i, [hash(w) % self.dim for w in t.split()]] = 1.0
        return out


def _record(tmp_path, n=3):
    env = TabletopEnv()
    with ShardWriter(tmp_path / "shard-00000.h5", {"image_size": 64}) as w:
        for seed in range(n):
            w.add(**run_expert_episode(env, seed, "push_to_center"))
    env.close()
    return tmp_path


def test_windows_and_a_short_fit(tmp_path):
    data = BCWindows(_record(tmp_path), chunk=4, embed=_HashText().embed)
    item = data[len(data) - 1]  # the last step: three of its four actions lie past the episode's end
    assert item["frames"].shape == (2, 64, 64, 3) and item["actions"].shape == (4, 2)
    assert item["action_mask"].tolist() == [True, False, False, False]
    torch.manual_seed(0)
    model = BCPolicy(chunk=4, width=8, hidden=64)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    batch = {k: torch.as_tensor(np.stack([data[i][k] for i in range(0, len(data), 5)])) for k in data[0]}
    first = bc_loss(model, batch)[0].item()
    for _ in range(60):
        loss = bc_loss(model, batch)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 3


def test_agent_acts_and_the_policy_round_trips(tmp_path):
    torch.manual_seed(0)
    model = BCPolicy(chunk=4, width=8, hidden=64)
    loaded = BCPolicy.from_pretrained(model.save(tmp_path / "bc"))
    prev = np.zeros((64, 64, 3), np.uint8)
    cur = np.full((64, 64, 3), 90, np.uint8)
    text = _HashText().embed(["push the red cube to the center"])[0]
    np.testing.assert_array_equal(model.act(prev, cur, text), loaded.act(prev, cur, text))
    env = TabletopEnv()
    ep = play(env, BCAgent(loaded, _HashText()), 1_000_000, {"task": "push_to_center"})[0]
    assert not ep.success and ep.steps == env.step_budget and len(ep.frames) == ep.steps + 1
    assert all(np.all(np.abs(a) <= 1) for a in ep.actions)
    env.close()


def test_the_policy_config_defaults_are_what_configs_ships_and_the_shipped_policy_loads():
    from pathlib import Path

    from omegaconf import OmegaConf

    from dreamplan.bc import BCPolicyConfig

    root = Path(__file__).resolve().parents[2]
    shipped = OmegaConf.to_container(OmegaConf.load(root / "configs" / "train" / "bc.yaml"))["model"]
    assert BCPolicyConfig().to_dict() == {k: v for k, v in shipped.items() if not k.startswith("_")} | {"text_dim": 384}
    policy = BCPolicy.from_pretrained(root / "checkpoints" / "bc")
    assert policy.config == BCPolicyConfig()
    assert BCPolicy(BCPolicyConfig(width=8)).config.width == 8
