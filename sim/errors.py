"""The error every user-fixable problem derives from; the command line prints it as one line."""


class DreamplanError(Exception):
    """Bad input, data or checkpoint: the message names the problem and what to do about it."""


def elided(text: str, limit: int = 80) -> str:
    """`text`, cut to `limit` characters with '…' when longer: a user's 5 KB instruction is not echoed whole."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
