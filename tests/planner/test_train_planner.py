import json

import pytest
import torch

from planner.cli import main as cli
from planner.plan_data import load_examples
from planner.train_planner import PROMPT, PlanDataset, answer_loss
from planner.vlm_planner import VLMPlanner


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return load_examples(tmp_path_factory.mktemp("plan-data"), "train", 3, seed_base=0, progress=False)


def test_tiny_model_memorises_a_plan(tiny_vlm, examples):
    model, processor = tiny_vlm
    data = PlanDataset(examples, processor)
    batch = torch.utils.data.default_collate([data[i] for i in range(len(data))])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for _ in range(120):
        loss, _ = answer_loss(model, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 20
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
    args = ["train", "planner", f"run_dir={run}", "data.train_examples=4", "data.val_splits=[]",
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
