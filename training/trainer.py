"""The training loop: one script for one CPU process or N DDP processes (torchrun / accelerate launch)."""

from __future__ import annotations

import copy
import json
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm
from transformers import get_cosine_with_min_lr_schedule_with_warmup

from training.atomic import atomic_write, naming, write_synced
from training.checkpoint import (CheckpointError, checkpoint_dir, checkpoints, config_differences, latest_checkpoint,
                                 load_tensors, load_weights, load_weights_into, publish, read_checkpoint_config,
                                 save_tensors, save_weights, temp_dir_for)
from training.config import TrainConfig
from training.model_config import ModelConfig
from training.precision import resolve_mixed_precision
from training.ema import EMA
from training.rng import rng_state, seed_everything, set_rng_state
from training.sampler import StepBatchSampler

# loss_fn(model, batch) -> (scalar loss, {name: float} to log); batch tensors are already on the device.
LossFn = Callable[[torch.nn.Module, dict], tuple[torch.Tensor, dict[str, float]]]
# evaluate(model) -> {name: float}; runs on the main process at every checkpoint, on the EMA weights if any.
EvalFn = Callable[[torch.nn.Module], dict[str, float]]


class _StopRequest:
    """Ctrl-C / SIGTERM ask the loop to stop after the current step (then it saves); a second Ctrl-C kills."""

    def __init__(self):
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _accelerator(mixed_precision: str) -> Accelerator:
    try:
        return Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=mixed_precision)
    except ValueError:
        if torch.distributed.is_initialized():
            raise
        # accelerate keeps one global state per process: a second Trainer in the same process (tests,
        # notebooks) that asks for another precision must reset it
        AcceleratorState._reset_state()
        return Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=mixed_precision)


class Trainer:
    """Trains `model` on `dataset` with `loss_fn`; checkpoints under `run_dir` and resumes from the latest one.

    Seed (training.seed_everything(config.seed)) before building the model, so a fresh run is reproducible;
    under DDP the weights of process 0 are broadcast to the others anyway.
    """

    def __init__(self, model: torch.nn.Module, model_config: ModelConfig | dict, dataset: Dataset, loss_fn: LossFn,
                 config: TrainConfig, run_dir: str | Path, evaluate: EvalFn | None = None):
        if isinstance(model_config, ModelConfig):  # saved in each checkpoint's config.json as its dict
            model_config = model_config.to_dict()
        self.model, self.model_config, self.dataset, self.loss_fn = model, model_config, dataset, loss_fn
        self.config, self.run_dir, self.evaluate = config, Path(run_dir), evaluate
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.mixed_precision = resolve_mixed_precision(config.mixed_precision, device)
        self.accelerator = _accelerator(self.mixed_precision)
        self.step = 0

    # ------------------------------------------------------------------------------------------ setup
    def _identity(self) -> dict[str, Any]:
        return {"model": self.model_config, "train": self.config.to_dict(), "seed": self.config.seed}

    def _check_compatible(self, ckpt: Path) -> None:
        saved = read_checkpoint_config(ckpt)
        mine = self._identity()
        for key in TrainConfig.RESUMABLE:
            saved.get("train", {}).pop(key, None)
            mine["train"].pop(key, None)
        diffs = config_differences({k: saved.get(k) for k in mine}, mine)
        if diffs:
            raise CheckpointError(f"{self.run_dir} holds a run with a different config ({'; '.join(diffs[:4])}); "
                                  "resume with the same config or pick a new run dir")

    # ------------------------------------------------------------------------------------------- loop
    def fit(self) -> Path:
        """Train up to `config.steps`; returns the final checkpoint directory."""
        acc, c = self.accelerator, self.config
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is not None:
            self._check_compatible(ckpt)
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        self.scheduler = get_cosine_with_min_lr_schedule_with_warmup(optimizer, c.warmup_steps, c.steps,
                                                                     min_lr_rate=c.min_lr_ratio)
        self.ema = EMA(self.model, c.ema_decay) if c.ema_decay else None
        self.model, self.optimizer = acc.prepare(self.model, optimizer)
        if ckpt is not None:
            self._restore(ckpt)
        else:
            seed_everything(c.seed + 1000 * (acc.process_index + 1))  # this process's own augmentation stream
            if acc.is_main_process:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                atomic_write(self.run_dir / "run.json", json.dumps(
                    {**self._identity(), "processes": acc.num_processes, "mixed_precision": self.mixed_precision, "started": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2))
        if self.step >= c.steps:
            return ckpt
        sampler = StepBatchSampler(len(self.dataset), c.batch_size, c.seed, self.step, c.steps,
                                   acc.process_index, acc.num_processes)
        # its own generator: creating the loader's iterator must not draw from the (restored) global RNG
        loader = DataLoader(self.dataset, batch_sampler=sampler, num_workers=c.num_workers,
                            generator=torch.Generator().manual_seed(c.seed + self.step))
        self.model.train()
        # closed however the loop ends, so that an error is printed on a line of its own, not after the bar
        with _StopRequest() as stop, tqdm(total=c.steps, initial=self.step, desc=f"train {self.run_dir.name}",
                                          disable=not acc.is_main_process, dynamic_ncols=True,
                                          mininterval=1.0 if sys.stderr.isatty() else 30.0) as bar:
            for batch in loader:
                metrics = self._train_step(batch)
                self.step += 1
                bar.update(1)
                if self.step % c.log_every == 0 or self.step == c.steps:
                    self._log(metrics, bar)
                stopping = self._any_process(stop.requested)
                if stopping or self.step % c.checkpoint_every == 0 or self.step == c.steps:
                    last = self._save()
                if stopping:
                    raise KeyboardInterrupt(f"stopped at step {self.step}; saved {last}")
        return last

    def _train_step(self, batch: dict) -> dict[str, float]:
        acc = self.accelerator
        batch = {k: v.to(acc.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        with acc.autocast():
            loss, metrics = self.loss_fn(self.model, batch)
        acc.backward(loss)
        if self.config.grad_clip:
            metrics["grad_norm"] = float(acc.clip_grad_norm_(self.model.parameters(), self.config.grad_clip))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(acc.unwrap_model(self.model), self.step)
        return {"loss": loss.detach(), **metrics}

    def _any_process(self, flag: bool) -> bool:
        if self.accelerator.num_processes == 1:
            return flag
        return bool(self.accelerator.reduce(torch.tensor([float(flag)], device=self.accelerator.device), "sum").item() > 0)

    def _log(self, metrics: dict, bar: tqdm) -> None:
        acc = self.accelerator
        loss = float(acc.reduce(metrics.pop("loss").float().reshape(1), "mean").item())  # mean over processes
        if not acc.is_main_process:
            return
        row = {"step": self.step, "loss": loss, "lr": self.scheduler.get_last_lr()[0], "time": time.time(),
               **{k: float(v) for k, v in metrics.items()}}
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        with naming(self.run_dir / "metrics.jsonl"), open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    # ------------------------------------------------------------------------------------ checkpoints
    def _save(self) -> Path:
        acc = self.accelerator
        final = checkpoint_dir(self.run_dir, self.step)
        tmp = temp_dir_for(final)
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        save_tensors(tmp / f"rng-{acc.process_index}.pt", rng_state())
        if acc.is_main_process:
            model = acc.unwrap_model(self.model)
            save_weights(tmp / "model.safetensors", model.state_dict())
            if self.ema is not None:
                save_weights(tmp / "ema.safetensors", self.ema.state_dict(model))
            save_tensors(tmp / "training_state.pt", {"step": self.step, "optimizer": self.optimizer.state_dict(),
                                                     "scheduler": self.scheduler.state_dict()})
            write_synced(tmp / "config.json", json.dumps({**self._identity(), "step": self.step}, indent=2).encode())
        acc.wait_for_everyone()
        if acc.is_main_process:
            publish(tmp, final)
            for old in checkpoints(self.run_dir)[: -self.config.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
            if self.evaluate is not None:
                self._run_evaluation(final)
        acc.wait_for_everyone()
        return final

    def _run_evaluation(self, final: Path) -> None:
        model = self.accelerator.unwrap_model(self.model)
        if self.ema is not None:  # evaluate the weights a user would load
            model = copy.deepcopy(model)
            model.load_state_dict(self.ema.state_dict(model))
        model.eval()
        with torch.no_grad():
            scores = self.evaluate(model)
        self.model.train()
        atomic_write(final / "eval.json", json.dumps({"step": self.step, **scores}, indent=2))
        with naming(self.run_dir / "metrics.jsonl"), open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": self.step, **{f"eval/{k}": v for k, v in scores.items()}}) + "\n")

    def _restore(self, ckpt: Path) -> None:
        acc = self.accelerator
        load_weights_into(acc.unwrap_model(self.model), ckpt / "model.safetensors")
        state = load_tensors(ckpt / "training_state.pt")
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.step = int(state["step"])
        except (KeyError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"{ckpt}/training_state.pt: does not fit this model/optimizer ({e})") from None
        if self.ema is not None:
            self.ema.load_state_dict(load_weights(ckpt / "ema.safetensors"))
        rng_file = ckpt / f"rng-{acc.process_index}.pt"
        if rng_file.exists():
            set_rng_state(load_tensors(rng_file))
        else:  # resumed with more processes than saved the checkpoint
            seed_everything(self.config.seed + 1000 * (acc.process_index + 1) + self.step)
