import functools

import pytest

from sim.env import TabletopEnv
from sim.record import RecordJob, record

IMAGE_SIZE = 32


@pytest.fixture(scope="session")
def episodes_dir(tmp_path_factory):
    """A handful of real expert episodes at 32x32, recorded once per test session."""
    out = tmp_path_factory.mktemp("invdyn-data")
    cfg = {"image_size": IMAGE_SIZE}
    record(RecordJob(out=str(out), tasks=["push_to_center", "push_next_to", "push_to_corner"], episodes=6,
                     episodes_per_shard=3, env_factory=functools.partial(TabletopEnv, **cfg), env_config=cfg))
    return out
