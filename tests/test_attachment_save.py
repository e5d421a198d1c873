"""Saving attachments with hostile names (SECURITY-CASES E)."""
from __future__ import annotations

import os

import pytest

from tuimail.model.filenames import safe_filename
from tuimail.store.attachments import SaveCancelled, SaveError, save_attachment

HOSTILE = ["../../.bashrc", "/etc/cron.d/x", "..\\x", "C:\\x", "..", "", "a\x00b\x1b[2J.txt",
           "x" * 300 + ".pdf", "CON", "-rf", ".hidden", "report\u202efdp.exe", "trailing...", "-..x.exe",
           "~.-.profile", None]


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_hostile_names_stay_direct_children(tmp_path, name):
    saved = save_attachment(tmp_path, name, [b"data"])
    assert saved.parent == tmp_path
    assert saved.read_bytes() == b"data"
    assert saved.stat().st_mode & 0o777 == 0o600
    assert not saved.name.startswith((".", "-")) and len(saved.name.encode()) <= 200
    assert "\x1b" not in saved.name and "\u202e" not in saved.name


def test_the_shown_name_is_the_saved_name(tmp_path):
    assert save_attachment(tmp_path, "report\u202efdp.exe", [b"x"]).name == safe_filename("report\u202efdp.exe")
    assert safe_filename("report\u202efdp.exe").endswith(".exe")


def test_existing_file_and_planted_symlink_are_never_written_through(tmp_path):
    target = tmp_path / "victim"
    target.write_bytes(b"keep")
    (tmp_path / "doc.pdf").write_bytes(b"old")
    (tmp_path / "link.txt").symlink_to(target)
    first = save_attachment(tmp_path, "doc.pdf", [b"new"])
    second = save_attachment(tmp_path, "link.txt", [b"evil"])
    assert first.name == "doc (1).pdf" and (tmp_path / "doc.pdf").read_bytes() == b"old"
    assert second.name == "link (1).txt" and target.read_bytes() == b"keep"


def test_failure_midway_removes_the_partial_file(tmp_path):
    def chunks():
        yield b"a" * 1000
        raise OSError(28, "No space left on device")

    with pytest.raises(SaveError, match="No space left"):
        save_attachment(tmp_path, "big.bin", chunks())
    assert os.listdir(tmp_path) == []


def test_cancel_removes_the_partial_file(tmp_path):
    seen = []
    with pytest.raises(SaveCancelled):
        save_attachment(tmp_path, "big.bin", (b"x" * 10 for _ in range(100)),
                        on_progress=seen.append, cancelled=lambda: len(seen) >= 3)
    assert os.listdir(tmp_path) == [] and seen == [10, 20, 30]

