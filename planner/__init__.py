"""Subgoal planners, the closed-loop agent, evaluation and the command line."""
