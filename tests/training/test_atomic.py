"""training.atomic: a file appears whole or not at all, and a failed write names the file being written."""

import errno

import pytest

from training.atomic import atomic_path, atomic_write, write_synced


def test_a_failed_write_names_the_final_path_and_leaves_nothing(tmp_path):
    path = tmp_path / "out" / "result.json"
    with pytest.raises(OSError) as e:
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")  # what a failed write() raises: no file name
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(path)
    assert list(path.parent.iterdir()) == []


def test_an_error_about_another_file_keeps_its_own_name(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        with atomic_path(tmp_path / "a.txt"):
            (tmp_path / "missing.txt").read_text()
    assert e.value.filename == str(tmp_path / "missing.txt")


def test_writes_land_whole(tmp_path):
    atomic_write(tmp_path / "a.txt", "hello")
    write_synced(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.txt").read_text() == "hello" and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    with pytest.raises(IsADirectoryError) as e:
        write_synced(tmp_path, b"x")
    assert e.value.filename == str(tmp_path)
