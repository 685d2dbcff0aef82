"""Distilling a world model into a one-evaluation student (videomodel.distill, `dreamplan train distill`) on real
tiny episodes and a tiny teacher."""

import json

import pytest
import torch

from dreamplan.cli import main
from videomodel.data import LatentClips
from videomodel.distill import imagine_pairs
from videomodel.objectives import FlowMatching
from videomodel.world_model import DiTWorldModel

from .conftest import TINY_WORLD


def _teacher(seed, text_encoder):
    torch.manual_seed(seed)
    teacher = DiTWorldModel(**TINY_WORLD, text_encoder=text_encoder).eval()
    # not the zero init of a fresh DiT (identity blocks, zero output): a network whose sampling paths curve
    for name, weight in teacher.dit.named_parameters():
        if "adaLN_modulation" in name or "final_layer.linear" in name:
            torch.nn.init.normal_(weight, std=0.3)
    return teacher


def test_given_noise_and_time_fix_the_flow_objective():
    x0, noise = torch.randn(2, 3, 4, 4, 4), torch.randn(2, 3, 4, 4, 4)
    seen = []

    def model_fn(x, t):
        seen.append(x)
        return torch.zeros_like(x)

    loss = FlowMatching().loss(model_fn, x0, 1, noise=noise, t=torch.ones(2))
    assert torch.equal(seen[0][:, 1:], noise[:, 1:]) and torch.equal(seen[0][:, :1], x0[:, :1])  # t = 1: the noise
    assert loss == pytest.approx(float((noise - x0)[:, 1:].pow(2).mean()))


def test_teacher_pairs_resume_as_made_and_belong_to_their_teacher(episodes_16px, tmp_path, hash_text_encoder):
    teacher = _teacher(0, hash_text_encoder)
    clips = LatentClips(episodes_16px, teacher.encode_frames, horizon=teacher.horizon, stride=teacher.frame_stride)
    pairs = imagine_pairs(teacher, clips, 6, 4, seed=3, out_dir=tmp_path)
    assert len(pairs) == 8 and len(list(tmp_path.glob("chunk-3-*.safetensors"))) == 2
    # each clip is the one the teacher's sampler makes from the noise kept beside it
    again = teacher.sample_latents(pairs.latents[:4, :1], noise=pairs.noise[:4, 1:],
                                   **teacher.text_condition(pairs.texts[:4]))
    assert torch.allclose(again, pairs.latents[:4], atol=1e-5)
    assert not torch.allclose(pairs.latents[:, 1:], pairs.latents[:, :1].expand_as(pairs.latents[:, 1:]))
    # an interrupted run makes the missing chunk as an uninterrupted one did
    sorted(tmp_path.glob("chunk-3-*"))[1].unlink()
    resumed = imagine_pairs(teacher, clips, 6, 4, seed=3, out_dir=tmp_path)
    assert torch.equal(resumed.latents, pairs.latents) and torch.equal(resumed.noise, pairs.noise)
    assert resumed.texts == pairs.texts
    with pytest.raises(ValueError, match="another teacher"):
        imagine_pairs(_teacher(1, hash_text_encoder), clips, 6, 4, seed=3, out_dir=tmp_path)


def test_the_distilled_student_lands_near_its_teacher_in_one_evaluation(episodes_16px, tmp_path, minilm, capsys):
    teacher = _teacher(0, minilm)
    teacher.save(tmp_path / "teacher")
    args = ["train", "distill", f"teacher={tmp_path / 'teacher'}", f"data={episodes_16px}",
            f"run_dir={tmp_path / 'run'}", "latent_cache=null", "pairs=64", "held_out_pairs=32", "pairs_chunk=32",
            "trainer.steps=150", "trainer.batch_size=16", "trainer.lr=3e-3", "trainer.warmup_steps=10",
            "trainer.ema_decay=0.9", "trainer.checkpoint_every=150", "trainer.log_every=50"]
    assert main(args) == 0
    student = DiTWorldModel.from_pretrained(tmp_path / "run" / "final")
    assert student.sampler.steps == 1 and student.cfg_scale == 1.0 and student.dit.p_uncond == 0.0
    report = json.loads((tmp_path / "run" / "final" / "distillation.json").read_text())
    distance = report["distance_to_teacher"]
    # on pairs it never trained on, one student step lands nearer the teacher's 8 guided steps (16 evaluations)
    # than one step of the teacher itself, guided or not
    assert distance["student_1_step"] < 0.1 * min(distance["teacher_1_step_cfg"], distance["teacher_1_step_no_cfg"])
    capsys.readouterr()
    assert main(args) == 0  # a finished run resumes to the same student
    again = DiTWorldModel.from_pretrained(tmp_path / "run" / "final")
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in again.state_dict().items())


def test_the_shipped_student_imagines_in_one_evaluation_what_its_teacher_does_in_sixteen(minilm):
    from dreamplan.paths import shipped
    from sim.env import TabletopEnv
    from sim.tasks import EVAL_SEED_BASE

    env = TabletopEnv(image_size=64)
    obs, _ = env.reset(seed=EVAL_SEED_BASE, options={"task": "push_to_corner"})
    text = env.subgoals[0].text
    env.close()
    teacher = DiTWorldModel.from_pretrained(shipped("videomodel"), text_encoder=minilm)
    student = DiTWorldModel.from_pretrained(shipped("videomodel-distilled"), text_encoder=minilm)
    assert student.function_evaluations == 1 and teacher.function_evaluations == 16
    with torch.inference_mode():
        context = teacher.encode_frames(obs["image"][None, None]).expand(4, -1, -1, -1, -1)
        condition = {k: v.expand(4, *v.shape[1:]) for k, v in teacher.text_condition([text]).items()}
        noise = torch.randn((4, teacher.horizon, *context.shape[2:]), generator=torch.Generator().manual_seed(0))
        target = teacher.sample_latents(context, noise=noise, **condition)[:, 1:]
        student_clip = student.sample_latents(context, noise=noise, **condition)[:, 1:]
        teacher.sampler.steps = 1
        one_step = teacher.sample_latents(context, noise=noise, **condition)[:, 1:]
    still = (target - context).pow(2).mean()
    assert (student_clip - target).pow(2).mean() < 0.5 * min((one_step - target).pow(2).mean(), still)


def test_teacher_cfg_scale_sets_the_guidance_the_teacher_imagines_its_pairs_with(episodes_16px, tmp_path, minilm):
    teacher = _teacher(0, minilm)
    teacher.save(tmp_path / "teacher")
    run = tmp_path / "run"
    assert main(["train", "distill", f"teacher={tmp_path / 'teacher'}", f"data={episodes_16px}", f"run_dir={run}",
                 "latent_cache=null", "pairs=8", "held_out_pairs=8", "pairs_chunk=8", "teacher_cfg_scale=4.0",
                 "trainer.steps=2", "trainer.batch_size=4", "trainer.checkpoint_every=2"]) == 0
    assert json.loads((run / "final" / "distillation.json").read_text())["teacher_sampler"]["cfg_scale"] == 4.0
    clips = LatentClips(episodes_16px, teacher.encode_frames, horizon=teacher.horizon, stride=teacher.frame_stride)
    pairs = imagine_pairs(DiTWorldModel.from_pretrained(tmp_path / "teacher", cfg_scale=4.0), clips, 8, 8, seed=0,
                          out_dir=run / "pairs")  # the run's chunks, read back: they belong to the guided teacher
    shipped_guidance = teacher.sample_latents(pairs.latents[:, :1], noise=pairs.noise[:, 1:],
                                              **teacher.text_condition(pairs.texts))
    assert not torch.allclose(shipped_guidance, pairs.latents, atol=1e-4)
    with pytest.raises(ValueError, match="another teacher"):  # and not to the teacher sampled as it ships
        imagine_pairs(teacher, clips, 8, 8, seed=0, out_dir=run / "pairs")
