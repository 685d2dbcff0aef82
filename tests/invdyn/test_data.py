"""Training pairs and augmentation on real recorded episodes."""

import numpy as np
import pytest
import torch

from invdyn.augment import Augment
from invdyn.data import FramePairs
from invdyn.train import masked_action_loss
from sim.dataset import WindowDataset


@pytest.mark.parametrize("stride", [1, 4])
def test_pairs_are_the_window_dataset_windows(episodes_dir, stride):
    pairs, windows = FramePairs(episodes_dir, stride=stride), WindowDataset(episodes_dir, horizon=1, stride=stride)
    assert len(pairs) == len(windows)
    for i in list(range(0, len(pairs), 7)) + [len(pairs) - 1]:
        p, w = pairs[i], windows[i]
        np.testing.assert_array_equal(p["frames"], w["frames"])
        np.testing.assert_array_equal(p["actions"], w["actions"][0])
        np.testing.assert_array_equal(p["action_mask"], w["action_mask"][0])


def test_context_frames_come_before_the_pair(episodes_dir):
    pairs, plain = FramePairs(episodes_dir, stride=2, context=2), FramePairs(episodes_dir, stride=2)
    windows = WindowDataset(episodes_dir, horizon=1, stride=2)
    i = next(i for i in range(len(pairs)) if windows[i]["t"] >= 4)
    ep = windows.store.episode(windows[i]["episode"])
    t = windows[i]["t"]
    np.testing.assert_array_equal(pairs[i]["frames"][:2], ep["frames"][[t - 4, t - 2]])
    np.testing.assert_array_equal(pairs[i]["frames"][2:], plain[i]["frames"])
    first = pairs[0]["frames"]  # episode start: the first frame stands in for the missing earlier ones
    np.testing.assert_array_equal(first[0], first[2])


def test_loss_ignores_masked_steps():
    class Constant(torch.nn.Module):
        def forward(self, frames):
            return torch.zeros(len(frames), 2, 2)

    batch = {"frames": torch.zeros(1, 2, 8, 8, 3, dtype=torch.uint8), "actions": torch.tensor([[[0.5, 0.5], [9.0, 9.0]]]),
             "action_mask": torch.tensor([[True, False]])}
    loss, _ = masked_action_loss(Constant(), batch)
    assert loss.item() == pytest.approx(0.25)


def test_augmentation_moves_all_frames_of_a_sample_together():
    torch.manual_seed(0)
    still = torch.rand(4, 1, 32, 32, 3).expand(4, 3, 32, 32, 3)  # three identical frames per sample
    out = Augment(shift=3, brightness=0.2, contrast=0.2, blur_prob=0, noise=0)(still)
    assert out.shape == still.shape and 0 <= out.min() and out.max() <= 1
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])  # no fake motion
    assert not torch.equal(out, still)
    blurred = Augment(shift=0, brightness=0, contrast=0, blur_prob=1.0, blur_sigma=1.0, noise=0)(still)
    assert blurred[:, :, 1:-1, 1:-1].std() < still[:, :, 1:-1, 1:-1].std()


def test_reversed_pairs_swap_frames_and_negate_reversed_actions():
    from invdyn.train import reverse_pairs

    frames = torch.arange(2).view(1, 2, 1, 1, 1).expand(2, 2, 4, 4, 3)
    batch = {"frames": frames, "actions": torch.tensor([[[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]]] * 2),
             "action_mask": torch.tensor([[True, True, False]] * 2)}
    out = reverse_pairs(batch, prob=1.0)
    assert out["frames"][:, 0].eq(1).all() and out["frames"][:, 1].eq(0).all()
    assert out["actions"][0].tolist() == [[0.0, 0.0], [-2.0, 0.0], [-1.0, 0.0]]
    assert out["action_mask"][0].tolist() == [False, True, True]
    assert reverse_pairs(batch, prob=0.0) is batch
