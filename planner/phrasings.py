"""Instructions as people might type them, in style families, for measuring how far a planner's language
reaches beyond the task templates; and instructions a planner must refuse, labelled with the reason.

A family rewrites what a task instance asks (its words: block, anchor, region, colors a/b/c) in one style:

- seen families (`SEEN`): the task's own training templates, polite requests and questions, and synonyms
  for verbs, places and relations. The planner's language was built and checked against these.
- held-out families (`HELDOUT`): terse commands, end-state descriptions, changed word order, and spelling
  slips. Nothing in the planner was written or tuned while looking at them.

`phrase(task, words, family, rng)` gives one instruction; `invalid(record, rng)` one instruction the scene of
`record` cannot carry out, with the kind of refusal it deserves (planner.subgoal_planner.REFUSALS).
"""

from __future__ import annotations

import numpy as np

from sim.scene import COLORS
from sim.tasks import TASKS, match_instruction

SEEN = ("template", "polite", "synonyms")
HELDOUT = ("terse", "end_state", "word_order", "spelling")
FAMILIES = SEEN + HELDOUT

INTENT = {"push_to_corner": "region", "push_to_center": "region", "push_next_to": "near",
          "group_by_color": "group", "all_left": "left", "make_line": "line", "order_three": "order"}

_COMMANDS = {
    "region": ["push the {block} to the {region}", "move the {block} to the {region}"],
    "near": ["push the {block} next to the {anchor}", "move the {block} beside the {anchor}"],
    "group": ["group the blocks by color", "put blocks of the same color together"],
    "left": ["push all the blocks to the left side of the table", "move every block to the left"],
    "line": ["make a line of blocks", "line up the blocks"],
    "order": ["order the blocks {a}, {b}, {c} from left to right", "put {a} left of {b} left of {c}"],
}
_POLITE = ["please {cmd}", "{cmd}, please", "could you {cmd}?", "can you {cmd}?", "would you {cmd}?",
           "i'd like you to {cmd}", "robot, {cmd} please", "would you please {cmd}", "hey, can you {cmd} for me?"]
_REGION_SYNONYMS = {"top left corner": ["upper left corner", "top-left corner", "upper-left corner", "top left"],
                    "top right corner": ["upper right corner", "top-right corner", "upper-right corner", "top right"],
                    "bottom left corner": ["lower left corner", "bottom-left corner", "lower-left corner", "bottom left"],
                    "bottom right corner": ["lower right corner", "bottom-right corner", "lower-right corner",
                                            "bottom right"],
                    "center": ["middle", "centre", "middle of the table", "center of the table"]}
_VERBS = ["shove", "nudge", "scoot", "drag", "slide", "bring", "take", "get", "shift", "send"]
_RELATIONS = ["beside", "alongside", "right by", "up against", "close to", "near", "adjacent to"]
_SYNONYMS = {
    "region": ["{verb} the {block} to the {region_syn}", "{verb} the {block} into the {region_syn}",
               "{verb} the {block} over to the {region_syn}"],
    "near": ["{verb} the {block} {relation} the {anchor}", "{verb} the {block} so it is {relation} the {anchor}"],
    "group": ["cluster the blocks by colour", "sort the blocks so each colour is together",
              "gather the blocks that share a color", "arrange the blocks into colour groups"],
    "left": ["{verb} every block to the left-hand side", "shift all blocks over to the left",
             "{verb} all of the blocks to the left edge of the table"],
    "line": ["arrange the blocks in a row", "put the blocks in a straight line", "line the blocks up in a row"],
    "order": ["arrange the {a}, {b} and {c} ones from left to right", "sort the {a}, {b} and {c} blocks left to right",
              "lay out {a}, {b}, {c} going from left to right"],
}
_TERSE = {
    "region": ["{block} to {region}", "{block} -> {region}", "{block}: {region}", "{block} {region}"],
    "near": ["{block} next to {anchor}", "{block} beside {anchor}", "{block} by the {anchor}"],
    "group": ["group by color", "colors together", "sort by color", "by color"],
    "left": ["all left", "everything left", "blocks to the left", "all to the left side"],
    "line": ["line up", "blocks in a line", "one line", "a line"],
    "order": ["{a}, {b}, {c} left to right", "{a} {b} {c}, left to right", "left to right: {a} {b} {c}"],
}
_END_STATE = {
    "region": ["i want the {block} in the {region}", "the {block} should end up in the {region}",
               "the {block} belongs in the {region}", "the {block} needs to be in the {region}"],
    "near": ["the {block} should be next to the {anchor}", "i'd like the {block} beside the {anchor}",
             "the {block} should end up right next to the {anchor}"],
    "group": ["each color should be in its own group", "blocks of the same color should be together",
              "i want the blocks grouped by color"],
    "left": ["all the blocks should be on the left side", "i want every block on the left",
             "everything should end up on the left side of the table"],
    "line": ["the blocks should form a line", "i want the blocks in a line", "the blocks should end up in a row"],
    "order": ["from left to right it should go {a}, {b}, {c}", "{a} should be left of {b}, and {b} left of {c}",
              "i want {a}, then {b}, then {c}, from left to right"],
}
_WORD_ORDER = {
    "region": ["to the {region}, push the {block}", "the {block}, move it to the {region}",
               "into the {region} with the {block}", "the {region} is where the {block} goes"],
    "near": ["next to the {anchor}, put the {block}", "the {block}: push it next to the {anchor}",
             "beside the {anchor} is where the {block} goes"],
    "group": ["by color, group the blocks", "the blocks, group them by color", "together by color, put the blocks"],
    "left": ["to the left side, move all the blocks", "all the blocks, push them to the left",
             "over to the left with every block"],
    "line": ["into a line, arrange the blocks", "the blocks, line them up", "in a line, put the blocks"],
    "order": ["from left to right, put {a}, {b}, {c}", "left to right, order the blocks {a}, {b}, {c}"],
}


def task_words(instruction: str) -> tuple[str, dict[str, str]]:
    """(task, slot words) of an instruction a training template produced."""
    found = match_instruction(instruction, heldout=False)
    if found is None:
        raise ValueError(f"not a training-template instruction: {instruction!r}")
    task, words = found
    return task, {**words, "region": "center"} if task == "push_to_center" else words


def _fill(template: str, words: dict[str, str], rng: np.random.Generator) -> str:
    region = words.get("region", "")
    extra = {"verb": rng.choice(_VERBS), "relation": rng.choice(_RELATIONS),
             "region_syn": rng.choice(_REGION_SYNONYMS.get(region, [region]))}
    return template.format(**words, **extra)


def _typos(text: str, rng: np.random.Generator) -> str:
    """One or two slips of the fingers in words of four letters or more (a swap, a drop, a double), and
    sometimes capitals or a trailing full stop."""
    ws = text.split(" ")
    long_ = [i for i, w in enumerate(ws) if len(w) >= 4 and w.isalpha()]
    for i in rng.choice(long_, size=min(len(long_), int(rng.integers(1, 3))), replace=False) if long_ else []:
        w, j = ws[i], int(rng.integers(1, len(ws[i]) - 1))
        kind = rng.integers(3)
        ws[i] = (w[:j] + w[j + 1] + w[j] + w[j + 2:]) if kind == 0 else (w[:j] + w[j + 1:]) if kind == 1 \
            else (w[:j] + w[j] + w[j:])
    out = " ".join(ws)
    if rng.random() < 0.3:
        out = out.capitalize()
    return out + ("." if rng.random() < 0.3 else "")


def phrase(task: str, words: dict[str, str], family: str, rng: np.random.Generator) -> str:
    intent = INTENT[task]
    if family == "template":
        templates = TASKS[task].templates
        return templates[int(rng.integers(len(templates)))].format(**words)
    if family == "polite":
        cmd = _fill(str(rng.choice(_COMMANDS[intent])), words, rng)
        return str(rng.choice(_POLITE)).format(cmd=cmd)
    if family == "spelling":
        return _typos(_fill(str(rng.choice(_COMMANDS[intent])), words, rng), rng)
    table = {"synonyms": _SYNONYMS, "terse": _TERSE, "end_state": _END_STATE, "word_order": _WORD_ORDER}[family]
    return _fill(str(rng.choice(table[intent])), words, rng)


_CANNOT = ["pick up the {block}", "lift the {block} off the table", "stack the {block} on the {other}",
           "put the {block} on top of the {other}", "throw the {block}", "make the {block} fly",
           "flip the {block} over", "hand me the {block}", "grab the {block}", "toss the {block} to the {region}"]
_UNCLEAR = ["what time is it?", "tell me a joke", "hello robot", "push the {block}", "do something nice",
            "how many blocks are there?", "clean the kitchen", "move the {block} somewhere"]


def invalid(record: dict, rng: np.random.Generator) -> tuple[str, str]:
    """(instruction, kind of refusal) for the scene of a record (its blocks): something a pusher cannot do,
    a block the table lacks, a color two blocks share, or a request that asks nothing the robot can do."""
    blocks = [tuple(n.split()) for n in record["blocks"]]
    block = " ".join(blocks[int(rng.integers(len(blocks)))])
    other = " ".join(next(b for b in blocks[::-1] if " ".join(b) != block))
    region = str(rng.choice(["top left corner", "bottom right corner", "center"]))
    shared = [c for c in COLORS if sum(b[0] == c for b in blocks) > 1]
    kinds = ["cannot", "absent", "unclear"] + (["ambiguous"] if shared else [])
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "cannot":
        return str(rng.choice(_CANNOT)).format(block=block, other=other, region=region), kind
    if kind == "unclear":
        return str(rng.choice(_UNCLEAR)).format(block=block), kind
    if kind == "ambiguous":
        return f"push the {rng.choice(shared)} block to the {region}", kind
    missing = [c for c in COLORS if all(b[0] != c for b in blocks)] + ["pink", "white"]
    what = str(rng.choice([f"{rng.choice(missing)} cube", f"{blocks[0][0]} ball"]))
    return str(rng.choice(["push the {b} to the {r}", "could you move the {b} next to the {o}?"])).format(
        b=what, r=region, o=other), kind


__all__ = ["SEEN", "HELDOUT", "FAMILIES", "INTENT", "task_words", "phrase", "invalid"]
