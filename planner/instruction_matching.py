"""An instruction as people type it -> the training phrasing that asks the same (the tiny VLM's language).

The tiny VLM's decoder is trained from scratch on the task templates alone, so it has never met "could you",
"upper left" or "scoot". The matcher reads what the instruction asks from its words (planner.instruction_text:
the blocks it names in order, the place it names, which block is the anchor of a relation) and writes it as a
training template of the task that fits: one block and a corner or the center, two blocks beside each other,
three colors in an order. An instruction that names no block is matched by meaning to the templates of the
tasks over all blocks (group by color, all to the left, a line) with a pretrained sentence encoder
(all-MiniLM-L6-v2, the world model's text encoder); one that comes close to none of them (cosine below
`min_similarity`) matches nothing, and the planner says it does not understand. Held-out templates are never
consulted.
"""

from __future__ import annotations

from functools import lru_cache

from planner.instruction_text import Mention, mentions, region, words
from sim.tasks import TASKS, match_instruction
from videomodel.text_encoder import TextEncoder

# Tasks an instruction naming no block can mean, and what each asks in its training phrasings.
WHOLE_TABLE_TASKS = ("group_by_color", "all_left", "make_line")
# Words before a block that make it the anchor of a relation ('next to the X', 'beside X').
_RELATION_CUES = frozenset("to of against beside besides near by alongside with touching nearby adjacent "
                           "toward towards next".split())

_QUESTIONS = frozenset("how what which where when who whose why is are".split())


def _phrase(m: Mention) -> str:
    return f"{m.color} {m.shape or 'block'}"


def _is_anchor(ws: list[str], m: Mention) -> bool:
    return bool(_RELATION_CUES & set(ws[max(0, m.index - 3):m.index]))


def _template(task: str) -> str:
    """The task's first training template that reads back as the task (corner templates also take "center")."""
    example = {"block": "red cube", "anchor": "blue cube", "region": TASKS[task].regions[0] if TASKS[task].regions
               else "", "a": "red", "b": "blue", "c": "green"}
    return next(t for t in TASKS[task].templates if match_instruction(t.format(**example), heldout=False)[0] == task)


class InstructionMatcher:
    def __init__(self, text_encoder: TextEncoder | None = None, min_similarity: float = 0.45):
        self.text_encoder = text_encoder or TextEncoder()
        self.min_similarity = float(min_similarity)
        self.match = lru_cache(maxsize=4096)(self._match)
        self.whole_table_templates = [s for t in WHOLE_TABLE_TASKS for s in TASKS[t].templates]

    def _whole_table(self, text: str) -> str | None:
        emb = self.text_encoder.embed([text, *self.whole_table_templates])
        similarity = emb[1:] @ emb[0]
        best = int(similarity.argmax())
        return self.whole_table_templates[best] if float(similarity[best]) >= self.min_similarity else None

    def _match(self, instruction: str) -> str | None:
        ws = words(instruction)
        named = mentions(ws)
        colors = list(dict.fromkeys(m.color for m in named))
        if len(colors) >= 3:
            order = colors[:3][::-1] if "right to left" in " ".join(ws) else colors[:3]
            return _template("order_three").format(a=order[0], b=order[1], c=order[2])
        if len(named) >= 2:
            first, second = named[0], named[1]
            if _is_anchor(ws, first) and not _is_anchor(ws, second):
                first, second = second, first
            return _template("push_next_to").format(block=_phrase(first), anchor=_phrase(second))
        place = region(ws)
        if len(named) == 1:
            if place is None:
                return None
            task = "push_to_center" if place == "center" else "push_to_corner"
            return _template(task).format(block=_phrase(named[0]), region=place)
        if not ws or (ws[0] in _QUESTIONS and "you" not in ws):
            return None  # a question about the scene, not a request to change it
        if place == "left side" and "color" not in ws:
            return _template("all_left")
        return self._whole_table(" ".join(ws))

    def __call__(self, instruction: str) -> str | None:
        """The training-language instruction to ask the VLM, or None when the instruction asks nothing the
        tasks' language can say (nothing about blocks, or a block with no place to go)."""
        return self.match(instruction)


__all__ = ["InstructionMatcher", "WHOLE_TABLE_TASKS"]
