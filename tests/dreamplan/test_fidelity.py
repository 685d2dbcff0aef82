import numpy as np

from invdyn.pusher_tracker import PusherTracker
from dreamplan.fidelity import FidelityCase, measure
from videomodel.fidelity import physics_violations, psnr, ssim
from sim.oracles import SimulatorOracle
from sim.detector import world_to_pixel
from sim.env import TabletopEnv


def _clip(env, steps=12, action=(0.0, 0.0)):
    frames = [env.camera_image()]
    for _ in range(steps):
        frames.append(env.step(action)[0]["image"])
    return np.stack(frames)


def test_psnr_and_ssim():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert psnr(a, a) == float("inf") and abs(ssim(a, a) - 1.0) < 1e-9
    noisy = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    noisier = np.clip(a + rng.normal(0, 60, a.shape), 0, 255).astype(np.uint8)
    assert psnr(a, noisy) > psnr(a, noisier) and ssim(a, noisy) > ssim(a, noisier)


def test_physics_violations_of_edited_clips():
    env = TabletopEnv()
    env.reset(seed=1, options={"task": "push_to_corner"})
    clip = _clip(env)
    assert physics_violations(clip) == {"permanence": 0, "moved_without_contact": 0, "interpenetration": 0}
    block, xy = max(env.block_positions().items(), key=lambda kv: np.linalg.norm(kv[1] - env.pusher_position()))
    c, r = np.round(world_to_pixel(xy, 0.06, 64)).astype(int)
    patch = clip[0, r - 5 : r + 6, c - 5 : c + 6].copy()
    vanished = clip.copy()
    vanished[5:, r - 5 : r + 6, c - 5 : c + 6] = clip[0, 2, 32]  # paint the block over with the table's color
    assert physics_violations(vanished)["permanence"] == len(clip) - 5
    teleported = vanished.copy()
    dc = 11 if c < 32 else -11  # jump 11 px towards the middle of the table, with nothing touching it
    teleported[5:, r - 5 : r + 6, c - 5 + dc : c + 6 + dc] = patch
    assert physics_violations(teleported)["moved_without_contact"] == 1
    env.close()


def test_oracle_imagination_is_nearly_perfect():
    env = TabletopEnv()
    rec = measure(env, SimulatorOracle(), PusherTracker(), FidelityCase("push_next_to", 1_000_001, 0))
    assert np.mean(rec["psnr"]) > 25 and np.mean(rec["ssim"]) > 0.9
    assert rec["block_error_m"] < 0.02
    assert sum(rec["violations"].values()) == 0
    env.close()
