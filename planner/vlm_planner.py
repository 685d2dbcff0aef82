"""SubgoalPlanner on any image-text-to-text model saved on disk (the tiny VLM trained here, LLaVA, SmolVLM /
Idefics3, PaliGemma ...): prompt -> grammar-constrained greedy decoding -> parse -> grounding. (Qwen2-VL's
processor needs torchvision for its video half, which this environment must not install.)

The answer always parses (planner.plan_format); what can still fail is grounding the instruction in the
blocks the model says it sees, which raises PlanningError (planner.subgoal_planner).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from planner.constrained_decoding import GrammarConstraint, GrammarLogitsProcessor
from planner.instruction_matching import InstructionMatcher
from planner.plan_format import Answer, PlanGrammar, parse_answer
from planner.subgoal_planner import PlanningError, check_plan, named_blocks, not_understood
from sim.errors import DreamplanError
from sim.scene import COLORS, MAX_BLOCKS, SHAPES
from sim.targets import PHRASINGS, REGIONS, Subgoal

# For models that were not trained on this task: the answer format spelled out (decoding enforces it anyway).
DESCRIBED_PROMPT = (
    "A robot pushes blocks around a table; the image shows the table from above. Instruction: {instruction}\n"
    'Answer with JSON: {"blocks": [the blocks you see], "subgoals": [the steps, in order]}. '
    f"A block is '<color> <shape>' with color one of {', '.join(COLORS)} and shape one of {', '.join(SHAPES)}. "
    f"A step is one of: {'; '.join(p[0] for p in PHRASINGS.values())}; "
    f"where region is one of {', '.join(REGIONS)}."
)


def _eos_ids(model, tokenizer) -> list[int]:
    eos = model.generation_config.eos_token_id
    eos = tokenizer.eos_token_id if eos is None else eos
    ids = eos if isinstance(eos, list) else [eos]
    if not ids or ids[0] is None:
        raise DreamplanError(f"{type(model).__name__} has no end-of-sequence token to finish a plan with")
    return ids


def ground(instruction: str, answer: Answer | PlanningError, understood: bool = True) -> list[Subgoal] | PlanningError:
    """The plan of a decoded answer if the instruction is grounded in the blocks the model saw, else why not;
    `understood=False`: the instruction matched no task (its own refusal, once it names nothing absent)."""
    try:
        if isinstance(answer, PlanningError):
            raise PlanningError(answer.reason, instruction, answer.kind)
        if not understood:
            named_blocks(instruction, answer.blocks)
            raise not_understood(instruction, answer.blocks)
        return check_plan(instruction, answer.blocks, answer.subgoals)
    except PlanningError as e:
        return e


class VLMPlanner:
    """`plan(image, instruction)` with a VLM and its processor; `from_pretrained(path)` loads both through
    AutoProcessor / AutoModelForImageTextToText. With `match_instructions` the model is asked the training
    phrasing that asks the same as the instruction (planner.instruction_matching: for a model whose language was
    learnt from the training templates alone), and an instruction that matches no task is refused; the plan is
    still grounded against the instruction as written."""

    def __init__(self, model, processor, prompt: str = DESCRIBED_PROMPT, max_subgoals: int = MAX_BLOCKS,
                 batch_size: int = 16, match_instructions: bool = False):
        self.model, self.processor, self.prompt, self.batch_size = model.eval(), processor, prompt, batch_size
        self.matcher = InstructionMatcher() if match_instructions else None
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"  # generation appends on the right
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.grammar = PlanGrammar(max_subgoals=max_subgoals)
        self.constraint = GrammarConstraint(self.grammar, self.tokenizer, _eos_ids(model, self.tokenizer))

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs) -> "VLMPlanner":
        path = Path(path)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"{path}: no saved model here (need config.json + weights + processor files; "
                                    "train one with `dreamplan train planner`)")
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per load: noise in a one-line error and in every eval worker
        processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)
        return cls(model, processor, **kwargs)

    def asked(self, instruction: str) -> str | None:
        """What the model is asked for `instruction`; None if the matcher finds no task in it."""
        return instruction if self.matcher is None else self.matcher(instruction)

    def _inputs(self, images: list[np.ndarray], instructions: list[str]) -> dict:
        texts = []
        for instruction in instructions:
            instruction = self.asked(instruction) or instruction
            text = self.prompt.replace("{instruction}", instruction)
            content = [{"type": "image"}, {"type": "text", "text": text}]
            if getattr(self.processor, "chat_template", None):
                texts.append(self.processor.apply_chat_template([{"role": "user", "content": content}],
                                                                add_generation_prompt=True, tokenize=False))
            else:  # e.g. PaliGemma: a plain prefix, the processor inserts the image tokens
                texts.append(text)
        pil = [[Image.fromarray(np.asarray(im, dtype=np.uint8))] for im in images]
        return self.processor(images=pil, text=texts, padding=True, return_tensors="pt")

    @torch.inference_mode()
    def answer_many(self, images: list[np.ndarray], instructions: list[str]) -> list[Answer | PlanningError]:
        """The parsed answer for every (image, instruction), or the PlanningError why there is none."""
        out: list[Answer | PlanningError] = []
        for start in range(0, len(images), self.batch_size):
            inputs = self._inputs(images[start:start + self.batch_size], instructions[start:start + self.batch_size])
            prompt_length = inputs["input_ids"].shape[1]
            generated = self.model.generate(
                **inputs, logits_processor=[GrammarLogitsProcessor(self.constraint, prompt_length)],
                max_new_tokens=self.grammar.max_chars + 1, do_sample=False, num_beams=1,
                pad_token_id=self.tokenizer.pad_token_id)
            for row in generated[:, prompt_length:].tolist():
                text, complete = self.constraint.text(row)
                if not complete:
                    out.append(PlanningError(f"the plan did not finish within {len(row)} tokens: {text[:200]!r}"))
                    continue
                try:
                    out.append(parse_answer(text))
                except PlanningError as e:
                    out.append(e)
        return out

    def plan_many(self, images: list[np.ndarray], instructions: list[str]) -> list[list[Subgoal] | PlanningError]:
        return [ground(i, a, self.asked(i) is not None) for i, a in zip(instructions, self.answer_many(images, instructions))]

    def plan(self, image: np.ndarray, instruction: str) -> list[Subgoal]:
        result = self.plan_many([image], [instruction])[0]
        if isinstance(result, PlanningError):
            raise result
        return result
