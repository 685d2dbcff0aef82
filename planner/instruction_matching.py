"""Unseen phrasings of an instruction -> the training phrasing that means the same, by a pretrained sentence
encoder (all-MiniLM-L6-v2, the world model's text encoder).

The tiny VLM's decoder is trained from scratch on the training templates only, so it has never met a word like
"shove" or "row". The matcher gives it what a pretrained LM would: the slot words of the instruction (block
phrases, colors, a region) are read off the text, every *training* template of every task is filled with them,
and the candidate nearest to the instruction in embedding space is what the VLM is asked. Held-out templates
are never consulted; an instruction some training template already produces passes through unchanged, and one
no candidate comes close to (cosine below `min_similarity`) goes to the VLM as it was written.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sim.scene import COLORS, SHAPES
from sim.targets import REGIONS
from sim.tasks import TASKS, clean_instruction, match_instruction
from videomodel.text_encoder import TextEncoder

_BLOCK = re.compile(rf"\b({'|'.join(COLORS)}) ({'|'.join((*SHAPES, 'block'))})\b")
_COLOR = re.compile(rf"\b({'|'.join(COLORS)})\b")
_SLOT = re.compile(r"\{(\w+)\}")


def slot_words(instruction: str) -> dict[str, str]:
    """The words a template slot could take, in the order the instruction says them."""
    text = clean_instruction(instruction)
    words: dict[str, str] = {}
    for slot, phrase in zip(("block", "anchor"), (m.group(0) for m in _BLOCK.finditer(text))):
        words[slot] = phrase
    for slot, color in zip("abc", _COLOR.findall(text)):
        words[slot] = color
    regions = [r for r in sorted(REGIONS, key=len, reverse=True) if r in text]
    if regions:
        words["region"] = regions[0]
    return words


class InstructionMatcher:
    def __init__(self, text_encoder: TextEncoder | None = None, min_similarity: float = 0.5):
        self.text_encoder = text_encoder or TextEncoder()
        self.min_similarity = float(min_similarity)
        self.match = lru_cache(maxsize=4096)(self._match)

    @staticmethod
    def candidates(instruction: str) -> list[str]:
        """Every training template of every task filled with the instruction's slot words, keeping only those
        that name every color the instruction names (a match may rephrase, not drop, what the user said)."""
        words = slot_words(instruction)
        colors = set(_COLOR.findall(clean_instruction(instruction)))
        out = []
        for task in TASKS.values():
            for template in task.templates:
                slots = _SLOT.findall(template)
                if not all(s in words for s in slots) or ("region" in slots and words["region"] not in task.regions):
                    continue
                text = template.format(**{s: words[s] for s in slots})
                if set(_COLOR.findall(text)) == colors:
                    out.append(text)
        return sorted(set(out))

    def _match(self, instruction: str) -> str:
        """The training-language instruction to ask the VLM for `instruction`."""
        text = clean_instruction(instruction)
        if match_instruction(text, heldout=False) is not None:
            return instruction
        candidates = self.candidates(text)
        if not candidates:
            return instruction
        emb = self.text_encoder.embed([text, *candidates])
        similarity = emb[1:] @ emb[0]
        best = int(similarity.argmax())
        return candidates[best] if float(similarity[best]) >= self.min_similarity else instruction

    def __call__(self, instruction: str) -> str:
        return self.match(instruction)


__all__ = ["InstructionMatcher", "slot_words"]
