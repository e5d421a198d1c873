"""`tuimail folders|list|read|save|search` run as a user would, in a subprocess, against the real
Dovecot; the header cache lives in a temporary XDG_CACHE_HOME."""
from __future__ import annotations

import json
import os
import random
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.imap_support import message, new_folder, other_client

ROOT = Path(__file__).resolve().parents[1]
ITEMS = "(UID FLAGS ENVELOPE INTERNALDATE RFC822.SIZE BODYSTRUCTURE)"


@pytest.fixture
def cli(testbed, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(testbed.config_toml("bob", timeout=10))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUIMAIL", "XDG_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               PYTHONPATH=str(ROOT))

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "tuimail", "--config", str(config), *args],
                              capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
                              stdin=subprocess.DEVNULL)
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    run.cache = tmp_path / "cache" / "tuimail"
    return run


def stats(stderr: str) -> tuple[int, int]:
    match = re.search(r"imap: (\d+) bytes in, \d+ bytes out, (\d+) round trips", stderr)
    assert match, stderr
    return int(match.group(1)), int(match.group(2))


@pytest.fixture(scope="module")
def listing_folder(testbed) -> str:
    folder = new_folder(testbed, "L")
    testbed.fill("bob", 3_000, folder=folder, seed=11)
    return folder


def test_list_prints_the_newest_envelopes_lazily(cli, listing_folder):
    done = cli("list", "--folder", listing_folder, "--limit", "20", "--json", "--stats")
    data = json.loads(done.stdout)
    assert data["count"] == 3_000 and [m["seq"] for m in data["messages"]] == list(range(3_000, 2_980, -1))
    uids = [m["uid"] for m in data["messages"]]
    assert uids == sorted(uids, reverse=True) and all(m["subject"] for m in data["messages"])
    cold_bytes, cold_trips = stats(done.stderr)
    assert cold_bytes < 30_000 and cold_trips <= 6
    assert stat.S_IMODE((cli.cache / "headers.sqlite3").stat().st_mode) == 0o600
    again = cli("list", "--folder", listing_folder, "--limit", "20", "--json", "--stats")
    assert json.loads(again.stdout) == data
    warm_bytes, _ = stats(again.stderr)
    assert warm_bytes < 5_000 and warm_bytes < cold_bytes / 3
    page2 = json.loads(cli("list", "--folder", listing_folder, "--limit", "5", "--offset", "20", "--json").stdout)
    assert [m["seq"] for m in page2["messages"]] == list(range(2_980, 2_975, -1))
    text = cli("list", "--folder", listing_folder, "--limit", "3", "--no-cache").stdout.splitlines()
    assert len(text) == 3 and str(uids[0]) in text[0]


def test_read_prints_text_and_attachments_without_downloading_them(cli, testbed):
    folder = new_folder(testbed, "R")
    blob = random.Random(4).randbytes(1_000_000)
    testbed.deliver_files("bob", [message("Report \x1b[31mred", "Body line one.\nTwo.\n",
                                          attachments=[("report.pdf", blob, "application/pdf")])], folder=folder)
    listed = json.loads(cli("list", "--folder", folder, "--json").stdout)["messages"]
    uid = listed[0]["uid"]
    done = cli("read", str(uid), "--folder", folder, "--stats")
    assert "Subject: Report red" in done.stdout and "\x1b" not in done.stdout
    assert "Body line one.\nTwo." in done.stdout
    assert re.search(r"\[2\] report\.pdf  \(application/pdf, 1\.3 MB\)", done.stdout), done.stdout
    assert stats(done.stderr)[0] < 10_000
    data = json.loads(cli("read", str(uid), "--folder", folder, "--json").stdout)
    assert data["text"].startswith("Body line one.") and data["attachments"][0]["filename"] == "report.pdf"
    raw = cli("read", str(uid), "--folder", folder, "--raw").stdout
    assert "Content-Disposition: attachment" in raw and len(raw) > 1_300_000
    with other_client(testbed, folder) as other:
        assert b"\\Seen" not in other.get_flags([uid])[uid]
    missing = cli("read", "999999", "--folder", folder, ok=False)
    assert missing.returncode == 1 and "no message with UID 999999" in missing.stderr


def test_save_streams_an_attachment_under_a_safe_name(cli, testbed, tmp_path):
    folder = new_folder(testbed, "S")
    blob = random.Random(5).randbytes(700_001)
    testbed.deliver_files("bob", [message("Files", "see attached\n", raw_filenames=[
        ("filename*=UTF-8''..%2F..%2Fescape.bin", blob)])], folder=folder)
    uid = json.loads(cli("list", "--folder", folder, "--json").stdout)["messages"][0]["uid"]
    target = tmp_path / "out"
    target.mkdir()
    done = cli("save", str(uid), "2", "--folder", folder, "--dir", str(target), "--json")
    saved = Path(json.loads(done.stdout)["path"])
    assert saved.parent == target and saved.name == "escape.bin"
    assert saved.read_bytes() == blob and stat.S_IMODE(saved.stat().st_mode) == 0o600
    second = Path(json.loads(cli("save", str(uid), "2", "--folder", folder, "--dir", str(target),
                                 "--json").stdout)["path"])
    assert second.name == "escape (1).bin" and saved.read_bytes() == blob  # never overwritten
    assert not (tmp_path / "escape.bin").exists()
    bad = cli("save", str(uid), "7", "--folder", folder, "--dir", str(target), ok=False)
    assert bad.returncode == 1 and "has no part '7'" in bad.stderr


def test_search_and_folders(cli, testbed):
    folder = new_folder(testbed, "Q")
    testbed.deliver_files("bob", [message("alpha report"), message("beta memo"),
                                  message("alpha again", sender="Erin <erin@example.test>")], folder=folder)
    data = json.loads(cli("search", "subject:alpha", "--folder", folder, "--json").stdout)
    assert data["matches"] == 2 and [m["subject"] for m in data["messages"]] == ["alpha again", "alpha report"]
    assert json.loads(cli("search", "from:erin", "alpha", "--folder", folder, "--json").stdout)["matches"] == 1
    assert "alpha report" in cli("search", "report", "--folder", folder).stdout
    folders = {f["name"]: f for f in json.loads(cli("folders", "--json").stdout)}
    assert folders["Trash"]["role"] == "trash" and folders["INBOX"]["role"] == "inbox"
    assert folders[folder]["messages"] == 3 and folders[folder]["unseen"] == 3
    assert "[trash]" in cli("folders").stdout


def test_helpful_failures(cli, testbed, tmp_path):
    for command in ("list", "read", "save", "search", "folders"):
        assert cli(command, "--help").stdout.startswith("usage: tuimail " + command)
    nofolder = cli("list", "--folder", "No/Such/Folder", ok=False)
    assert nofolder.returncode == 1 and nofolder.stderr.startswith("tuimail: ") and len(nofolder.stderr.splitlines()) == 1
    config = tmp_path / "nopw.toml"
    config.write_text(testbed.config_toml("bob", password_command=None))
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "c"), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = subprocess.run([sys.executable, "-m", "tuimail", "--config", str(config), "list"], capture_output=True,
                          text=True, timeout=60, env=env, stdin=subprocess.DEVNULL, cwd=ROOT)
    assert done.returncode == 1 and "no password for account 'bob'" in done.stderr
