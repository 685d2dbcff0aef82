import pytest
import torch

from videomodel.objectives import EpsilonDiffusion, FlowMatching, build_objective
from videomodel.samplers import DDIMSampler, EulerSampler, HeunSampler, build_sampler, flow_timesteps

SHAPE = (4, 3, 2, 4, 4)  # B, T, C, h, w of the generated part
CONTEXT = torch.linspace(-2, 2, 4 * 1 * 2 * 4 * 4).reshape(4, 1, 2, 4, 4)


def gaussian_velocity(mu: float, s: float):
    """Exact flow-matching velocity E[noise - x0 | x_t] when every x0 element ~ N(mu, s^2) and noise ~ N(0, 1).
    Its ODE carries noise z to mu + s z; with s = 0 (data = one point) the field is (x - mu) / t."""

    def model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.view(-1, 1, 1, 1, 1).double()
        var = (1 - t) ** 2 * s**2 + t**2
        return ((t - (1 - t) * s**2) / var * (x.double() - (1 - t) * mu) - mu).float()

    return model_fn


def gaussian_epsilon(schedule: EpsilonDiffusion, mu: float, s: float):
    """Exact E[noise | x_t] for x_t = sqrt(a) x0 + sqrt(1 - a) noise, x0 ~ N(mu, s^2)."""

    def model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = schedule.alpha_bar(t).view(-1, 1, 1, 1, 1).double()
        return ((1 - a).sqrt() / (a * s**2 + 1 - a) * (x.double() - a.sqrt() * mu)).float()

    return model_fn


def _noise(seed: int = 0) -> torch.Tensor:
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed))


def test_euler_reaches_a_point_target_exactly():
    out = EulerSampler(steps=4).sample(gaussian_velocity(mu=0.7, s=0.0), CONTEXT, _noise())
    assert out.shape == (4, 4, 2, 4, 4)
    assert torch.allclose(out[:, 1:], torch.full(SHAPE, 0.7), atol=1e-5)


def test_heun_is_more_accurate_than_euler_with_the_same_steps():
    mu, s = 0.5, 0.5  # a curved field: the variance shrinks from 1 to 0.25 along the path
    noise = _noise()
    target = mu + s * noise

    def error(sampler) -> float:
        return float((sampler.sample(gaussian_velocity(mu, s), CONTEXT, noise)[:, 1:] - target).abs().max())

    euler_8, heun_8, heun_16 = error(EulerSampler(steps=8)), error(HeunSampler(steps=8)), error(HeunSampler(steps=16))
    assert euler_8 < 0.5
    assert heun_8 < euler_8 / 4, (euler_8, heun_8)
    assert heun_16 < heun_8 / 3  # second order
    assert error(EulerSampler(steps=256)) < 2e-2


def test_ddim_reaches_a_point_target_and_converges_on_a_gaussian():
    schedule = EpsilonDiffusion()
    out = DDIMSampler(schedule, steps=5).sample(gaussian_epsilon(schedule, mu=-0.4, s=0.0), CONTEXT, _noise())
    assert torch.allclose(out[:, 1:], torch.full(SHAPE, -0.4), atol=1e-4)
    mu, s = 0.5, 0.3
    noise = _noise(1)
    # x at t = 1 is read as alpha_bar = min_alpha_bar (not exactly 0): the exact map from there
    a1 = schedule.min_alpha_bar
    target = mu + s * (noise - a1**0.5 * mu) / (a1 * s**2 + 1 - a1) ** 0.5
    coarse = DDIMSampler(schedule, steps=10).sample(gaussian_epsilon(schedule, mu, s), CONTEXT, noise)[:, 1:]
    fine = DDIMSampler(schedule, steps=200).sample(gaussian_epsilon(schedule, mu, s), CONTEXT, noise)[:, 1:]
    assert (fine - target).abs().max() < 2e-2
    assert (fine - target).abs().max() < (coarse - target).abs().max()


@pytest.mark.parametrize("sampler", [EulerSampler(steps=3), HeunSampler(steps=3), DDIMSampler(EpsilonDiffusion(), steps=3)])
def test_context_frames_are_given_to_every_call_and_returned_unchanged(sampler):
    seen = []

    def scrambling_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(torch.equal(x[:, :1], CONTEXT))
        return 3.0 * torch.randn_like(x) + 5.0

    out = sampler.sample(scrambling_model, CONTEXT, _noise())
    assert torch.equal(out[:, :1], CONTEXT)
    assert len(seen) == sampler.function_evaluations and all(seen)


def test_flow_timesteps():
    t = flow_timesteps(8)
    assert t[0] == 1.0 and t[-1] == 0.0 and torch.all(t[1:] < t[:-1])
    shifted = flow_timesteps(8, shift=3.0)
    assert shifted[0] == 1.0 and shifted[-1] == 0.0 and torch.all(shifted[1:-1] > t[1:-1])


def test_flow_matching_loss_is_zero_for_the_exact_velocity_and_ignores_context_predictions():
    torch.manual_seed(0)
    x0 = torch.randn(6, 4, 2, 4, 4)
    objective = FlowMatching()

    def exact(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v = (x - x0) / t.view(-1, 1, 1, 1, 1)  # noise - x0, recovered from x_t
        v[:, :1] = 1e6  # whatever it says about the given frame must not count
        return v

    assert objective.loss(exact, x0, num_context=1) < 1e-8
    assert objective.loss(lambda x, t: torch.zeros_like(x), x0, 1) > 0.5
    assert torch.equal(FlowMatching.interpolate(x0, x0 + 1, torch.zeros(6)), x0)
    assert torch.equal(FlowMatching.interpolate(x0, x0 + 1, torch.ones(6)), x0 + 1)


def test_epsilon_loss_is_zero_for_the_exact_noise():
    torch.manual_seed(0)
    x0 = torch.randn(6, 4, 2, 4, 4).double()
    objective = EpsilonDiffusion()

    def exact(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = objective.alpha_bar(t).double().view(-1, 1, 1, 1, 1)
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        eps[:, :1] = 1e6
        return eps

    assert objective.loss(exact, x0, num_context=1) < 1e-6
    a = objective.alpha_bar(torch.linspace(0, 1, 11))
    assert a[0] == pytest.approx(1.0) and a[-1] == pytest.approx(objective.min_alpha_bar)
    assert torch.all(a[1:] < a[:-1])


def test_time_sampling():
    torch.manual_seed(0)
    t = FlowMatching("logit_normal").sample_t(10_000)
    assert 0 < t.min() and t.max() < 1 and abs(float(t.mean()) - 0.5) < 0.02
    assert float(((t > 0.3) & (t < 0.7)).float().mean()) > 0.45  # concentrated mid-path (uniform: 0.4)
    u = FlowMatching("uniform").sample_t(10_000)
    assert abs(float(((u > 0.3) & (u < 0.7)).float().mean()) - 0.4) < 0.03


def test_builders_check_sampler_objective_pairs():
    flow, eps = build_objective({"name": "flow_matching"}), build_objective({"name": "ddpm_eps"})
    assert isinstance(build_sampler({"name": "heun", "steps": 4}, flow), HeunSampler)
    assert isinstance(build_sampler({"name": "ddim", "steps": 4}, eps), DDIMSampler)
    with pytest.raises(ValueError):
        build_sampler({"name": "euler"}, eps)
    with pytest.raises(ValueError):
        build_sampler({"name": "ddim"}, flow)
    with pytest.raises(ValueError):
        build_objective({"name": "edm"})
