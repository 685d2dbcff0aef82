"""The error every user-fixable problem derives from; the command line prints it as one line."""


class DreamplanError(Exception):
    """Bad input, data or checkpoint: the message names the problem and what to do about it."""
