"""Inverse-dynamics models: the actions that connect consecutive (imagined) frames."""
