"""Hydra config groups of dreamplan (a package so the configs ship with a non-editable install too)."""
