import json

import numpy as np
import pytest
import torch

from transformers import AutoModelForImageTextToText

from dreamplan.cli import main as cli
from planner.plan_data import load_examples
from planner.plan_format import ALL_BLOCKS
from planner.train_planner import PROMPT, PlanDataset, PlannerTraining, patch_labels, training_loss
from planner.vlm_planner import VLMPlanner


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return load_examples(tmp_path_factory.mktemp("plan-data"), "train", 3, seed_base=0, progress=False)


def test_patch_labels_name_the_block_at_its_pixel():
    labels, offsets = patch_labels(["red cube", "blue cylinder"], [[3.5, 60.2], [40.6, 11.5]], image_size=64,
                                   patch_size=8)
    assert labels.shape == (64,) and int((labels > 0).sum()) == 2
    assert ALL_BLOCKS[int(labels[7 * 8 + 0]) - 1].name == "red cube"  # row 60 -> patch row 7, column 3 -> 0
    assert ALL_BLOCKS[int(labels[1 * 8 + 5]) - 1].name == "blue cylinder"
    assert offsets[7 * 8 + 0].tolist() == pytest.approx([0.0, 0.0875])  # pixel 3.5 is the middle of pixels 0..7
    assert offsets[1 * 8 + 5].tolist() == pytest.approx([-0.3625, 0.0])
    assert offsets[labels == 0].abs().sum() == 0


def test_scene_records_put_every_block_on_its_own_pixel(examples):
    for rec, image in zip(examples.records, examples.images):
        assert len(rec["pixels"]) == len(rec["blocks"])
        cols = [c for c, _ in rec["pixels"]]
        assert cols == sorted(cols)  # left to right, as the answer lists them
        for col, row in rec["pixels"]:  # a block face is there, not the grey table
            assert image[int(round(row)), int(round(col))].std() > 20


def test_tiny_model_memorises_a_plan(tiny_vlm, examples):
    model, processor = tiny_vlm
    data = PlanDataset(examples, processor)
    batch = torch.utils.data.default_collate([data[i] for i in range(len(data))])
    training = PlannerTraining(model, perception_weight=1.0)
    optimizer = torch.optim.AdamW(training.parameters(), lr=3e-3)
    training.train()
    losses, perception = [], []
    for _ in range(120):
        loss, metrics = training_loss(training, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        perception.append(metrics["perception_loss"])
    assert losses[-1] < losses[0] / 20 and perception[-1] < perception[0] / 10
    with torch.no_grad():
        training(**batch)
        predicted = training.patch_head(training._image_tokens)[..., :-2].argmax(-1)
    blocks = batch["patch_labels"] > 0
    assert (predicted == batch["patch_labels"])[blocks].float().mean() >= 0.75
    assert (predicted == 0)[~blocks].float().mean() >= 0.95
    planner = VLMPlanner(model, processor, prompt=PROMPT)
    rec = examples.records[0]
    assert [sg.text for sg in planner.plan(examples.images[0], rec["instruction"])] == rec["subgoals"]
    # batched decoding (left-padded prompts of different lengths) gives the same plans
    instructions = [r["instruction"] for r in examples.records]
    assert len({len(i) for i in instructions}) > 1
    batched = planner.plan_many(list(examples.images), instructions)
    assert [[sg.text for sg in p] for p in batched] == [r["subgoals"] for r in examples.records]


def test_dreamplan_train_planner_resumes_and_exports(tmp_path):
    run = tmp_path / "run"
    args = ["train", "planner", f"run_dir={run}", "data.sets=[{split: train, frames: first, examples: 4, seed_base: 0}]",
            "data.val_splits=[]",
            "trainer.batch_size=2", "trainer.checkpoint_every=2", "trainer.log_every=1", "trainer.warmup_steps=0",
            "model.vision_hidden=32", "model.vision_layers=1", "model.vision_heads=2", "model.vision_mlp=32",
            "model.text_hidden=32", "model.text_layers=1", "model.text_heads=2", "model.text_mlp=32"]
    assert cli([*args, "trainer.steps=2"]) == 0
    assert cli([*args, "trainer.steps=4"]) == 0  # resumes from step 2
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    info = json.loads((run / "final" / "training.json").read_text())
    assert info["step"] == 4 and info["seed"] == 0 and info["train_seconds"] > 0
    planner = VLMPlanner.from_pretrained(run / "final", prompt=PROMPT, max_subgoals=1)
    assert planner.answer_many([load_examples(run / "data", "train", 4, 0, progress=False).images[0]], ["make a line"])

    # init_from: a new run starts from the exported weights and keeps their tokenizer
    again = tmp_path / "again"
    assert cli([*[a.replace(str(run), str(again)) for a in args], f"init_from={run / 'final'}", "trainer.steps=1",
                "trainer.lr=0"]) == 0
    before = AutoModelForImageTextToText.from_pretrained(run / "final").state_dict()
    after = AutoModelForImageTextToText.from_pretrained(again / "final").state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # lr 0: nothing moved
    assert (again / "final" / "tokenizer.json").read_text() == (run / "final" / "tokenizer.json").read_text()
    assert cli([*[a.replace(str(run), str(tmp_path / "third")) for a in args], f"init_from={run / 'final'}",
                "model.text_hidden=64"]) == 2


def test_mid_episode_examples_are_planned_from_where_the_blocks_stand(tmp_path):
    mid = load_examples(tmp_path, "train", 14, seed_base=0, progress=False, frames="mid")
    first = load_examples(tmp_path, "train", 14, seed_base=0, progress=False)
    assert 0 < len(mid) <= 14 and all(r["frames"] == "mid" for r in mid.records)
    by_seed = {r["seed"]: (r, im) for r, im in zip(first.records, first.images)}
    moved = [not np.array_equal(im, by_seed[r["seed"]][1]) for r, im in zip(mid.records, mid.images)]
    assert all(moved)  # the expert has pushed something: not the first frame
    # a line is rebuilt outwards from the middle of the blocks' current left-to-right order
    lines = [r for r in mid.records if r["task"] == "make_line"]
    assert lines and all(r["subgoals"][0] == f"push the {r['blocks'][(len(r['blocks']) - 1) // 2]} to the center"
                         for r in lines)
