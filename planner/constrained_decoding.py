"""Grammar-constrained decoding for any Hugging Face tokenizer: a LogitsProcessor that masks every token the
plan grammar cannot take next, so whatever the model's logits, the decoded text is a complete, valid answer.

The tokens a grammar state allows are found by walking the grammar's character automaton and a character
trie of the vocabulary together (only the few characters the grammar allows are explored), and cached
per state.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from transformers import LogitsProcessor

from planner.plan_format import PlanGrammar, State


def token_texts(tokenizer) -> list[str | None]:
    """The text each token id appends to a sequence; None for special tokens and for tokens that are
    empty or only part of a UTF-8 character (they can never spell out grammar text)."""
    ref = tokenizer.encode("a", add_special_tokens=False)  # decoded after a word, so leading spaces survive
    base = tokenizer.decode(ref, clean_up_tokenization_spaces=False)
    added = getattr(tokenizer, "added_tokens_decoder", {})
    excluded = set(tokenizer.all_special_ids) | {i for i, t in added.items() if t.special}
    decoded = tokenizer.batch_decode([ref + [i] for i in range(len(tokenizer))], clean_up_tokenization_spaces=False)
    out: list[str | None] = []
    for i, text in enumerate(decoded):
        piece = text[len(base):] if text.startswith(base) else ""
        out.append(piece if piece and i not in excluded and "\ufffd" not in piece else None)
    return out


class _TokenNode:
    __slots__ = ("children", "ids")

    def __init__(self):
        self.children: dict[str, _TokenNode] = {}
        self.ids: list[int] = []  # tokens whose text ends here


class GrammarConstraint:
    """Which token ids may follow a grammar state, for one tokenizer."""

    def __init__(self, grammar: PlanGrammar, tokenizer, eos_token_ids: list[int], cache_size: int = 100_000):
        self.grammar, self.eos_token_ids = grammar, list(eos_token_ids)
        self.texts = token_texts(tokenizer)
        self._root = _TokenNode()
        for i, text in enumerate(self.texts):
            if text is not None:
                node = self._root
                for ch in text:
                    node = node.children.setdefault(ch, _TokenNode())
                node.ids.append(i)
        self._cache: OrderedDict[State, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size

    def allowed(self, state: State) -> torch.Tensor:
        hit = self._cache.get(state)
        if hit is not None:
            self._cache.move_to_end(state)
            return hit
        ids = list(self.eos_token_ids) if self.grammar.complete(state) else []
        stack = [(self._root, state)]
        while stack:
            node, s = stack.pop()
            for ch in self.grammar.next_chars(s):
                child = node.children.get(ch)
                if child is None:
                    continue
                after = self.grammar.step(s, ch)
                ids.extend(child.ids)
                if child.children:
                    stack.append((child, after))
        allowed = torch.tensor(sorted(ids), dtype=torch.long)
        self._cache[state] = allowed
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return allowed

    def advance(self, state: State, token_id: int) -> State:
        text = self.texts[token_id] if token_id < len(self.texts) else None
        after = self.grammar.advance(state, text) if text is not None else None
        if after is None:
            raise RuntimeError(f"token {token_id} ({text!r}) is not allowed here: the logits were not constrained")
        return after

    def text(self, token_ids: list[int]) -> tuple[str, bool]:
        """(answer text of generated ids up to the first EOS, whether it is a complete answer)."""
        state, pieces = self.grammar.start(), []
        for t in token_ids:
            if t in self.eos_token_ids:
                break
            state = self.advance(state, t)
            pieces.append(self.texts[t])
        return "".join(pieces), self.grammar.complete(state)


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks the logits of every row of a batch to the tokens its answer may continue with. One instance per
    `generate` call (it tracks the rows' states); rows that emitted EOS are left alone."""

    def __init__(self, constraint: GrammarConstraint, prompt_length: int):
        self.constraint, self.prompt_length = constraint, prompt_length
        self._states: list[State] | None = None
        self._finished: list[bool] = []
        self._consumed = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._states is None:
            self._states = [self.constraint.grammar.start()] * input_ids.shape[0]
            self._finished = [False] * input_ids.shape[0]
        new = input_ids[:, self.prompt_length + self._consumed:].tolist()
        self._consumed = input_ids.shape[1] - self.prompt_length
        mask = torch.full_like(scores, float("-inf"))
        for row, tokens in enumerate(new):
            for t in tokens:
                if self._finished[row]:
                    break
                if t in self.constraint.eos_token_ids:
                    self._finished[row] = True
                else:
                    self._states[row] = self.constraint.advance(self._states[row], t)
            if self._finished[row]:
                mask[row] = 0.0
            else:
                allowed = self.constraint.allowed(self._states[row])
                mask[row, allowed[allowed < scores.shape[1]]] = 0.0
        return scores + mask
