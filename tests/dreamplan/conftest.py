import pytest


class FixedPlanner:
    """A planner that always answers the same subgoals (to test the agent loop apart from any real planner)."""

    def __init__(self, subgoals):
        self.subgoals = subgoals

    def plan(self, image, instruction):
        return list(self.subgoals)


@pytest.fixture
def fixed_planner():
    return FixedPlanner
