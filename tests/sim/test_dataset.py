import functools
import os

import h5py
import numpy as np
import pytest

from sim.dataset import DatasetError, EpisodeStore, ShardWriter, WindowDataset, open_shard, shard_name
from sim.errors import DreamplanError
from sim.env import TabletopEnv
from sim.record import RecordJob, record, run_expert_episode


def _job(out, **kw):
    cfg = {"image_size": 32}
    args = dict(out=str(out), tasks=["push_to_center", "push_next_to"], episodes=4, episodes_per_shard=2, seed=0,
                env_factory=functools.partial(TabletopEnv, **cfg), env_config=cfg)
    args.update(kw)
    return RecordJob(**args)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    record(_job(out))
    return out


def test_record_then_read_round_trip(recorded):
    store = EpisodeStore(recorded)
    assert len(store) == 4 and store.env_config == {"image_size": 32}
    ep = store.episode(0)
    assert ep["frames"].shape[1:] == (32, 32, 3) and ep["frames"].dtype == np.uint8
    assert len(ep["frames"]) == len(ep["actions"]) + 1 == len(ep["states"])
    assert ep["task"] == "push_to_center" and ep["seed"] == 0 and ep["success"]
    # replaying the recorded actions from the recorded initial state reproduces the recorded frames
    env = TabletopEnv(image_size=32)
    env.restore(ep["initial"])
    replay = [env.step(a)[0]["image"] for a in ep["actions"]]
    np.testing.assert_array_equal(np.stack(replay), ep["frames"][1:])
    # and the recording is the expert run for that seed
    again = run_expert_episode(env, 0, "push_to_center")
    np.testing.assert_array_equal(again["frames"], ep["frames"])
    assert ep["subgoals"][0]["text"] == again["subgoals"][0]["text"]


def test_windows_stay_within_a_subgoal_and_pad_its_end(recorded):
    ds = WindowDataset(recorded, horizon=3, stride=4)
    item = ds[0]
    assert item["frames"].shape == (4, 32, 32, 3)
    assert item["actions"].shape == (3, 4, 2) and item["action_mask"].shape == (3, 4)
    assert item["text"].startswith("push the ")
    ep = ds.store.episode(item["episode"])
    t = item["t"]
    np.testing.assert_array_equal(item["frames"][1], ep["frames"][t + 4])
    np.testing.assert_array_equal(item["actions"][0], ep["actions"][t : t + 4])
    last = ds[len(ds) - 1]  # the final window of the last segment runs past its end
    assert not last["action_mask"].all()
    assert (last["actions"][~last["action_mask"]] == 0).all()
    np.testing.assert_array_equal(last["frames"][-1], last["frames"][-2])


def test_in_memory_windows_equal_windows_read_from_disk(recorded):
    disk, mem = WindowDataset(recorded, horizon=2, stride=3), WindowDataset(recorded, horizon=2, stride=3, in_memory=True)
    assert len(disk) == len(mem)
    for i in (0, len(disk) // 2, len(disk) - 1):
        a, b = disk[i], mem[i]
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_resume_keeps_finished_shards(recorded, tmp_path):
    out = tmp_path / "d"
    record(_job(out))
    keep = out / shard_name(0)
    stamp = keep.stat().st_mtime_ns
    (out / shard_name(1)).unlink()
    summary = record(_job(out))
    assert summary["shards_written"] == 1
    assert keep.stat().st_mtime_ns == stamp
    assert len(EpisodeStore(out)) == 4


def test_interrupted_writer_leaves_no_shard(tmp_path):
    path = tmp_path / shard_name(0)
    with pytest.raises(KeyboardInterrupt):
        with ShardWriter(path, {}) as w:
            w.add(np.zeros((2, 8, 8, 3)), np.zeros((1, 2)), np.zeros((2, 26)), np.zeros(1), task="x")
            raise KeyboardInterrupt
    assert not path.exists() and not list(tmp_path.iterdir())


def test_corrupt_and_partial_shards_are_named(recorded, tmp_path):
    data = (recorded / shard_name(0)).read_bytes()
    bad = tmp_path / shard_name(0)
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(DatasetError, match=f"{bad.name}: not a readable HDF5 shard"):
        EpisodeStore(tmp_path)
    partial = tmp_path / "p" / shard_name(0)
    partial.parent.mkdir()
    with h5py.File(partial, "w") as f:
        f.attrs.update(format="dreamplan-episodes", version=1, complete=False)
    with pytest.raises(DatasetError, match="partial shard"):
        open_shard(partial)
    with pytest.raises(DatasetError, match="no such shard"):
        EpisodeStore(tmp_path / "empty-dir-that-does-not-exist")


def test_a_partial_shard_is_rewritten_on_resume(tmp_path):
    out = tmp_path / "d"
    record(_job(out, episodes=2))
    with h5py.File(out / shard_name(0), "a") as f:
        f.attrs["complete"] = False
    assert record(_job(out, episodes=2))["shards_written"] == 1
    assert len(EpisodeStore(out)) == 2


def test_bad_record_options(tmp_path):
    with pytest.raises(ValueError, match="unknown task"):
        record(_job(tmp_path, tasks=["fly"]))
    with pytest.raises(ValueError, match="below 1000000"):
        record(_job(tmp_path, seed=999_999))
    with pytest.raises(ValueError, match="episodes must be an integer"):
        record(_job(tmp_path, episodes="4"))


def test_parallel_workers_write_the_same_data(recorded, tmp_path):
    out = tmp_path / "par"
    record(_job(out, workers=2))
    a, b = EpisodeStore(recorded), EpisodeStore(out)
    for i in range(4):
        np.testing.assert_array_equal(a.episode(i)["frames"], b.episode(i)["frames"])
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_a_resume_that_asks_for_another_recording_is_refused(recorded, tmp_path):
    out = tmp_path / "d"
    record(_job(out, episodes=2))
    manifest, shard = (out / "record.json").read_text(), (out / shard_name(0)).read_bytes()
    for other, named in [({"tasks": ["push_to_center"]}, "tasks"), ({"seed": 7}, "seed"), ({"episodes": 4}, "episodes"),
                         ({"env_config": {"image_size": 24}}, "env.image_size")]:
        with pytest.raises(DreamplanError, match=f"holds a recording with different {named} "):
            record(_job(out, **{"episodes": 2, **other}))
    assert (out / "record.json").read_text() == manifest and (out / shard_name(0)).read_bytes() == shard
    (out / "record.json").unlink()
    with pytest.raises(DreamplanError, match="holds shards but no record.json"):
        record(_job(out, episodes=2))


@pytest.mark.integration
def test_a_shard_whose_worker_dies_twice_stops_the_recording_in_one_line(tmp_path):
    """The worker is redone once, then the recording stops with an error naming the shard (not a hang)."""
    job = _job(tmp_path / "d", workers=2, env_factory=functools.partial(os._exit, 3))  # each worker exits at once
    with pytest.raises(DreamplanError, match=r"the worker recording .*shard-0000[01]\.h5 died twice \(exit code 3\)"):
        record(job)
    assert not list((tmp_path / "d").glob("shard-*")) and not list((tmp_path / "d").glob(".*tmp"))


@pytest.fixture(scope="module")
def recorded_other(tmp_path_factory):
    """A second dataset, of another task and seeds than `recorded`."""
    out = tmp_path_factory.mktemp("data-other")
    record(_job(out, tasks=["push_to_corner"], episodes=2, seed=500))
    return out


def test_several_dataset_directories_read_as_one(recorded, recorded_other):
    from omegaconf import OmegaConf

    from sim.dataset import shard_paths

    a, b = shard_paths(recorded), shard_paths(recorded_other)
    assert len(a) == 2 and len(b) == 1
    assert shard_paths([recorded, recorded_other]) == a + b
    assert shard_paths((str(recorded_other), recorded)) == b + a
    assert shard_paths([recorded, b[0]]) == a + b  # directories and shard files mixed
    one, other = EpisodeStore(recorded), EpisodeStore(recorded_other)
    for source in ([recorded, recorded_other], OmegaConf.create([str(recorded), str(recorded_other)])):  # data=[..]
        both = EpisodeStore(source)
        assert len(both) == len(one) + len(other) == 6
        assert {r.task for r in both.refs[:4]} == {"push_to_center", "push_next_to"}
        assert [r.task for r in both.refs[4:]] == ["push_to_corner"] * 2
        assert [(r.task, r.seed) for r in both.refs] == [(r.task, r.seed) for r in one.refs + other.refs]
        for i, (store, j) in enumerate([(one, k) for k in range(len(one))] + [(other, k) for k in range(len(other))]):
            np.testing.assert_array_equal(both.episode(i)["frames"], store.episode(j)["frames"])
            np.testing.assert_array_equal(both.episode(i)["actions"], store.episode(j)["actions"])
        assert EpisodeStore(source, tasks=["push_to_corner"]).refs == other.refs
        both.close()
    ds = WindowDataset([recorded, recorded_other], horizon=1, stride=2)
    assert len(ds) == len(WindowDataset(recorded, horizon=1, stride=2)) + len(WindowDataset(recorded_other, horizon=1,
                                                                                            stride=2))


def test_an_empty_list_of_datasets_or_a_missing_one_is_a_dataset_error(recorded, tmp_path):
    from sim.dataset import shard_paths

    for empty in ([], ()):
        with pytest.raises(DatasetError, match="no dataset given"):
            shard_paths(empty)
        with pytest.raises(DatasetError, match="no dataset given"):
            EpisodeStore(empty)
    with pytest.raises(DatasetError, match="no such shard"):
        EpisodeStore([recorded, tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no shard-"):
        EpisodeStore([recorded, tmp_path / "empty"])
