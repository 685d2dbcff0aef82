"""One-step action error of an inverse-dynamics model on held-out recorded episodes.

(Closed-loop replay of the expert's future frames needs the simulator, which invdyn/ may not import:
see benchmarks/invdyn_eval.py.)
"""

from __future__ import annotations

import numpy as np
import torch

from invdyn.data import FramePairs


@torch.no_grad()
def action_error(model: torch.nn.Module, pairs: FramePairs, max_windows: int | None = None,
                 batch_size: int = 256) -> dict[str, float]:
    """Errors of the clipped predicted actions against the expert's, over evenly spaced windows of `pairs`:
    per action (masked) MSE and mean absolute error in action units, and per window of k actions the error of
    their sum, the net move between the two frames, per axis (`net_mae`). On the tabletop (2-D pusher actions of
    at most `max_step` metres) both absolute errors also come in metres (`mae_m`, `net_mae_m`). With k > 1 the
    split of a move over its k steps is ambiguous from two frames, so per-action errors have a floor that the
    net move does not."""
    n = len(pairs) if max_windows is None else min(len(pairs), max_windows)
    chosen = np.linspace(0, len(pairs) - 1, n).round().astype(int)
    device = next(model.parameters()).device
    sq, ab, count, net, net_count = 0.0, 0.0, 0, 0.0, 0
    for start in range(0, n, batch_size):
        items = [pairs[int(i)] for i in chosen[start : start + batch_size]]
        frames = torch.from_numpy(np.stack([it["frames"] for it in items])).to(device).float().div_(255)
        target = torch.from_numpy(np.stack([it["actions"] for it in items])).to(device)
        mask = torch.from_numpy(np.stack([it["action_mask"] for it in items])).to(device)
        err = model(frames).float().clamp(-1, 1) - target
        sq += float(err.pow(2)[mask].sum())
        ab += float(err.abs()[mask].sum())
        count += int(mask.sum()) * err.shape[-1]
        full = mask.all(dim=1)  # windows that do not run past their segment's end
        net += float(err[full].sum(dim=1).abs().sum())
        net_count += int(full.sum()) * err.shape[-1]  # one net move per axis of each full window
    mae, net_mae = ab / max(count, 1), net / max(net_count, 1)
    out = {"mse": sq / max(count, 1), "mae": mae, "net_mae": net_mae, "windows": n}
    if pairs.action_dim == 2:  # the tabletop's pusher: an action unit is max_step metres of travel
        max_step = float(pairs.env_config.get("max_step", 0.02))
        out.update(mae_m=mae * max_step, net_mae_m=net_mae * max_step)
    return out
