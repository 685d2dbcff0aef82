"""Subgoal planner accuracy: exact plans and per-subgoal matches against the reference decompositions, on the
seen split (fresh seeds) and the held-out ones; plan latency on the CPU; the training run's time and size.

    python benchmarks/planner_accuracy.py --model runs/planner/final [--examples 300] [--seed 0]
        [--splits train,paraphrase,combo,crowded] [--cache runs/planner/data] [--latency-plans 30]
        [--no-matching] [--out benchmarks/results/planner_accuracy.json]

Example i of a split is the scene env.reset(seed=EVAL_SEED_BASE + seed + i, task=tasks[i % 7], split) --
seeds no training example uses. Accuracy is measured through `plan()` (grounding included: a refused valid
instruction counts as wrong); "blocks seen" is how often the blocks the model lists are exactly those on
the table. Throughput is batched decoding (16 plans at a time); latency is one plan at a time. The planner
is run as configs/planner/vlm.yaml runs it: unseen phrasings matched to the nearest training phrasing first
(planner.instruction_matching), unless --no-matching.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import sim  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from planner.plan_data import load_examples
from planner.plan_format import Answer
from planner.plan_metrics import score
from planner.train_planner import PROMPT
from planner.vlm_planner import VLMPlanner, ground
from sim.scene import Block
from sim.tasks import EVAL_SEED_BASE


def evaluate_split(planner: VLMPlanner, examples) -> dict:
    instructions = [r["instruction"] for r in examples.records]
    t0 = time.perf_counter()
    answers = planner.answer_many(list(examples.images), instructions)
    seconds = time.perf_counter() - t0
    plans = [ground(i, a) for i, a in zip(instructions, answers)]
    seen = [isinstance(a, Answer) and set(a.blocks) == {Block(*n.split()) for n in r["blocks"]}
            for a, r in zip(answers, examples.records)]
    return {**score(plans, examples.records), "blocks_seen": float(np.mean(seen)),
            "seconds_per_plan_batched": seconds / len(examples)}


def latency(planner: VLMPlanner, examples, n: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    times = []
    for image, rec in list(zip(examples.images, examples.records))[:n]:
        t0 = time.perf_counter()
        planner.plan_many([image], [rec["instruction"]])
        times.append(time.perf_counter() - t0)
    return {"threads": threads, "plans": len(times), "median_s": float(np.median(times)),
            "p90_s": float(np.percentile(times, 90))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="runs/planner/final", help="a saved planner dir (dreamplan train planner)")
    p.add_argument("--examples", type=int, default=300, help="examples per split")
    p.add_argument("--seed", type=int, default=0, help="example i uses seed EVAL_SEED_BASE + seed + i")
    p.add_argument("--splits", default="train,paraphrase,combo,crowded")
    p.add_argument("--cache", default="runs/planner/data", help="where generated examples are cached")
    p.add_argument("--latency-plans", type=int, default=30)
    p.add_argument("--no-matching", action="store_true", help="give the model the instruction as written")
    p.add_argument("--out", default="benchmarks/results/planner_accuracy.json")
    args = p.parse_args()

    torch.set_num_threads(1)
    planner = VLMPlanner.from_pretrained(args.model, prompt=PROMPT, match_instructions=not args.no_matching)
    results = {}
    for split in args.splits.split(","):
        examples = load_examples(args.cache, split, args.examples, seed_base=EVAL_SEED_BASE + args.seed)
        results[split] = evaluate_split(planner, examples)
    lat_examples = load_examples(args.cache, "train", args.latency_plans, seed_base=EVAL_SEED_BASE + args.seed)
    lat = [latency(planner, lat_examples, args.latency_plans, t) for t in (1, 2)]

    training = json.loads((Path(args.model) / "training.json").read_text()) if (Path(args.model) / "training.json").exists() else {}
    model_files = [f for f in Path(args.model).iterdir() if f.suffix == ".safetensors"]
    report = {
        "model": args.model, "parameters": sum(p.numel() for p in planner.model.parameters()),
        "weights_mb": sum(f.stat().st_size for f in model_files) / 1e6,
        "seeds": {"first": EVAL_SEED_BASE + args.seed, "examples_per_split": args.examples},
        "instruction_matching": not args.no_matching,
        "results": results, "latency": lat,
        "train": {k: training.get(k) for k in ("seed", "step", "train_examples", "train_seconds")},
        "train_config": training.get("config"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__},
    }

    print(f"planner {args.model}: {report['parameters']:,} parameters, {report['weights_mb']:.1f} MB; "
          f"seeds {EVAL_SEED_BASE + args.seed}+, {args.examples} examples per split, "
          f"instruction matching {'off' if args.no_matching else 'on'}")
    print(f"| split | exact plan | per subgoal | blocks seen | refused | s/plan (batched, 1 thread) |")
    print("|---|---|---|---|---|---|")
    for split, r in results.items():
        print(f"| {split} | {r['exact']:.1%} | {r['subgoal']:.1%} | {r['blocks_seen']:.1%} | {r['refused']:.1%} | "
              f"{r['seconds_per_plan_batched']:.3f} |")
    tasks = sorted(next(iter(results.values()))["exact_by_task"])
    print("\nexact plan by task:\n| split | " + " | ".join(tasks) + " |\n|---|" + "---|" * len(tasks))
    for split, r in results.items():
        print(f"| {split} | " + " | ".join(f"{r['exact_by_task'].get(t, float('nan')):.0%}" for t in tasks) + " |")
    for row in lat:
        print(f"\nlatency, one plan at a time, {row['threads']} thread(s): median {row['median_s'] * 1000:.0f} ms, "
              f"p90 {row['p90_s'] * 1000:.0f} ms")
    if training:
        print(f"training: {training.get('step')} steps, {training.get('train_seconds', 0) / 60:.1f} min wall, "
              f"seed {training.get('seed')}, {training.get('train_examples')} examples")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
