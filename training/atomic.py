"""Atomic writes: a file appears whole or not at all (written beside it, flushed to disk, then renamed over).

An OSError from any of these names the file being written: a failed write() or close() names none, so a full disk
would otherwise be reported without saying where.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def naming(path: str | Path, *written_as: str | Path) -> Iterator[None]:
    """Re-raise an OSError about writing `path` (or one of its temporary names `written_as`, or no file) as one
    that names `path`."""
    try:
        yield
    except OSError as e:
        if e.errno is None or (e.filename is not None and str(e.filename) not in map(str, written_as)):
            raise
        raise OSError(e.errno, os.strerror(e.errno), str(path)) from None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` and flush it to disk (the files of a directory that is renamed into place whole)."""
    with naming(path), open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside `path` to write (by any library); on success it is synced and renamed to
    `path`, on an exception removed. The suffix is kept, so writers that pick a format by it still do."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        with naming(path, tmp):
            yield tmp
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            _fsync_dir(path.parent)
    finally:
        if tmp.exists():  # not unlink(missing_ok=True): on a read-only file system that raises even for no file
            tmp.unlink()


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return Path(path)
