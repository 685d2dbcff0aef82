"""`dreamplan train distill` (configs/train/distill.yaml): a world model that imagines in one network evaluation.

The teacher is a trained world model sampled as it ships: classifier-free guidance and its Euler steps, 16
DiT evaluations per clip (`teacher_cfg_scale` may set another guidance). It imagines clips from training
contexts, and each clip is kept with the noise it started from. The student, the same DiT initialised from the
teacher's weights, then learns the straight path from that noise to that clip, with the subgoal text given and
no guidance: rectified flow's reflow (Liu et al., "Flow Straight and Fast", 2023) with the guidance folded in.
On a straight path one Euler step lands where the teacher's whole sampler does, so the student samples with one
evaluation and cfg_scale 1.

    1. imagine_pairs: the teacher's (noise, clip) pairs, written in chunks under <run_dir>/pairs (resumable);
    2. the training engine (training.Trainer) fits the student (resumable, EMA);
    3. <run_dir>/final: the student, saved with its sampler (euler, `student_steps`) and cfg_scale 1, and
       distillation.json: how far its clips land from the teacher's on held-out pairs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from safetensors import safe_open
from safetensors.torch import load_file, save
from torch.utils.data import Dataset
from tqdm import tqdm

from training import Trainer, TrainConfig
from training.atomic import atomic_write
from training.launch import main_process_first, relaunch_under_torchrun
from training.modules import count_parameters
from training.rng import seed_everything
from videomodel.data import LatentClips
from videomodel.latent_cache import autoencoder_fingerprint
from videomodel.world_model import NUM_CONTEXT, DiTWorldModel


def teacher_fingerprint(teacher: DiTWorldModel) -> str:
    """What the pairs depend on: the teacher's weights and how it samples."""
    h = hashlib.sha256(json.dumps(teacher.config.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(teacher.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class TeacherPairs(Dataset):
    """Items: latents [1 + T, C, h, w] (a training context, then the clip the teacher imagined from it), noise
    [1 + T, C, h, w] (what the teacher started from; frame 0 unused), text, and foreground [1 + T, h, w] of the
    recorded clip the context came from (the cells the objective weighs more)."""

    def __init__(self, chunks: list[dict[str, torch.Tensor]], texts: list[list[str]]):
        self.latents = torch.cat([c["latents"] for c in chunks])
        self.noise = torch.cat([c["noise"] for c in chunks])
        self.foreground = torch.cat([c["foreground"] for c in chunks])
        self.texts = [t for chunk in texts for t in chunk]

    def __len__(self) -> int:
        return len(self.latents)

    def __getitem__(self, i: int) -> dict:
        return {"latents": self.latents[i], "noise": self.noise[i], "text": self.texts[i],
                "foreground": self.foreground[i]}


@torch.inference_mode()
def imagine_pairs(teacher: DiTWorldModel, clips: LatentClips, count: int, chunk: int, seed: int,
                  out_dir: str | Path, desc: str = "teacher clips") -> TeacherPairs:
    """`count` teacher pairs (rounded up to whole chunks) from contexts drawn from `clips`. Chunk i draws its
    contexts, texts and noise from seed and i alone, so a resumed run continues where it stopped with the pairs
    an uninterrupted one would have made; a chunk imagined by another teacher is refused."""
    out_dir = Path(out_dir)
    fingerprint = teacher_fingerprint(teacher)
    chunks, texts = [], []
    for i in tqdm(range(math.ceil(count / chunk)), desc=desc, unit="chunk"):
        path = out_dir / f"chunk-{seed}-{i:05d}.safetensors"
        if path.exists():
            with safe_open(path, "pt") as f:
                header = f.metadata()
            if header["teacher"] != fingerprint:
                raise ValueError(f"{path} was imagined by another teacher; give a new run_dir")
            chunks.append(load_file(path))
            texts.append(json.loads(header["texts"]))
            continue
        rng = random.Random(seed * 1_000_003 + i)
        items = [clips.clip(rng.randrange(len(clips)), rng) for _ in range(chunk)]
        context = torch.stack([it["latents"][:NUM_CONTEXT] for it in items])
        chunk_texts = [it["text"] for it in items]
        generator = torch.Generator().manual_seed(seed * 1_000_003 + i)
        noise = torch.randn((chunk, teacher.horizon, *context.shape[2:]), generator=generator)
        latents = teacher.sample_latents(context, noise=noise, **teacher.text_condition(chunk_texts))
        tensors = {"latents": latents.contiguous(),
                   "noise": torch.cat([torch.zeros_like(context), noise], dim=1).contiguous(),
                   "foreground": torch.stack([it["foreground"] for it in items]).contiguous()}
        atomic_write(path, save(tensors, metadata={"teacher": fingerprint, "texts": json.dumps(chunk_texts)}))
        chunks.append(tensors)
        texts.append(chunk_texts)
    return TeacherPairs(chunks, texts)


def reflow_loss(model, batch, t_one_fraction: float):
    """The flow objective on the teacher's pairs; `t_one_fraction` of the rows at t = 1, the one step the
    student takes when it samples in one evaluation."""
    latents = batch["latents"]
    t = getattr(model, "module", model).objective.sample_t(len(latents), latents.device)  # DDP wraps the model
    t = torch.where(torch.rand(len(latents), device=latents.device) < t_one_fraction, torch.ones_like(t), t)
    return model(latents=latents, texts=list(batch["text"]), foreground=batch["foreground"], noise=batch["noise"],
                 t=t), {}


@torch.inference_mode()
def distance_to_teacher(model: DiTWorldModel, pairs: TeacherPairs, cfg_scale: float, steps: int) -> float:
    """Mean squared distance, in the normalised latent space, between the clips `model` samples from the held-out
    pairs' noise (with `steps` Euler steps) and the clips the teacher sampled from the same noise."""
    saved = model.sampler.steps
    model.sampler.steps = steps
    try:
        errors = []
        for i in range(0, len(pairs), 64):
            latents, noise = pairs.latents[i : i + 64], pairs.noise[i : i + 64, NUM_CONTEXT:]
            clip = model.sample_latents(latents[:, :NUM_CONTEXT], noise=noise, cfg_scale=cfg_scale,
                                        **model.text_condition(pairs.texts[i : i + 64]))
            errors.append((clip - latents)[:, NUM_CONTEXT:].pow(2).flatten(1).mean(1))
    finally:
        model.sampler.steps = saved
    return float(torch.cat(errors).mean())


def still_distance(pairs: TeacherPairs) -> float:
    """The same distance for clips that repeat their context frame: how far the teacher's clips move at all."""
    latents = pairs.latents
    return float((latents[:, NUM_CONTEXT:] - latents[:, :NUM_CONTEXT]).pow(2).flatten(1).mean(1).mean())


def student_from(teacher_path: str, student_steps: int) -> DiTWorldModel:
    """The teacher's EMA weights, set to sample without guidance in `student_steps` steps and never to drop
    its text while training (it learns the guided teacher, so there is no unconditional half to learn)."""
    student = DiTWorldModel.from_pretrained(teacher_path, cfg_scale=1.0,
                                            sampler={"name": "euler", "steps": student_steps})
    student.config = student.config.replace(dit={"p_uncond": 0.0})
    student.dit.p_uncond = 0.0
    return student.train()


def train_distill(cfg: DictConfig) -> None:
    relaunch_under_torchrun(int(cfg.trainer.devices))
    train_cfg = TrainConfig.from_dict(OmegaConf.to_container(cfg.trainer, resolve=True))
    seed_everything(train_cfg.seed)
    run_dir = Path(cfg.run_dir)
    guidance = {} if cfg.teacher_cfg_scale is None else {"cfg_scale": float(cfg.teacher_cfg_scale)}
    teacher = DiTWorldModel.from_pretrained(cfg.teacher, **guidance)
    cache = Path(cfg.latent_cache) / f"{autoencoder_fingerprint(teacher.autoencoder)}.safetensors" \
        if cfg.latent_cache else None
    clips = LatentClips(cfg.data, teacher.encode_frames, horizon=teacher.horizon, stride=teacher.frame_stride,
                        paraphrase_prob=cfg.paraphrase_prob, past_end=cfg.clips_past_end, cache_file=cache)
    started = time.time()
    with main_process_first():  # the main process imagines the pairs; the others read its chunks
        pairs = imagine_pairs(teacher, clips, cfg.pairs, cfg.pairs_chunk, train_cfg.seed, run_dir / "pairs")
        held_out = imagine_pairs(teacher, clips, cfg.held_out_pairs, cfg.pairs_chunk, train_cfg.seed + 1,
                                 run_dir / "pairs", desc="held-out teacher clips")
    pair_minutes = (time.time() - started) / 60

    student = student_from(cfg.teacher, cfg.student_steps)
    student.embed_texts(sorted(set(pairs.texts)))  # fill the text cache before any DataLoader worker forks
    print(f"student DiT: {count_parameters(student.dit):,} parameters, {len(pairs):,} teacher pairs "
          f"({teacher.function_evaluations} evaluations each)")
    started = time.time()
    loss = functools.partial(reflow_loss, t_one_fraction=cfg.t_one_fraction)
    trainer = Trainer(student, student.config, pairs, loss, train_cfg, run_dir)
    final = trainer.fit()
    if not trainer.accelerator.is_main_process:
        return
    train_minutes = (time.time() - started) / 60
    student = DiTWorldModel.from_pretrained(run_dir)
    out = student.save(run_dir / "final")
    report = {"teacher": str(cfg.teacher), "checkpoint": final.name, "pairs": len(pairs),
              "held_out_pairs": len(held_out), "seed": train_cfg.seed,
              "teacher_sampler": {"steps": teacher.sampler.steps, "cfg_scale": teacher.cfg_scale},
              "distance_to_teacher": {  # on held-out pairs; lower is closer
                  **{f"student_{n}_step": distance_to_teacher(student, held_out, 1.0, n) for n in (1, 2, 4)},
                  "teacher_1_step_cfg": distance_to_teacher(teacher, held_out, teacher.cfg_scale, 1),
                  "teacher_1_step_no_cfg": distance_to_teacher(teacher, held_out, 1.0, 1),
                  "context_held_still": still_distance(held_out)},
              "wall_minutes": {"teacher_pairs": round(pair_minutes, 1), "train": round(train_minutes, 1)}}
    atomic_write(out / "distillation.json", json.dumps(report, indent=2))
    print(json.dumps(report["distance_to_teacher"], indent=2))
    print(f"student: {out}")
