"""Text as a Hydra command-line override value that reads back exactly as typed."""

from __future__ import annotations

import re


def literal(text: str) -> str:
    """`text` as a quoted Hydra override value that OmegaConf reads back unchanged: no `${...}` interpolation."""
    # OmegaConf (inner): `\${` is a literal `${`, and backslashes just before `${` escape each other
    text = re.sub(r"(\\*)\$\{", lambda m: m.group(1) * 2 + r"\${", text)
    # Hydra's quoted value (outer): `\'` is a quote, and backslashes just before a quote or the end escape each other
    text = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + r"\'", text)
    text = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, text)
    return f"'{text}'"
