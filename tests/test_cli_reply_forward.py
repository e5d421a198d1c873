"""`tuimail reply` and `tuimail forward` run as a user would, in a subprocess, against the real
Dovecot and SMTP submission server; the outbox lives in a temporary XDG_DATA_HOME."""
from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.imap_support import new_folder, other_client
from tests.test_compose_e2e import mailbox, original
from tests.test_forward_bytes import body_parts

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(testbed, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(testbed.config_toml("bob", timeout=10, display_name="Bob Example"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUIMAIL", "XDG_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               XDG_DATA_HOME=str(tmp_path / "data"), PYTHONPATH=str(ROOT))

    def run(*args: str, stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "tuimail", "--config", str(config), *args],
                              input=stdin, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    run.outbox = tmp_path / "data" / "tuimail" / "outbox"
    return run


@pytest.fixture
def stored(testbed):
    """A fresh original in a new folder of bob's: (folder, uid, message id, raw bytes)."""
    mid = f"<cli-{uuid.uuid4().hex[:10]}@origin.example>"
    folder = new_folder(testbed, "C")
    testbed.deliver_files("bob", [original(mid, From="Alice <alice@example.test>",
                                           To="Bob <bob@example.test>, frank@elsewhere.example",
                                           Subject="Plan")], folder=folder)
    with other_client(testbed, folder) as client:
        uid = client.search(["ALL"])[0]
        raw = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    return folder, uid, mid, raw


def flags(testbed, folder: str, uid: int) -> set[bytes]:
    with other_client(testbed, folder) as client:
        return set(client.get_flags([uid])[uid])


def delivered(testbed, user: str, message_id: str) -> bytes:
    with mailbox(testbed, user) as client:
        uids = client.search(["HEADER", "Message-ID", message_id])
        assert len(uids) == 1
        return client.fetch(uids, ["BODY.PEEK[]"])[uids[0]][b"BODY[]"]


def test_reply_dry_run_prints_the_reply_and_queues_nothing(cli, stored, testbed):
    folder, uid, mid, _ = stored
    done = cli("reply", str(uid), "--folder", folder, "--dry-run", stdin="Yes, agreed.\n")
    msg = email.message_from_string(done.stdout, policy=email.policy.default)
    assert msg["In-Reply-To"] == mid and msg["Subject"] == "Re: Plan"
    assert [a.addr_spec for a in msg["To"].addresses] == ["alice@example.test"] and msg["Cc"] is None
    text = msg.get_content().replace("\r\n", "\n")
    assert "Alice <alice@example.test> wrote:\n> Men\u00fc f\u00fcr Montag:" in text
    assert text.rstrip().endswith("> From the kitchen.\n\nYes, agreed.")
    assert not cli.outbox.exists() or not any(cli.outbox.iterdir())
    assert b"\\Answered" not in flags(testbed, folder, uid)


def test_reply_all_is_sent_through_the_outbox(cli, stored, testbed):
    folder, uid, mid, _ = stored
    done = cli("reply", str(uid), "--all", "--folder", folder, "--json", stdin="Count me in.\n")
    report = json.loads(done.stdout)
    assert report["state"] == "sent" and report["kind"] == "reply"
    assert report["recipients"] == ["alice@example.test", "frank@elsewhere.example"]
    assert (cli.outbox / f"{report['id']}.eml").is_file()
    msg = email.message_from_bytes(delivered(testbed, "alice", report["message_id"]), policy=email.policy.default)
    assert msg["In-Reply-To"] == mid and msg["References"] == mid
    assert [a.addr_spec for a in msg["To"].addresses] == ["alice@example.test", "frank@elsewhere.example"]
    assert msg["From"] == "Bob Example <bob@example.test>"
    assert "Count me in." in msg.get_content()
    assert b"\\Answered" in flags(testbed, folder, uid)


def test_forward_as_attachment_from_the_command_line(cli, stored, testbed):
    folder, uid, mid, raw = stored
    done = cli("forward", str(uid), "--folder", folder, "--to", "alice@example.test", "--as-attachment",
               stdin="FYI, the original.\n")
    entry_id, state = done.stdout.splitlines()[0].split()
    assert "accepted alice@example.test: 250" in done.stdout  # each recipient's answer
    assert state == "sent" and (cli.outbox / f"{entry_id}.json").is_file()
    entry = json.loads((cli.outbox / f"{entry_id}.json").read_text())
    whole = delivered(testbed, "alice", entry["message_id"])
    assert body_parts(whole)[1][1] == raw
    assert whole.split(b"\r\n\r\n", 1)[0].count(b"mx2.relay.example") == 0
    assert b"$Forwarded" in flags(testbed, folder, uid)


def test_forward_inline_from_the_command_line(cli, stored, testbed):
    folder, uid, mid, _ = stored
    done = cli("forward", str(uid), "--folder", folder, "--to", "Alice <alice@example.test>", "--inline",
               "--json", stdin="Have a look.\n")
    report = json.loads(done.stdout)
    assert report["state"] == "sent" and report["kind"] == "forward (inline)"
    whole = delivered(testbed, "alice", report["message_id"])
    assert b"mx2.relay.example" not in whole and mid.encode() not in whole
    text = email.message_from_bytes(whole, policy=email.policy.default).get_content().replace("\r\n", "\n")
    assert text.startswith("Have a look.\n\n---------- Forwarded message ----------\nFrom: Alice <alice@example.test>")


def test_bad_input_is_one_line_and_nothing_is_queued(cli, stored):
    folder, uid, _, _ = stored
    done = cli("forward", str(uid), "--folder", folder, "--to", "alice@example.test\r\nBcc: x@evil.example",
               stdin="x", ok=False)
    assert done.returncode == 1 and done.stderr.startswith("tuimail: ") and done.stderr.count("\n") == 1
    done = cli("forward", str(uid), "--folder", folder, "--to", "nobody", stdin="x", ok=False)
    assert done.returncode == 1 and "not a valid address" in done.stderr
    done = cli("reply", "999999", "--folder", folder, stdin="x", ok=False)
    assert done.returncode == 1 and done.stderr.startswith("tuimail: ")
    assert not cli.outbox.exists() or not any(cli.outbox.iterdir())


def test_a_pop3_account_replies_from_its_local_store(testbed, tmp_path):
    subject = f"Pop plan {uuid.uuid4().hex[:8]}"
    mid = f"<pop-{uuid.uuid4().hex[:10]}@origin.example>"
    testbed.deliver_files("bob", [original(mid, From="Alice <alice@example.test>", Subject=subject)])
    config = tmp_path / "pop3.toml"
    config.write_text(testbed.config_toml("bob", protocol="pop3", timeout=10))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUIMAIL", "XDG_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               XDG_DATA_HOME=str(tmp_path / "data"), PYTHONPATH=str(ROOT))

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "tuimail", "--config", str(config), *args], input="ok\n",
                              capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = json.loads(run("list", "--json"))["messages"]
    store_id = next(m["uid"] for m in listed if m["subject"] == subject)
    msg = email.message_from_string(run("reply", str(store_id), "--dry-run"), policy=email.policy.default)
    assert msg["In-Reply-To"] == mid and msg["Subject"] == f"Re: {subject}"
    assert [a.addr_spec for a in msg["To"].addresses] == ["alice@example.test"]
