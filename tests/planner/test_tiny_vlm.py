import re
import sys

import numpy as np
import torch
from hydra.utils import instantiate
from transformers import AutoModelForImageTextToText, AutoProcessor, LlavaForConditionalGeneration, LlavaProcessor

from dreamplan.cli import compose
from planner.tiny_vlm import task_corpus
from planner.train_planner import PROMPT, prompt_text
from planner.vlm_planner import VLMPlanner
from sim.targets import HELDOUT_PHRASINGS
from sim.tasks import TASKS


def test_save_load_round_trip_through_auto_classes(tiny_vlm, tmp_path):
    model, processor = tiny_vlm
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    processor2 = AutoProcessor.from_pretrained(tmp_path, local_files_only=True)
    model2 = AutoModelForImageTextToText.from_pretrained(tmp_path, local_files_only=True)
    assert isinstance(processor2, LlavaProcessor) and isinstance(model2, LlavaForConditionalGeneration)
    assert "torchvision" not in sys.modules

    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    text = prompt_text(processor, "group the blocks by color")
    a = processor(images=[image], text=[text], return_tensors="pt")
    b = processor2(images=[image], text=[text], return_tensors="pt")
    assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["pixel_values"], b["pixel_values"])
    assert (a["input_ids"] == model.config.image_token_id).sum() == 64  # 8x8 patches, CLS dropped
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(**a).logits, model2.eval()(**b).logits)

    planner_a = VLMPlanner(model, processor, prompt=PROMPT)
    planner_b = instantiate(compose("run", ["instruction=x", "planner=vlm", f"planner.path={tmp_path}"]).planner)
    assert isinstance(planner_b, VLMPlanner) and planner_b.prompt == PROMPT
    assert planner_a.answer_many([image], ["make a line of blocks"]) == planner_b.answer_many([image], ["make a line of blocks"])


def test_tokenizer_corpus_holds_no_heldout_paraphrase():
    corpus = task_corpus()
    heldout = [t for task in TASKS.values() for t in task.heldout_templates]
    heldout += [t for templates in HELDOUT_PHRASINGS.values() for t in templates]
    for template in heldout:
        pattern = re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(template)))
        assert not any(pattern.fullmatch(line) for line in corpus), template
