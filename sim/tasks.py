"""Tasks as data: language templates, scene sampling, decomposition into subgoals, success check.

Every task turns (blocks, positions) into an ordered list of `Target`s -- the reference plan a planner
should produce from the image -- and has its own success predicate on the final positions. Splits hold
some instruction templates and some (block, placement) combinations out of training:

- ``train``: training templates; no subgoal touches a held-out combination; 2-5 blocks (group: 4 or 6).
- ``paraphrase``: held-out instruction templates, otherwise like train.
- ``combo``: training templates; at least one subgoal uses a held-out combination.
- ``crowded``: six blocks, more than training scenes of that task hold (group_by_color: six, as in train).
- ``shared``: like train, but one or more colors are held by two blocks (its cube and its cylinder), so a color
  alone names no block (group_by_color's scenes are always so; order_three orders three blocks of colors no other
  block has).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sim.scene import COLORS, SHAPES, Block
from sim.targets import NEAR, REGIONS, Positions, Target

SPLITS = ("train", "paraphrase", "combo", "crowded", "shared")
EVAL_SEED_BASE = 1_000_000  # recorded training data uses seeds below this, evaluation seeds start here

# (block, placement) pairs never moved in training data; placement is a region or a relation word.
HELDOUT_COMBOS: frozenset[tuple[Block, str]] = frozenset(
    (Block(*b.split()), where)
    for b, where in [
        ("red cylinder", "top right corner"),
        ("blue cube", "bottom left corner"),
        ("green cylinder", "bottom right corner"),
        ("yellow cube", "top left corner"),
        ("purple cylinder", "center"),
        ("orange cube", "left side"),
        ("purple cylinder", "near"),
        ("yellow cube", "right_of"),
        ("orange cylinder", "left_of"),
    ]
)


def combo(target: Target) -> tuple[Block, str]:
    return target.block, target.region if target.kind == "region" else target.kind


@dataclass
class Instance:
    """One sampled task: which blocks are on the table, the task's parameters and the instruction."""

    task: str
    blocks: tuple[Block, ...]
    params: dict
    instruction: str


@dataclass(frozen=True)
class Task:
    id: str
    templates: tuple[str, ...]
    heldout_templates: tuple[str, ...]
    sample_params: Callable[[np.random.Generator, tuple[Block, ...]], dict]
    decompose: Callable[[dict, tuple[Block, ...], Positions], list[Target]]
    succeeded: Callable[[dict, tuple[Block, ...], Positions], bool]
    num_blocks: tuple[int, ...] = (2, 3, 4, 5)
    min_subgoals: int = 1
    paired_colors: bool = False  # scene holds a cube and a cylinder of each chosen color
    color_names: bool = False  # its instructions name blocks by color alone: the blocks it names share no color
    regions: tuple[str, ...] = ()  # what a {region} slot of its templates takes
    words: Callable[[dict, tuple[Block, ...], np.random.Generator], dict] = field(default=None)  # type: ignore[assignment]

    @property
    def long_horizon(self) -> bool:
        return self.min_subgoals > 1

    def sample(self, rng: np.random.Generator, split: str) -> Instance:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
        if self.paired_colors:
            n = 6 if split == "crowded" else int(rng.choice(self.num_blocks))
            colors = rng.choice(list(COLORS), size=n // 2, replace=False)
            blocks = tuple(Block(str(c), s) for c in colors for s in SHAPES)
        elif split == "shared":
            n = max(5 if self.color_names else 3, int(rng.choice(self.num_blocks)))
            most = (n - 3) // 2 if self.color_names else n // 2  # a task naming blocks by color keeps three to name
            pairs = int(rng.integers(1, most + 1))  # colors held by both shapes; the others by one block
            colors = [str(c) for c in rng.choice(list(COLORS), size=n - pairs, replace=False)]
            blocks = tuple(Block(c, s) for c in colors[:pairs] for s in SHAPES)
            blocks += tuple(Block(c, str(rng.choice(SHAPES))) for c in colors[pairs:])
            blocks = tuple(blocks[i] for i in rng.permutation(n))
        else:
            n = 6 if split == "crowded" else int(rng.choice(self.num_blocks))
            colors = rng.choice(list(COLORS), size=n, replace=False)
            blocks = tuple(Block(str(c), str(rng.choice(SHAPES))) for c in colors)
        params = self.sample_params(rng, blocks)
        templates = self.heldout_templates if split == "paraphrase" else self.templates
        template = templates[rng.integers(len(templates))]
        words = self.words(params, blocks, rng) if self.words else {}
        return Instance(self.id, blocks, params, template.format(**words))


def _slot_patterns() -> dict[str, str]:
    block = rf"(?:{'|'.join(COLORS)}) (?:{'|'.join(SHAPES)}|block)"
    color = "|".join(COLORS)
    return {"block": block, "anchor": block, "region": "|".join(REGIONS), "a": color, "b": color, "c": color}


def _template_regex(template: str) -> re.Pattern:
    slots = _slot_patterns()
    parts = re.split(r"\{(\w+)\}", template)  # literal, slot, literal, slot, ...
    body = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{slots[p]})" for i, p in enumerate(parts))
    return re.compile(body)


def clean_instruction(text: str) -> str:
    """Lower case, single spaces, no final full stop or exclamation mark: the form templates are matched in."""
    return " ".join(text.lower().strip().rstrip(".!").split())


def match_instruction(text: str, heldout: bool = True) -> tuple[str, dict[str, str]] | None:
    """(task id, the words filling its template) for an instruction some task template (a training one, or
    with `heldout` a held-out one too) produces, else None."""
    clean = clean_instruction(text)
    for task in TASKS.values():
        for template in (*task.templates, *(task.heldout_templates if heldout else ())):
            m = _template_regex(template).fullmatch(clean)
            if m:
                return task.id, m.groupdict()
    return None


def meets(inst: Instance, words: dict[str, str]) -> bool:
    """Whether a sampled instance is what the words of an instruction ask for ('red block' = any red one)."""
    p = inst.params
    for slot, word in words.items():
        if slot in ("block", "anchor"):
            color, shape = word.split()
            have = Block(*p[slot].split())
            if have.color != color or (shape != "block" and have.shape != shape):
                return False
            if shape == "block" and sum(b.color == color for b in inst.blocks) > 1:
                return False  # 'the red block' would be ambiguous
        elif slot == "region" and p["region"] != word:
            return False
        elif slot in "abc" and p["order"]["abc".index(slot)].split()[0] != word:
            return False
    return True


def block_phrase(block: Block, blocks: tuple[Block, ...], rng: np.random.Generator) -> str:
    """'red cube', or 'red block' when the color alone picks it out."""
    unique = sum(b.color == block.color for b in blocks) == 1
    return f"{block.color} block" if unique and rng.random() < 0.5 else block.name


def _pick(rng: np.random.Generator, blocks: tuple[Block, ...], k: int) -> list[Block]:
    return [blocks[i] for i in rng.choice(len(blocks), size=k, replace=False)]


def _block_words(params: dict, blocks: tuple[Block, ...], rng: np.random.Generator) -> dict:
    words = {k: block_phrase(Block(*params[k].split()), blocks, rng) for k in ("block", "anchor") if k in params}
    if "region" in params:
        words["region"] = params["region"]
    return words


CORNERS = ("top left corner", "top right corner", "bottom left corner", "bottom right corner")


def _region_task(id: str, regions: tuple[str, ...], templates, heldout) -> Task:
    return Task(
        id=id,
        templates=templates,
        heldout_templates=heldout,
        sample_params=lambda rng, blocks: {"block": _pick(rng, blocks, 1)[0].name, "region": str(rng.choice(regions))},
        regions=regions,
        decompose=lambda p, blocks, pos: [Target("region", Block(*p["block"].split()), p["region"])],
        succeeded=lambda p, blocks, pos: Target("region", Block(*p["block"].split()), p["region"]).satisfied(pos),
        words=_block_words,
    )


def _next_to_params(rng, blocks):
    block, anchor = _pick(rng, blocks, 2)
    return {"block": block.name, "anchor": anchor.name}


def _next_to_target(p) -> Target:
    return Target("near", Block(*p["block"].split()), anchor=Block(*p["anchor"].split()))


def _color_order(blocks) -> list[Block]:
    order = list(COLORS)
    return sorted(blocks, key=lambda b: (order.index(b.color), SHAPES.index(b.shape)))


def _group_targets(p, blocks, pos) -> list[Target]:
    cubes = [b for b in _color_order(blocks) if b.shape == "cube"]
    targets = [Target("near", Block(c.color, "cylinder"), anchor=c) for c in cubes]
    return [t for t in targets if not t.satisfied(pos)]


def _left_targets(p, blocks, pos) -> list[Target]:
    targets = [Target("region", b, "left side") for b in _color_order(blocks)]
    return [t for t in targets if not t.satisfied(pos)]


def _chain(ordered: list[Block], middle: int) -> list[Target]:
    """Middle block to the center, then each neighbour beside the one before it, outwards."""
    targets = [Target("region", ordered[middle], "center")]
    targets += [Target("left_of", ordered[i], anchor=ordered[i + 1]) for i in range(middle - 1, -1, -1)]
    targets += [Target("right_of", ordered[i], anchor=ordered[i - 1]) for i in range(middle + 1, len(ordered))]
    return targets


def _line_targets(p, blocks, pos) -> list[Target]:
    ordered = sorted(blocks, key=lambda b: pos[b][0])
    return _chain(ordered, (len(ordered) - 1) // 2)


def _line_done(p, blocks, pos) -> bool:
    ordered = sorted(blocks, key=lambda b: pos[b][0])
    return all(Target("right_of", b, anchor=a).satisfied(pos) for a, b in zip(ordered, ordered[1:]))


def _order_params(rng, blocks):
    named = tuple(b for b in blocks if sum(c.color == b.color for c in blocks) == 1)  # a color names it
    return {"order": [b.name for b in _pick(rng, named, 3)]}


def _order_blocks(p) -> list[Block]:
    return [Block(*n.split()) for n in p["order"]]


def _order_done(p, blocks, pos) -> bool:
    a, b, c = (pos[x] for x in _order_blocks(p))
    in_row = abs(a[1] - b[1]) <= 0.06 and abs(c[1] - b[1]) <= 0.06
    return bool(in_row and a[0] + 0.055 <= b[0] and b[0] + 0.055 <= c[0])


TASKS: dict[str, Task] = {
    "push_to_corner": _region_task(
        "push_to_corner",
        CORNERS,
        ("push the {block} to the {region}", "move the {block} to the {region}", "slide the {block} into the {region}", "put the {block} in the {region}"),
        ("shove the {block} over to the {region}", "get the {block} into the {region}"),
    ),
    "push_next_to": Task(
        id="push_next_to",
        templates=("push the {block} next to the {anchor}", "move the {block} beside the {anchor}", "put the {block} next to the {anchor}"),
        heldout_templates=("slide the {block} up against the {anchor}", "bring the {block} close to the {anchor}"),
        sample_params=_next_to_params,
        decompose=lambda p, blocks, pos: [_next_to_target(p)],
        succeeded=lambda p, blocks, pos: _next_to_target(p).satisfied(pos),
        words=_block_words,
    ),
    "push_to_center": _region_task(
        "push_to_center",
        ("center",),
        ("move the {block} to the center", "push the {block} to the middle", "put the {block} in the center of the table"),
        ("bring the {block} to the middle of the table", "center the {block}"),
    ),
    "group_by_color": Task(
        id="group_by_color",
        templates=("group the blocks by color", "sort the blocks into groups by color", "put blocks of the same color together"),
        heldout_templates=("gather each color together", "pair up the blocks that share a color"),
        sample_params=lambda rng, blocks: {},
        decompose=_group_targets,
        succeeded=lambda p, blocks, pos: not _group_targets(p, blocks, pos),
        num_blocks=(4, 6),
        min_subgoals=2,
        paired_colors=True,
    ),
    "all_left": Task(
        id="all_left",
        templates=("put all the blocks on the left side", "move every block to the left", "push all the blocks to the left side of the table"),
        heldout_templates=("clear the right side by moving everything left", "gather all the blocks on the left"),
        sample_params=lambda rng, blocks: {},
        decompose=_left_targets,
        succeeded=lambda p, blocks, pos: not _left_targets(p, blocks, pos),
        min_subgoals=2,
    ),
    "make_line": Task(
        id="make_line",
        templates=("make a line of blocks", "arrange the blocks in a horizontal line", "line up the blocks"),
        heldout_templates=("put the blocks in a row", "form a row out of the blocks"),
        sample_params=lambda rng, blocks: {},
        decompose=_line_targets,
        succeeded=_line_done,
        num_blocks=(3, 4, 5),
        min_subgoals=3,
    ),
    "order_three": Task(
        id="order_three",
        templates=("put {a} left of {b} left of {c}", "arrange the {a}, {b} and {c} blocks from left to right", "order the blocks {a}, {b}, {c} from left to right"),
        heldout_templates=("place the {a} block, then the {b} block, then the {c} block, going left to right",),
        sample_params=_order_params,
        decompose=lambda p, blocks, pos: _chain(_order_blocks(p), 1),
        succeeded=_order_done,
        num_blocks=(3, 4, 5),
        min_subgoals=3,
        color_names=True,
        words=lambda p, blocks, rng: dict(zip("abc", (b.color for b in _order_blocks(p)))),
    ),
}
SINGLE_STEP = tuple(t for t, spec in TASKS.items() if not spec.long_horizon)
LONG_HORIZON = tuple(t for t, spec in TASKS.items() if spec.long_horizon)


def get_task(task_id: str) -> Task:
    try:
        return TASKS[task_id]
    except KeyError:
        raise ValueError(f"unknown task {task_id!r} (known: {', '.join(TASKS)})") from None


def split_accepts(targets: list[Target], split: str) -> bool:
    heldout = any(combo(t) in HELDOUT_COMBOS for t in targets)
    return heldout if split == "combo" else not heldout


__all__ = ["TASKS", "SPLITS", "SINGLE_STEP", "LONG_HORIZON", "HELDOUT_COMBOS", "EVAL_SEED_BASE", "Task", "Instance",
           "get_task", "split_accepts", "combo", "NEAR"]
