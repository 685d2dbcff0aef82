"""How far apart the world model's text conditioning puts subgoals it must tell apart, next to paraphrases it
must treat alike: cosine similarity of the pooled MiniLM sentence embeddings (videomodel.text_encoder), by pair
kind, over every single-block subgoal of the tabletop (12 blocks; 7 regions, or "next to" one of the 11 others).

    python benchmarks/text_separability.py [--out benchmarks/results/text_separability.json]

"must differ" pairs change one slot of the canonical sentence (the region, the moved block, the anchor, or
swap block and anchor); "may differ" pairs are the same target in another training phrasing or the held-out
one. The last column is the share of "must differ" pairs at least as similar as the median training
paraphrase pair: pairs that only a model looking past the paraphrase noise can tell apart.
Prints a table and writes JSON. Deterministic (no sampling).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
from pathlib import Path

import numpy as np
import torch

from sim.scene import COLORS, SHAPES, Block
from sim.targets import HELDOUT_PHRASINGS, PHRASINGS, REGIONS, Target
from videomodel.text_encoder import TextEncoder


def targets() -> list[Target]:
    blocks = [Block(c, s) for c in COLORS for s in SHAPES]
    out = [Target("region", b, region=r) for b in blocks for r in REGIONS]
    return out + [Target("near", b, anchor=a) for b in blocks for a in blocks if a != b]


def pair_kinds(all_targets: list[Target]) -> dict[str, list[tuple[str, str]]]:
    kinds: dict[str, list[tuple[str, str]]] = {k: [] for k in (
        "training paraphrase", "held-out paraphrase", "other region", "other moved block", "other anchor",
        "block and anchor swapped")}
    for t in all_targets:
        train = [t.phrase(p) for p in PHRASINGS[t.kind]]
        kinds["training paraphrase"] += [(train[0], p) for p in train[1:]]
        kinds["held-out paraphrase"] += [(train[0], t.phrase(p)) for p in HELDOUT_PHRASINGS[t.kind]]
    groups: dict[tuple, list[Target]] = {}  # targets that share all but one slot
    for t in all_targets:
        groups.setdefault(("other region" if t.kind == "region" else "other anchor", t.block), []).append(t)
        groups.setdefault(("other moved block", t.region, t.anchor), []).append(t)
    for (kind, *_), group in groups.items():
        kinds[kind] += [(a.text, b.text) for a, b in itertools.combinations(group, 2)]
    kinds["block and anchor swapped"] = [(t.text, Target("near", t.anchor, anchor=t.block).text)
                                         for t in all_targets if t.kind == "near"]
    return kinds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="benchmarks/results/text_separability.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    kinds = pair_kinds(targets())
    texts = sorted({s for pairs in kinds.values() for pair in pairs for s in pair})
    encoder = TextEncoder()
    emb = dict(zip(texts, encoder.embed(texts).numpy()))
    cosines = {k: np.array([float(emb[a] @ emb[b]) for a, b in pairs]) for k, pairs in kinds.items()}
    median_paraphrase = float(np.median(cosines["training paraphrase"]))

    rows = []
    print(f"{'pair kind':26s} {'pairs':>6s} {'mean cos':>9s} {'min':>6s} {'max':>6s} {'>= median paraphrase':>21s}")
    for kind, c in cosines.items():
        must_differ = not kind.endswith("paraphrase")
        hidden = float((c >= median_paraphrase).mean()) if must_differ else None
        rows.append({"pair_kind": kind, "must_differ": must_differ, "pairs": len(c), "mean_cos": float(c.mean()),
                     "min_cos": float(c.min()), "max_cos": float(c.max()),
                     "share_at_least_as_close_as_median_paraphrase": hidden})
        print(f"{kind:26s} {len(c):6d} {c.mean():9.3f} {c.min():6.3f} {c.max():6.3f} "
              f"{'' if hidden is None else f'{hidden:.0%}':>21s}")
    example = ("push the red cube to the top left corner", "push the red cube to the top right corner")
    print(f"e.g. {example[0]!r} vs {example[1]!r}: cos {float(emb[example[0]] @ emb[example[1]]):.3f}")
    result = {"encoder": "all-MiniLM-L6-v2 (mean-pooled, L2-normalised)", "median_training_paraphrase_cos":
              median_paraphrase, "rows": rows, "machine": platform.platform()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
