"""The small VLM trained here, assembled from stock transformers parts so it saves and loads like any VLM:

- tokenizer: byte-level BPE trained with `tokenizers` on the task language (training instruction templates,
  training subgoal phrasings, answers; held-out paraphrases are not in its corpus), plus phrase tokens;
- image processor: LLaVA's PIL/NumPy one (no torchvision), 64x64 in, scaled to [-1, 1];
- model: LlavaForConditionalGeneration = CLIP vision tower (patch 8: 64 patch tokens) + Llama decoder;
- a chat template that writes `<image>{text}` and a newline as the generation prompt.

`save_pretrained` on the model and the processor gives a directory that AutoProcessor and
AutoModelForImageTextToText load back.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor,
                          PreTrainedTokenizerFast)
from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

from planner.plan_format import ALL_BLOCKS, CLOSE, MID, OPEN, SEP, format_answer, sentences
from sim.scene import COLORS
from sim.targets import PHRASINGS, REGIONS, Target
from sim.tasks import TASKS

PAD, BOS, EOS, IMAGE = "<pad>", "<s>", "</s>", "<image>"
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}{{ message['content'] }}{%- else -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}<image>{%- else -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '\n' }}{%- endif -%}"
)


@dataclass
class TinyVLMConfig:
    image_size: int = 64
    patch_size: int = 8
    vocab_size: int = 600          # BPE vocabulary, special tokens included
    vision_hidden: int = 128
    vision_layers: int = 2
    vision_heads: int = 4
    vision_mlp: int = 256
    text_hidden: int = 160
    text_layers: int = 4
    text_heads: int = 4
    text_mlp: int = 448
    max_positions: int = 320       # 64 image tokens + instruction + the longest answer fit well within

    def to_dict(self) -> dict:
        return asdict(self)


def _fill(template: str, rng: np.random.Generator) -> str:
    colors = list(COLORS)
    block = lambda: f"{rng.choice(colors)} {rng.choice(['cube', 'cylinder', 'block'])}"  # noqa: E731
    return template.format(block=block(), anchor=block(), region=rng.choice(list(REGIONS)),
                           a=rng.choice(colors), b=rng.choice(colors), c=rng.choice(colors))


def task_corpus(seed: int = 0, repeats: int = 20) -> list[str]:
    """Training-side task language: instructions, subgoal phrasings and answers (no held-out phrasing)."""
    rng = np.random.default_rng(seed)
    texts = [_fill(t, rng) for _ in range(repeats) for task in TASKS.values() for t in task.templates]
    texts += sentences(ALL_BLOCKS)
    for kind, templates in PHRASINGS.items():
        for template in templates[1:]:
            for b in ALL_BLOCKS:
                a = ALL_BLOCKS[(ALL_BLOCKS.index(b) + 1) % len(ALL_BLOCKS)]
                target = Target(kind, b, "center") if kind == "region" else Target(kind, b, anchor=a)
                texts.append(target.phrase(template))
    for _ in range(repeats * 10):
        blocks = [ALL_BLOCKS[i] for i in sorted(rng.choice(len(ALL_BLOCKS), size=3, replace=False))]
        texts.append(format_answer(blocks, list(rng.choice(sentences(tuple(blocks)), size=2))))
    return texts


def phrase_tokens() -> list[str]:
    """Whole pieces of the answer language as single tokens: the JSON punctuation of an answer, regions and the
    fixed words of each canonical sentence. A subgoal is then ~6 tokens instead of ~11, which makes sequences
    (training cost) and decoding (latency) shorter. Block names are not among them: BPE writes a block as a
    color token and a shape token, so a (block, placement) pair never trained on is still written with tokens
    trained in that place."""
    glue = {part for templates in PHRASINGS.values() for part in re.split(r"\{\w+\}", templates[0]) if part}
    return [OPEN, SEP, MID, CLOSE, *REGIONS, *sorted(glue)]


def train_tokenizer(corpus: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE on the corpus (words split at spaces), plus the phrase tokens, which are matched first."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS, IMAGE],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(corpus, trainer)
    bpe.add_tokens([AddedToken(t, normalized=False) for t in phrase_tokens()])
    return PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token=PAD, bos_token=BOS, eos_token=EOS,
                                   extra_special_tokens={"image_token": IMAGE}, padding_side="left")


def build_processor(tokenizer: PreTrainedTokenizerFast, config: TinyVLMConfig) -> LlavaProcessor:
    size = {"height": config.image_size, "width": config.image_size}
    images = LlavaImageProcessorPil(size=size, crop_size=size, do_resize=True, do_center_crop=False,
                                    image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return LlavaProcessor(image_processor=images, tokenizer=tokenizer, patch_size=config.patch_size,
                          vision_feature_select_strategy="default", num_additional_image_tokens=1,
                          chat_template=CHAT_TEMPLATE)


def build_model(config: TinyVLMConfig, tokenizer: PreTrainedTokenizerFast) -> LlavaForConditionalGeneration:
    """Randomly initialised; untied input/output embeddings (safetensors refuses shared tensors)."""
    vision = CLIPVisionConfig(image_size=config.image_size, patch_size=config.patch_size,
                              hidden_size=config.vision_hidden, intermediate_size=config.vision_mlp,
                              num_hidden_layers=config.vision_layers, num_attention_heads=config.vision_heads)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=config.text_hidden, intermediate_size=config.text_mlp,
                       num_hidden_layers=config.text_layers, num_attention_heads=config.text_heads,
                       num_key_value_heads=config.text_heads, max_position_embeddings=config.max_positions,
                       pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    llava = LlavaConfig(vision_config=vision, text_config=text, image_token_id=tokenizer.convert_tokens_to_ids(IMAGE),
                        vision_feature_layer=-1, vision_feature_select_strategy="default",
                        tie_word_embeddings=False)
    model = LlavaForConditionalGeneration(llava)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model
