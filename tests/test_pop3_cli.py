"""`tuimail list|read|save` and `tuimail pop3 sync|delete` for POP3 accounts, run as a user
would, in a subprocess against the real Dovecot, with every XDG directory in tmp."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.imap_support import message as rich_message
from tests.pop3_support import USER, message, on_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(testbed, tmp_path):
    testbed.clear(USER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUIMAIL", "XDG_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               XDG_DATA_HOME=str(tmp_path / "data"), PYTHONPATH=str(ROOT))

    def run(*args: str, ok: bool = True, **overrides) -> subprocess.CompletedProcess:
        config = tmp_path / "config.toml"
        settings = {"protocol": "pop3", "timeout": 10, **overrides}
        config.write_text(testbed.config_toml(USER, **settings))
        done = subprocess.run([sys.executable, "-m", "tuimail", "--config", str(config), *args],
                              capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
                              stdin=subprocess.DEVNULL)
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    run.store = tmp_path / "data" / "tuimail" / "pop3" / USER
    return run


def stats(stderr: str) -> tuple[int, int]:
    match = re.search(r"pop3: (\d+) bytes in, \d+ bytes out, (\d+) round trips", stderr)
    assert match, stderr
    return int(match.group(1)), int(match.group(2))


def test_list_read_and_save_over_pop3(cli, testbed, tmp_path):
    testbed.deliver_files(USER, [message(i) for i in range(1, 8)] + [
        rich_message("with a file", attachments=[("report.pdf", b"%PDF-1.4 data", "application/pdf")])])
    done = cli("list", "--limit", "3", "--json", "--stats")
    data = json.loads(done.stdout)
    assert data["protocol"] == "pop3" and data["count"] == 8
    assert [m["seq"] for m in data["messages"]] == [8, 7, 6] and data["messages"][0]["subject"] == "with a file"
    assert all(m["uidl"] for m in data["messages"])
    cold_bytes, cold_trips = stats(done.stderr)
    assert cold_trips <= 5 and cold_bytes < 10_000  # CAPA, AUTH, STAT, the window, QUIT
    offline = json.loads(cli("list", "--limit", "3", "--json", "--offline").stdout)
    assert offline["messages"] == data["messages"]
    warm_bytes, _ = stats(cli("list", "--limit", "3", "--stats").stderr)
    assert warm_bytes < cold_bytes / 2

    uid = str(data["messages"][0]["uid"])
    read = cli("read", uid)
    assert "Subject: with a file" in read.stdout and "report.pdf" in read.stdout
    again = cli("read", uid, "--stats", "--json")
    assert stats(again.stderr) == (0, 0)  # read from the local store: no connection at all
    assert json.loads(again.stdout)["attachments"][0]["filename"] == "report.pdf"
    out = tmp_path / "out"
    out.mkdir()
    saved = json.loads(cli("save", uid, "2", "--dir", str(out), "--json").stdout)
    assert Path(saved["path"]).read_bytes() == b"%PDF-1.4 data" and Path(saved["path"]).parent == out
    assert len(on_server(testbed)) == 8  # reading never deletes
    wrong = cli("list", "--folder", "Archive", ok=False)
    assert wrong.returncode == 1 and "POP3 has only INBOX" in wrong.stderr


def test_pop3_sync_dry_run_then_for_real(cli, testbed):
    testbed.deliver_files(USER, [message(i) for i in range(1, 5)])
    dry = cli("pop3", "sync", "--dry-run", keep_on_server=False)
    assert "would download 4" in dry.stdout and "dry run" in dry.stdout
    assert not any(cli.store.joinpath("cur").iterdir()) and len(on_server(testbed)) == 4
    done = cli("pop3", "sync", "--json", "--stats", keep_on_server=False)
    report = json.loads(done.stdout)
    assert report["ok"] and len(report["downloaded"]) == 4 and len(report["deleted"]) == 4
    assert all(re.fullmatch(r"[0-9a-f]{8}[0-9a-f]{8}", d["key"]) for d in report["deleted"])
    assert on_server(testbed) == [] and len(list(cli.store.joinpath("cur").iterdir())) == 4
    testbed.deliver_files(USER, [message(9)])
    text = cli("pop3", "sync")  # the default policy keeps
    assert "downloaded 1:" in text.stdout and "policy: keep on the server" in text.stdout
    assert "summary: downloaded 1, deleted 0, kept 1, skipped 0" in text.stdout
    listed = json.loads(cli("list", "--json", "--offline").stdout)
    assert listed["count"] == 5  # the four kept only here, below the one still on the server
    assert [m["subject"] for m in listed["messages"]][0] == "message 9"
    assert sorted(m["subject"] for m in listed["messages"][1:]) == [f"message {i}" for i in range(1, 5)]
    online = json.loads(cli("list", "--json").stdout)
    assert online["messages"] == listed["messages"]


def test_pop3_delete_then_sync_deletes_on_the_server(cli, testbed):
    testbed.deliver_files(USER, [message(i) for i in range(1, 4)])
    policy = {"delete_on_server_when_deleted_locally": True}
    cli("pop3", "sync", **policy)
    first = json.loads(cli("list", "--json", "--offline").stdout)["messages"][0]
    done = cli("pop3", "delete", str(first["uid"]), **policy)
    assert "next `tuimail pop3 sync` deletes them on the server" in done.stdout
    report = json.loads(cli("pop3", "sync", "--json", **policy).stdout)
    assert [d["id"] for d in report["deleted"]] == [first["uid"]] and len(on_server(testbed)) == 2
    missing = cli("pop3", "delete", "99999", ok=False)
    assert missing.returncode == 1 and "no message 99999" in missing.stderr


def test_an_imap_account_falls_back_to_pop3_when_imap_is_unreachable(cli, testbed):
    testbed.deliver_files(USER, [message(1), message(2)])
    done = cli("list", "--json", protocol="imap", fallback="pop3", imap={"port": 1, "security": "tls"})
    assert json.loads(done.stdout)["protocol"] == "pop3" and "fallback" in done.stderr
    refused = cli("list", protocol="imap", imap={"port": 1, "security": "tls"}, ok=False)
    assert refused.returncode == 1 and "connection refused" in refused.stderr
