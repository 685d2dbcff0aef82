"""Subgoal planner accuracy: exact plans and per-subgoal matches against the reference decompositions, on
scenes of evaluation seeds; refusals of instructions that cannot be carried out; plan latency on the CPU.

    python benchmarks/planner_accuracy.py --model checkpoints/planner [--examples 300] [--seed 0]
        [--splits train,paraphrase,combo,crowded,shared,mid] [--families template,polite,...] [--cache runs/planner/data]
        [--latency-plans 30] [--no-matching] [--out benchmarks/results/planner_accuracy.json]

Example i of a split is the scene env.reset(seed=EVAL_SEED_BASE + seed + i, task=tasks[i % 7], split) --
seeds no training example uses; `shared` scenes give a color to two blocks (a cube and a cylinder); `mid` is
the `train` split's scene part-way through the scripted expert's episode (what an agent re-plans from).
Language families (planner.phrasings) re-phrase the `train` split's instructions in one style each; the
held-out families were never looked at while the planner's language was built. `handwritten` is
benchmarks/handwritten_instructions.json, sentences written by hand for given scenes.
`invalid` is one instruction per scene of the `train` and `crowded` splits that must be refused, with the
right kind of reason (planner.subgoal_planner.REFUSALS); "valid refused" is over every valid example above.

Accuracy is measured through grounding (a refused valid instruction counts as wrong); "blocks seen" is how
often the blocks the model lists are exactly those on the table. Throughput is batched decoding (16 plans at
a time); latency is one plan at a time, instruction reading included (its cache cleared). The planner is run
as configs/planner/vlm.yaml runs it, instruction matching on, unless --no-matching.
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
from planner.phrasings import FAMILIES, HELDOUT, invalid, phrase, task_words
from planner.plan_data import PlanExamples, load_examples
from planner.plan_format import Answer
from planner.plan_metrics import score
from planner.subgoal_planner import PlanningError
from planner.train_planner import PROMPT
from planner.vlm_planner import VLMPlanner, ground
from sim.scene import Block
from sim.scene_records import record_scenes
from sim.tasks import EVAL_SEED_BASE

HANDWRITTEN = Path(__file__).with_name("handwritten_instructions.json")
SPLIT_FRAMES = {"mid": ("train", "mid")}  # benchmark split -> (task split, frames)


def evaluate_split(planner: VLMPlanner, examples) -> tuple[dict, list]:
    instructions = [r["instruction"] for r in examples.records]
    t0 = time.perf_counter()
    answers = planner.answer_many(list(examples.images), instructions)
    seconds = time.perf_counter() - t0
    plans = [ground(i, a, planner.asked(i) is not None) for i, a in zip(instructions, answers)]
    seen = [isinstance(a, Answer) and set(a.blocks) == {Block(*n.split()) for n in r["blocks"]}
            for a, r in zip(answers, examples.records)]
    return {**score(plans, examples.records), "blocks_seen": float(np.mean(seen)),
            "seconds_per_plan_batched": seconds / len(examples)}, plans


def rephrased(examples: PlanExamples, family: str, seed: int) -> PlanExamples:
    """The examples with each instruction said in `family`'s style (the reference plans stay)."""
    rng = np.random.default_rng(seed)
    records = [{**r, "instruction": phrase(*task_words(r["instruction"]), family, rng)} for r in examples.records]
    return PlanExamples(examples.images, records)


def handwritten(path: Path) -> PlanExamples:
    """The hand-written sentences, each in the scene its entry names (split, seed, task)."""
    entries = json.loads(path.read_text())["sentences"]
    images, records = [], []
    for e in entries:
        image, (rec,) = record_scenes(e["split"], range(e["seed"], e["seed"] + 1), [e["task"]])
        images.append(image[0])
        records.append({**rec, "instruction": e["instruction"]})
    return PlanExamples(np.stack(images), records)


def refusals(planner: VLMPlanner, examples: PlanExamples, seed: int) -> dict:
    """One instruction per scene that must be refused: refused at all, and refused for the right reason."""
    rng = np.random.default_rng(seed)
    asked = [invalid(r, rng) for r in examples.records]
    plans = planner.plan_many(list(examples.images), [a for a, _ in asked])
    kinds = [p.kind if isinstance(p, PlanningError) else None for p in plans]
    by_kind = {}
    for (_, want), got in zip(asked, kinds):
        by_kind.setdefault(want, []).append(got == want)
    wrong = [(a, w, g) for (a, w), g in zip(asked, kinds) if g != w]
    return {"examples": len(asked), "refused": float(np.mean([k is not None for k in kinds])),
            "right_reason": float(np.mean([g == w for (_, w), g in zip(asked, kinds)])),
            "right_reason_by_kind": {k: float(np.mean(v)) for k, v in sorted(by_kind.items())},
            "wrong_examples": [{"instruction": a, "expected": w, "got": g} for a, w, g in wrong[:20]]}


def latency(planner: VLMPlanner, examples, n: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    times = []
    for image, rec in list(zip(examples.images, examples.records))[:n]:
        if planner.matcher is not None:
            planner.matcher.match.cache_clear()
        t0 = time.perf_counter()
        planner.plan_many([image], [rec["instruction"]])
        times.append(time.perf_counter() - t0)
    return {"threads": threads, "plans": len(times), "median_s": float(np.median(times)),
            "p90_s": float(np.percentile(times, 90))}


def _failures(examples: PlanExamples, plans: list, limit: int = 10) -> list[dict]:
    out = []
    for rec, plan in zip(examples.records, plans):
        got = str(plan) if isinstance(plan, PlanningError) else [sg.text for sg in plan]
        if got != rec["subgoals"]:
            out.append({"instruction": rec["instruction"], "expected": rec["subgoals"], "got": got})
    return out[:limit]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/planner", help="a saved planner dir (dreamplan train planner)")
    p.add_argument("--examples", type=int, default=300, help="examples per split")
    p.add_argument("--seed", type=int, default=0, help="example i uses seed EVAL_SEED_BASE + seed + i")
    p.add_argument("--splits", default="train,paraphrase,combo,crowded,shared,mid")
    p.add_argument("--families", default=",".join(FAMILIES), help="language families (planner.phrasings)")
    p.add_argument("--cache", default="runs/planner/data", help="where generated examples are cached")
    p.add_argument("--latency-plans", type=int, default=30)
    p.add_argument("--no-matching", action="store_true", help="give the model the instruction as written")
    p.add_argument("--out", default="benchmarks/results/planner_accuracy.json")
    args = p.parse_args()

    torch.set_num_threads(1)
    planner = VLMPlanner.from_pretrained(args.model, prompt=PROMPT, match_instructions=not args.no_matching)
    results, failures, valid_refused = {}, {}, []
    for split in args.splits.split(","):
        task_split, frames = SPLIT_FRAMES.get(split, (split, "first"))
        examples = load_examples(args.cache, task_split, args.examples, seed_base=EVAL_SEED_BASE + args.seed,
                                 frames=frames)
        results[split], plans = evaluate_split(planner, examples)
        failures[split] = _failures(examples, plans)
        valid_refused += [isinstance(p, PlanningError) for p in plans]
    scenes = load_examples(args.cache, "train", args.examples, seed_base=EVAL_SEED_BASE + args.seed)
    families = {}
    for i, family in enumerate(f for f in args.families.split(",") if f):
        examples = rephrased(scenes, family, args.seed + i)
        families[family], plans = evaluate_split(planner, examples)
        families[family]["heldout"] = family in HELDOUT
        failures[f"family:{family}"] = _failures(examples, plans)
        valid_refused += [isinstance(p, PlanningError) for p in plans]
    if HANDWRITTEN.exists():
        examples = handwritten(HANDWRITTEN)
        results["handwritten"], plans = evaluate_split(planner, examples)
        failures["handwritten"] = _failures(examples, plans, limit=100)
        valid_refused += [isinstance(p, PlanningError) for p in plans]
    crowded = load_examples(args.cache, "crowded", args.examples, seed_base=EVAL_SEED_BASE + args.seed)
    invalid_scenes = PlanExamples(np.concatenate([scenes.images, crowded.images]), scenes.records + crowded.records)
    refused = {**refusals(planner, invalid_scenes, args.seed), "valid_examples": len(valid_refused),
               "valid_refused": float(np.mean(valid_refused))}
    lat_examples = load_examples(args.cache, "train", args.latency_plans, seed_base=EVAL_SEED_BASE + args.seed)
    lat = [latency(planner, lat_examples, args.latency_plans, t) for t in (1, 2)]

    training = json.loads((Path(args.model) / "training.json").read_text()) if (Path(args.model) / "training.json").exists() else {}
    model_files = [f for f in Path(args.model).iterdir() if f.suffix == ".safetensors"]
    report = {
        "model": args.model, "parameters": sum(p.numel() for p in planner.model.parameters()),
        "weights_mb": sum(f.stat().st_size for f in model_files) / 1e6,
        "seeds": {"first": EVAL_SEED_BASE + args.seed, "examples_per_split": args.examples},
        "instruction_matching": not args.no_matching,
        "results": results, "families": families, "refusals": refused, "latency": lat, "failures": failures,
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
    print("\n| language family | held out | exact plan | refused |\n|---|---|---|---|")
    for family, r in families.items():
        print(f"| {family} | {'yes' if r['heldout'] else 'no'} | {r['exact']:.1%} | {r['refused']:.1%} |")
    print(f"\ninvalid instructions: {refused['examples']}, refused {refused['refused']:.1%}, with the right reason "
          f"{refused['right_reason']:.1%} (" + ", ".join(f"{k} {v:.0%}" for k, v in refused["right_reason_by_kind"].items())
          + f"); valid instructions refused: {refused['valid_refused']:.1%} of {refused['valid_examples']}")
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
