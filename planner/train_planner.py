"""`dreamplan train planner`: the tiny VLM planner on (scene, instruction) -> reference plan examples
(configs/train/planner.yaml). Resumes from run_dir; at the end the model is exported to run_dir/final,
a directory AutoProcessor / AutoModelForImageTextToText (and planner.vlm_planner.VLMPlanner) load.

Besides the answer's next-token loss, training has an auxiliary perception loss: a linear probe on the image
tokens the decoder reads names, for every patch, the block whose top face centre lies in it (or none). The
answer loss alone reaches the vision tower weakly, through the decoder, too weakly for a tower trained from
scratch on 64-px scenes to learn to tell which blocks are there. The probe is training-only: the export is the
VLM alone.

    run_dir/processor/   tokenizer + image processor, trained/built once (a resumed run reuses them)
    run_dir/checkpoints/ training.Trainer checkpoints (safetensors weights, optimizer, RNG states)
    run_dir/final/       the exported model + processor + training.json (seed, config, data, train time)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.utils import logging as hf_logging

from planner.plan_data import PlanExamples, load_examples
from planner.plan_format import ALL_BLOCKS, format_answer
from planner.plan_metrics import evaluate_planner
from planner.tiny_vlm import TinyVLMConfig, build_model, build_processor, task_corpus, train_tokenizer
from planner.vlm_planner import VLMPlanner
from sim.scene import Block
from sim.tasks import EVAL_SEED_BASE
from training import Trainer, TrainConfig
from training.checkpoint import load_weights_into
from training.rng import seed_everything

PROMPT = "{instruction}"  # the tiny VLM is trained on the bare instruction


def prompt_text(processor, instruction: str) -> str:
    content = [{"type": "image"}, {"type": "text", "text": PROMPT.format(instruction=instruction)}]
    return processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                         tokenize=False)


def patch_labels(blocks: list[str], pixels: list[list[float]], image_size: int,
                 patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[patches] long: 1 + ALL_BLOCKS index of the block whose top face centre lies in the patch, 0 for none;
    [patches, 2] float: where in its patch that centre lies (column, row; -0.5 .. 0.5), 0 for none."""
    grid = image_size // patch_size
    labels = torch.zeros(grid * grid, dtype=torch.long)
    offsets = torch.zeros(grid * grid, 2)
    for name, (col, row) in zip(blocks, pixels):
        c, r = (min(grid - 1, max(0, int(v + 0.5) // patch_size)) for v in (col, row))
        labels[r * grid + c] = 1 + ALL_BLOCKS.index(Block(*name.split()))
        offsets[r * grid + c] = torch.tensor([(col + 0.5) / patch_size - c - 0.5, (row + 0.5) / patch_size - r - 0.5])
    return labels, offsets.clamp(-0.5, 0.5)


class PlanDataset(Dataset):
    """Examples as fixed-length token rows: prompt (image tokens + instruction) then answer + EOS; the loss
    sees only the answer (labels -100 elsewhere). Rows are right-padded to the longest example. Each example
    also carries its per-patch block labels (`patch_labels`)."""

    def __init__(self, examples: PlanExamples, processor):
        self.images, self.processor = examples.images, processor
        tok = processor.tokenizer
        dummy = [np.zeros_like(examples.images[0])]
        prompts: dict[str, list[int]] = {}
        rows = []
        for rec in examples.records:
            ins = rec["instruction"]
            if ins not in prompts:  # the image only decides pixel values, not the prompt's tokens
                prompts[ins] = processor(images=dummy, text=[prompt_text(processor, ins)])["input_ids"][0]
            answer = tok.encode(format_answer(rec["blocks"], rec["subgoals"]), add_special_tokens=False)
            rows.append((list(prompts[ins]), answer + [tok.eos_token_id]))
        self.length = max(len(p) + len(a) for p, a in rows)
        self.input_ids = torch.full((len(rows), self.length), tok.pad_token_id, dtype=torch.long)
        self.labels = torch.full((len(rows), self.length), -100, dtype=torch.long)
        self.attention_mask = torch.zeros((len(rows), self.length), dtype=torch.long)
        for i, (p, a) in enumerate(rows):
            self.input_ids[i, : len(p) + len(a)] = torch.tensor(p + a)
            self.labels[i, len(p): len(p) + len(a)] = torch.tensor(a)
            self.attention_mask[i, : len(p) + len(a)] = 1
        size = examples.images.shape[1]
        labels = [patch_labels(r["blocks"], r["pixels"], size, processor.patch_size) for r in examples.records]
        self.patch_labels = torch.stack([lab for lab, _ in labels])
        self.patch_offsets = torch.stack([off for _, off in labels])

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict:
        pixels = self.processor.image_processor(images=[self.images[i]], return_tensors="pt")["pixel_values"][0]
        return {"input_ids": self.input_ids[i], "labels": self.labels[i], "attention_mask": self.attention_mask[i],
                "pixel_values": pixels, "patch_labels": self.patch_labels[i], "patch_offsets": self.patch_offsets[i]}


class PlannerTraining(nn.Module):
    """The VLM and its training-only perception probe; `forward(**batch)` is the training loss, so that it runs
    under the trainer's autocast. The probe reads the projected image tokens (what the decoder sees) and says
    which block is centred in each patch and where in it (plans such as "all to the left" hinge on a block
    standing a few pixels either side of a region's edge)."""

    def __init__(self, vlm: nn.Module, perception_weight: float):
        super().__init__()
        self.vlm, self.perception_weight = vlm, float(perception_weight)
        self.patch_head = nn.Linear(vlm.config.text_config.hidden_size, 1 + len(ALL_BLOCKS) + 2)
        self._image_tokens: torch.Tensor | None = None
        vlm.model.multi_modal_projector.register_forward_hook(self._keep_image_tokens)

    def _keep_image_tokens(self, module, inputs, output) -> None:
        self._image_tokens = output

    def forward(self, input_ids, attention_mask, labels, pixel_values, patch_labels,
                patch_offsets) -> tuple[torch.Tensor, dict]:
        n = int(attention_mask.sum(1).max())  # drop the padding every row of this batch has
        out = self.vlm(input_ids=input_ids[:, :n], attention_mask=attention_mask[:, :n], pixel_values=pixel_values,
                       labels=labels[:, :n])
        if self.perception_weight == 0:
            return out.loss, {}
        out_probe = self.patch_head(self._image_tokens).float().flatten(0, 1)
        logits, where = out_probe[:, :-2], out_probe[:, -2:]
        classes = patch_labels.flatten()
        ce = nn.functional.cross_entropy(logits, classes, reduction="none")
        block = classes > 0  # few patches hold a block centre: averaged apart so that "none" does not swamp them
        if block.any():
            offsets = nn.functional.smooth_l1_loss(where[block], patch_offsets.flatten(0, 1)[block], beta=0.1)
            perception = (ce[block].mean() + ce[~block].mean()) / 2 + 4 * offsets
        else:
            perception = ce.mean()
        return out.loss + self.perception_weight * perception, {"answer_loss": out.loss.item(),
                                                                 "perception_loss": perception.item()}


def training_loss(model: PlannerTraining, batch: dict) -> tuple[torch.Tensor, dict]:
    return model(**batch)


def _processor(run_dir: Path, model_cfg: TinyVLMConfig, seed: int, init_from: str | None):
    path = run_dir / "processor"
    if (path / "processor_config.json").exists():
        return AutoProcessor.from_pretrained(path, local_files_only=True)
    if init_from:  # the saved model's token ids mean what its own tokenizer says
        processor = AutoProcessor.from_pretrained(init_from, local_files_only=True)
    else:
        processor = build_processor(train_tokenizer(task_corpus(seed), model_cfg.vocab_size), model_cfg)
    processor.save_pretrained(path)
    return processor


def _initial_model(model_cfg: TinyVLMConfig, processor, init_from: str | None):
    """A fresh VLM, or the saved planner at `init_from` (which must have this config's architecture)."""
    vlm = build_model(model_cfg, processor.tokenizer)
    if init_from:
        saved = AutoModelForImageTextToText.from_pretrained(init_from, local_files_only=True).state_dict()
        mine = vlm.state_dict()
        differ = [k for k in mine if k not in saved or saved[k].shape != mine[k].shape]
        if differ or len(saved) != len(mine):
            raise ValueError(f"init_from={init_from} is another architecture than model: (e.g. {(differ or list(saved))[0]})")
        vlm.load_state_dict(saved)
    return vlm


def training_examples(data) -> PlanExamples:
    """The concatenation of the configured example sets (data.sets: split, frames, examples, seed_base)."""
    parts = [load_examples(data.cache, s.split, s.examples, seed_base=s.seed_base, frames=s.frames,
                           workers=data.workers) for s in data.sets]
    for s in data.sets:
        if s.seed_base + s.examples > EVAL_SEED_BASE:
            raise ValueError(f"training set {s.split}/{s.frames} reaches seed {s.seed_base + s.examples}, past the "
                             f"first evaluation seed {EVAL_SEED_BASE}")
    return PlanExamples(np.concatenate([p.images for p in parts]), [r for p in parts for r in p.records])


def main(cfg: DictConfig) -> None:
    hf_logging.disable_progress_bar()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    train_cfg = TrainConfig.from_dict(OmegaConf.to_container(cfg.trainer, resolve=True))
    if train_cfg.devices != 1:
        raise ValueError("the planner trains in one process (trainer.devices=1)")
    run_dir = Path(cfg.run_dir)
    model_cfg = TinyVLMConfig(**cfg.model)
    seed_everything(train_cfg.seed)
    processor = _processor(run_dir, model_cfg, train_cfg.seed, cfg.init_from)
    vlm = _initial_model(model_cfg, processor, cfg.init_from)
    model = PlannerTraining(vlm, cfg.perception_weight)
    d = cfg.data
    train = training_examples(d)
    val = {s: load_examples(d.cache, s, d.val_examples, seed_base=EVAL_SEED_BASE + d.val_seed_offset,
                            workers=d.workers) for s in d.val_splits}

    def evaluate(m: PlannerTraining) -> dict[str, float]:
        planner = VLMPlanner(m.vlm, processor, prompt=PROMPT)
        scores = {s: evaluate_planner(planner, ex) for s, ex in val.items()}
        return {f"{s}/{k}": v[k] for s, v in scores.items() for k in ("exact", "subgoal")}

    dataset = PlanDataset(train, processor)
    print(f"planner: {sum(p.numel() for p in vlm.parameters()):,} parameters, {len(dataset):,} training examples "
          f"(rows of {dataset.length} tokens), vocabulary {len(processor.tokenizer)}")
    identity = {**model_cfg.to_dict(), "vocab": len(processor.tokenizer), "perception_weight": cfg.perception_weight}
    trainer = Trainer(model, identity, dataset, training_loss, train_cfg, run_dir, evaluate=evaluate if val else None)
    t0 = time.time()
    try:
        checkpoint = trainer.fit()
    finally:
        _add_train_time(run_dir, time.time() - t0)
    load_weights_into(model, checkpoint / "model.safetensors")
    final = export(vlm, processor, run_dir / "final", {
        "seed": train_cfg.seed, "config": OmegaConf.to_container(cfg, resolve=True), "step": trainer.step,
        "train_examples": len(dataset), "train_seconds": _train_time(run_dir), "checkpoint": str(checkpoint)})
    print(f"exported {final} ({sum(f.stat().st_size for f in final.iterdir()) / 1e6:.1f} MB)")


def export(model, processor, out: Path, info: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(info, indent=2))
    return out


def _train_time(run_dir: Path) -> float:
    path = run_dir / "train_seconds.json"
    return json.loads(path.read_text())["seconds"] if path.exists() else 0.0


def _add_train_time(run_dir: Path, seconds: float) -> None:
    """Wall time of every `fit`, summed over resumes (data generation not included)."""
    if run_dir.exists():
        (run_dir / "train_seconds.json").write_text(json.dumps({"seconds": _train_time(run_dir) + seconds}))
