"""Reading an instruction as people type it: normalised words, the blocks it names, the place it names, and
what it asks that a pushing robot cannot do.

Everything here is about the words alone (no scene, no model). `planner.subgoal_planner` grounds what is read
against the blocks seen; `planner.instruction_matching` turns it into the task language the planner was
trained on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sim.scene import COLORS

# Color words a user may say; the ones outside COLORS can never be on the table.
COLOR_WORDS = frozenset(COLORS) | {"pink", "white", "black", "brown", "gray", "grey", "cyan", "magenta", "violet",
                                   "indigo", "gold", "silver", "beige", "teal", "turquoise", "maroon", "navy", "lime"}
# Nouns for a block of each shape; GENERIC nouns name a block by its color alone.
SHAPE_NOUNS = {"cube": "cube", "cubes": "cube", "box": "cube", "boxes": "cube", "square": "cube", "squares": "cube",
               "cylinder": "cylinder", "cylinders": "cylinder", "can": "cylinder", "cans": "cylinder",
               "tube": "cylinder", "tubes": "cylinder", "disc": "cylinder", "disk": "cylinder", "puck": "cylinder"}
GENERIC_NOUNS = frozenset("block blocks one ones piece pieces thing things object objects item items".split())
# Shapes a user may name that no block on this table has.
OTHER_SHAPES = frozenset("ball balls sphere spheres pyramid pyramids cone cones star stars triangle triangles "
                         "ring rings cup cups toy toys car cars brick bricks".split())
# Doings a planar pusher is not built for, as word sequences; the reason each gives.
CANNOT = {
    "lifting": ["lift", "lifts", "raise", "pick up", "pick it up", "pick them up", "picks up", "pickup", "grab",
                "grasp", "hold", "carry", "hand me", "give me", "in the air", "off the table", "levitate"],
    "flying": ["fly", "flies", "flying", "float", "hover"],
    "stacking": ["stack", "stacks", "stacking", "on top of", "onto", "atop", "tower", "pyramid of", "pile"],
    "throwing": ["throw", "throws", "toss", "tosses", "fling", "hurl", "launch", "drop"],
    "turning over": ["flip", "flips", "turn over", "upside down", "rotate", "spin", "roll"],
    "changing the blocks": ["paint", "color the", "colour the", "break", "smash", "cut", "melt", "eat", "destroy",
                            "remove", "hide", "take away"],
}
# Words a user types for what the task language calls color, and other spellings.
_SPELLING = {"colour": "color", "colours": "colors", "coloured": "colored", "centre": "center", "grey": "gray",
             "organise": "organize", "middel": "middle"}
# Words typing errors are corrected towards: a word one edit from exactly one of these is that word.
_KEYWORDS = frozenset(COLORS) | {"cube", "cubes", "cylinder", "cylinders", "block", "blocks", "corner", "left",
                                 "right", "top", "bottom", "center", "middle", "color", "colors", "line", "group",
                                 "next", "beside", "together", "order", "upper", "lower"}
# Words that are words in their own right, never typing errors of a key word.
_PROTECTED = frozenset(w for phrases in CANNOT.values() for p in phrases for w in p.split()) | frozenset(
    SHAPE_NOUNS) | {"pick", "sort", "moved", "lines", "light", "bright", "night", "might", "sight", "tight", "fight",
                    "blow", "bottle", "group", "groups", "centers", "cubed", "lock", "block"}


def _one_edit(a: str, b: str) -> bool:
    """Damerau distance 1: one letter changed, dropped, added, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _corrected(word: str) -> str:
    word = _SPELLING.get(word, word)
    if word in _KEYWORDS or len(word) < 3 or word in GENERIC_NOUNS or word in COLOR_WORDS or word in _PROTECTED:
        return word
    near = [k for k in _KEYWORDS if _one_edit(word, k)]
    return near[0] if len(near) == 1 and len(word) >= (3 if near[0] in COLORS else 4) else word


def words(text: str) -> list[str]:
    """Lower-case words, hyphens and apostrophes split off, British spellings and one-letter typos of the task's
    key words (colors, shapes, places) corrected."""
    return [_corrected(w) for w in re.findall(r"[a-z]+", text.lower())]


def normalized(text: str) -> str:
    return " ".join(words(text))


@dataclass(frozen=True)
class Mention:
    """A block the instruction names: its color, its shape (None: by color alone) and where in the words."""

    color: str
    shape: str | None
    index: int
    noun: str | None = None  # the word after the color, if it names a thing (e.g. 'ball')

    @property
    def text(self) -> str:
        return f"{self.color} {self.shape or self.noun or 'block'}"


def mentions(ws: list[str]) -> list[Mention]:
    """Each color word with the shape noun after it ('red cube', 'red one', 'red' alone), in order. A color
    word used as a noun after 'the blocks by' (group by color) is not a mention."""
    out = []
    for i, w in enumerate(ws):
        if w not in COLOR_WORDS:
            continue
        nxt = ws[i + 1] if i + 1 < len(ws) else None
        if nxt in COLOR_WORDS and i + 2 < len(ws) and (ws[i + 2] in SHAPE_NOUNS or ws[i + 2] in GENERIC_NOUNS):
            nxt = ws[i + 2]  # 'the red and blue blocks' names both: red takes blue's noun
        shape = SHAPE_NOUNS.get(nxt) if nxt else None
        noun = nxt if nxt in OTHER_SHAPES else None
        out.append(Mention(w, shape, i, noun))
    return out


def cannot_do(ws: list[str]) -> str | None:
    """What the instruction asks that a robot pushing blocks on a table cannot do ('stacking', ...), or None.
    'on' right before a block ('put the red cube on the blue one') is stacking too."""
    text = f" {' '.join(ws)} "
    for what, phrases in CANNOT.items():
        if any(f" {p} " in text for p in phrases):
            return what
    for i, w in enumerate(ws[:-1]):
        after = ws[i + 1:i + 3]
        if w == "on" and after and (after[0] in COLOR_WORDS or (after[0] == "the" and len(after) > 1
                                                                 and after[1] in COLOR_WORDS)):
            return "stacking"
    return None


_TOP, _BOTTOM = {"top", "upper", "north", "topmost", "uppermost"}, {"bottom", "lower", "south", "bottommost", "lowest"}
_LEFT, _RIGHT = {"left", "west", "lefthand"}, {"right", "east", "righthand"}
_CENTER = {"center", "middle", "central", "centrally", "centered", "midpoint"}


def region(ws: list[str]) -> str | None:
    """The region of the table the words name (sim.targets.REGIONS), or None. 'left of'/'right of' a block and
    'left to right' are relations and orders, not places."""
    kept = []
    for i, w in enumerate(ws):
        after = ws[i + 1] if i + 1 < len(ws) else ""
        before = ws[i - 1] if i else ""
        if w in _LEFT | _RIGHT and (after in {"of", "to", "from"} or before in {"to", "from"} and
                                    any(x in ws for x in ("order", "ordered", "row", "line", "then"))):
            continue
        if w in _LEFT | _RIGHT and after in {"hand", "handed"} and i + 2 < len(ws) and ws[i + 2] == "of":
            continue
        kept.append(w)
    vertical = "top" if _TOP & set(kept) else "bottom" if _BOTTOM & set(kept) else None
    horizontal = "left" if _LEFT & set(kept) else "right" if _RIGHT & set(kept) else None
    if vertical and horizontal:
        return f"{vertical} {horizontal} corner"
    if _CENTER & set(kept):
        return "center"
    if horizontal:
        return f"{horizontal} side"
    return None


__all__ = ["COLOR_WORDS", "SHAPE_NOUNS", "GENERIC_NOUNS", "OTHER_SHAPES", "CANNOT", "Mention", "words", "normalized",
           "mentions", "cannot_do", "region"]
