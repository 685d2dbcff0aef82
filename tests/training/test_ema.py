import pytest
import torch

from training.ema import EMA


def test_ema_warms_up_then_holds_its_decay():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = EMA(model, decay=0.999)
    assert ema.decay_at(0) == pytest.approx(0.1) and ema.decay_at(90) == pytest.approx(0.91)
    assert ema.decay_at(10**6) == 0.999
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, step=0)  # the first update takes 90 % of the new weights, not 0.1 %
    assert ema.state_dict(model)["weight"].item() == pytest.approx(0.9)
    for step in range(1, 100):
        ema.update(model, step)
    assert ema.state_dict(model)["weight"].item() > 0.999  # a short run's average sits near its latest weights
