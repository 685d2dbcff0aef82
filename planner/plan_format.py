"""The answer a VLM planner writes, and the character automaton that only accepts well-formed answers.

    {"blocks": ["red cube", "blue cylinder"], "subgoals": ["push the red cube to the center", ...]}

The model first lists the blocks it sees, left to right as they stand on the table (each of the grammar's
blocks at most once) -- a scene description that the plan then reads from: a line of blocks is built
outwards from the middle of that order --, then the canonical subgoal sentences (sim.targets.PHRASINGS[kind][0]) over the blocks it listed, so
every answer the automaton accepts parses and is grounded in what the model says it sees. It is the JSON
schema {"blocks": [block enum], "subgoals": [sentence pattern]} written as an automaton, with json.dumps'
spacing fixed so that the text of a plan is unique.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from planner.subgoal_planner import PlanningError
from sim.scene import COLORS, MAX_BLOCKS, SHAPES, Block
from sim.targets import PHRASINGS, REGIONS, GroundingError, Subgoal, Target, parse_subgoal

OPEN, SEP, MID, CLOSE = '{"blocks": ["', '", "', '"], "subgoals": ["', '"]}'


def block_key(block: Block) -> tuple[int, int]:
    return list(COLORS).index(block.color), SHAPES.index(block.shape)


ALL_BLOCKS: tuple[Block, ...] = tuple(sorted((Block(c, s) for c in COLORS for s in SHAPES), key=block_key))


def format_answer(blocks, subgoals: list[str]) -> str:
    """The answer text for the blocks seen (in the order given: left to right for training targets) and the
    canonical subgoal sentences."""
    names = [b.name if isinstance(b, Block) else str(b) for b in blocks]
    return json.dumps({"blocks": names, "subgoals": list(subgoals)})


@dataclass(frozen=True)
class Answer:
    blocks: tuple[Block, ...]  # what the model says it sees
    subgoals: list[Subgoal]


def parse_answer(text: str) -> Answer:
    try:
        d = json.loads(text)
        blocks = tuple(Block(*name.split()) for name in d["blocks"])
        return Answer(blocks, [Subgoal(s, parse_subgoal(s, blocks)) for s in d["subgoals"]])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, GroundingError) as e:
        raise PlanningError(f"the planner wrote no valid plan ({e}): {text[:200]!r}") from None


def sentences(blocks: tuple[Block, ...]) -> list[str]:
    """Every canonical subgoal sentence over `blocks`."""
    out = [Target("region", b, r).text for b in blocks for r in REGIONS]
    out += [Target(k, b, anchor=a).text for k in PHRASINGS if k != "region" for b in blocks for a in blocks if a != b]
    return out


class _Node:
    __slots__ = ("children", "payload")

    def __init__(self):
        self.children: dict[str, _Node] = {}
        self.payload = None  # at the end of a unit: what completing it means


def _trie(units: dict[str, object]) -> _Node:
    root = _Node()
    for text, payload in units.items():
        node = root
        for ch in text:
            node = node.children.setdefault(ch, _Node())
        node.payload = payload
    return root


_DONE = _Node()


class State(NamedTuple):
    stage: str  # "open" | "blocks" | "subgoals" | "done"
    listed: tuple[Block, ...]
    count: int  # subgoals completed
    node: _Node


class PlanGrammar:
    """Character automaton of answers: `advance(state, text)` is the state after `text`, or None if no
    answer continues that way. States are hashable (for caching what may follow each)."""

    def __init__(self, max_blocks: int = MAX_BLOCKS, max_subgoals: int = MAX_BLOCKS):  # plans move each block once
        self.max_blocks, self.max_subgoals = max_blocks, max_subgoals
        self._open = _trie({OPEN: ("blocks", None)})

    def start(self) -> State:
        return State("open", (), 0, self._open)

    @lru_cache(maxsize=8192)
    def _block_units(self, listed: frozenset[Block], more: bool) -> _Node:
        """Names that may follow the blocks already `listed` (any block not listed yet)."""
        units = {}
        rest = [b for b in ALL_BLOCKS if b not in listed]
        for b in rest:
            units[b.name + MID] = ("subgoals", b)
            if more and len(rest) > 1:  # a separator needs a block that may still follow
                units[b.name + SEP] = ("blocks", b)
        return _trie(units)

    @lru_cache(maxsize=4096)
    def _subgoal_units(self, listed: tuple[Block, ...], more: bool) -> _Node:
        units = {}
        for s in sentences(listed):
            units[s + CLOSE] = ("done", None)
            if more:
                units[s + SEP] = ("subgoals", None)
        return _trie(units)

    def _enter(self, stage: str, listed: tuple[Block, ...], count: int) -> State:
        if stage == "blocks":
            return State(stage, listed, count, self._block_units(frozenset(listed), len(listed) + 1 < self.max_blocks))
        if stage == "subgoals":
            return State(stage, listed, count, self._subgoal_units(listed, count + 1 < self.max_subgoals))
        return State(stage, listed, count, _DONE)

    def step(self, state: State, ch: str) -> State | None:
        node = state.node.children.get(ch)
        if node is None:
            return None
        if node.payload is None:
            return state._replace(node=node)
        stage, block = node.payload
        listed = state.listed + (block,) if block is not None else state.listed
        count = state.count + (state.stage == "subgoals")
        return self._enter(stage, listed, count)

    def advance(self, state: State | None, text: str) -> State | None:
        for ch in text:
            if state is None:
                return None
            state = self.step(state, ch)
        return state

    def next_chars(self, state: State) -> list[str]:
        return list(state.node.children)

    @staticmethod
    def complete(state: State) -> bool:
        return state.stage == "done"

    @property
    def max_chars(self) -> int:
        """Length of the longest answer: every generated token adds at least one character, so a budget of
        this many tokens always reaches the end of an answer."""
        name = max(len(b.name) for b in ALL_BLOCKS)
        sentence = max(len(s) for s in sentences(ALL_BLOCKS))
        return (len(OPEN) + self.max_blocks * (name + len(SEP)) + len(MID) - len(SEP)
                + self.max_subgoals * (sentence + len(SEP)) - len(SEP) + len(CLOSE))
