"""`tuimail send` and `tuimail outbox` run as a user would, in a subprocess, against the real
submission server and Dovecot, with the outbox in a temporary XDG_DATA_HOME."""
from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from email.policy import default as default_policy
from pathlib import Path

import pytest

from tests.test_smtp_send import mailbox
from tests.testbed.net import free_ports
from tuimail.store.outbox import Outbox, OutboxState

ROOT = Path(__file__).resolve().parents[1]
USER = "bob"


@pytest.fixture
def cli(clean_testbed, tmp_path):
    bed = clean_testbed
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUIMAIL", "XDG_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               XDG_DATA_HOME=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    config = tmp_path / "config.toml"

    def run(*args: str, stdin: str | bytes = b"", code: int | None = 0, **overrides) -> subprocess.CompletedProcess:
        config.write_text(bed.config_toml(USER, timeout=10, display_name="Bob Builder", **overrides))
        data = stdin.encode() if isinstance(stdin, str) else stdin
        done = subprocess.run([sys.executable, "-m", "tuimail", "--config", str(config), *args],
                              input=data, capture_output=True, timeout=120, env=env, cwd=tmp_path)
        done.out, done.err = done.stdout.decode(), done.stderr.decode()
        if code is not None:
            assert done.returncode == code, (done.out, done.err)
        return done

    run.bed = bed
    run.outbox = tmp_path / "data" / "tuimail" / "outbox"
    return run


def test_send_with_cc_bcc_and_an_attachment(cli, tmp_path):
    bed = cli.bed
    blob = os.urandom(70_000)
    (tmp_path / "report.bin").write_bytes(blob)
    done = cli("send", "--to", bed.address("alice"), "--cc", f"Bob <{bed.address(USER)}>",
               "--bcc", "hidden@elsewhere.test", "--subject", "Grüße ✓ from the CLI",
               "--attach", str(tmp_path / "report.bin"), "--json", stdin="Hallo Alice,\nanbei.\n")
    result = json.loads(done.out)
    assert result["state"] == "sent" and result["filed"] and result["filing"] == "filed in Sent"
    assert [(r["address"], r["code"], r["accepted"]) for r in result["results"]] == [
        (bed.address("alice"), 250, True), (bed.address(USER), 250, True), ("hidden@elsewhere.test", 250, True)]
    assert result["error"] is None and result["id"] in os.listdir(cli.outbox)[0]

    (raw, _), = mailbox(bed, "alice")
    got = email.message_from_bytes(raw, policy=default_policy)
    assert got["Subject"] == "Grüße ✓ from the CLI" and str(got["From"]) == f"Bob Builder <{bed.address(USER)}>"
    assert got["Message-ID"] == result["message_id"] and "Bcc" not in got
    assert got.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hallo Alice,\nanbei.\n"
    (part,) = got.iter_attachments()
    assert part.get_filename() == "report.bin" and part.get_content() == blob
    assert len(mailbox(bed, USER, "Sent")) == 1 and len(mailbox(bed, USER)) == 1
    assert bed.submissions()[0].rcpt_tos[-1] == "hidden@elsewhere.test"


def test_send_an_eml_file_as_it_is(cli, tmp_path):
    bed = cli.bed
    raw = (f"From: Bob <{bed.address(USER)}>\r\nTo: {bed.address('alice')}\r\nBcc: {bed.address(USER)}\r\n"
           "Subject: verbatim\r\nX-Original: kept\r\n\r\nBody line\r\n.dot line\r\n").encode()
    (tmp_path / "m.eml").write_bytes(raw)
    done = cli("send", "--eml", str(tmp_path / "m.eml"))
    entry_id, state = done.out.splitlines()[0].split()
    assert state == "sent" and f"queued as {entry_id}" in done.err
    submission = bed.submissions()[0]
    assert submission.rcpt_tos == (bed.address("alice"), bed.address(USER))
    assert b"Bcc:" not in submission.data and submission.data.endswith(
        b"Subject: verbatim\r\nX-Original: kept\r\n\r\nBody line\r\n.dot line\r\n")
    assert len(mailbox(bed, "alice")) == 1 and len(mailbox(bed, USER)) == 1


def test_one_refused_recipient_is_shown_and_the_other_gets_it(cli):
    bed = cli.bed
    done = cli("send", "--to", bed.address(USER), "--to", "nobody@example.test", "--subject", "two",
               stdin="hi\n")
    assert done.out.splitlines()[0].endswith(" sent")
    assert f"accepted {bed.address(USER)}: 250" in done.out
    assert "refused  nobody@example.test: 550 5.1.1" in done.out
    assert len(mailbox(bed, USER)) == 1


def test_a_failed_send_stays_in_the_outbox_until_retried(cli):
    bed = cli.bed
    (closed,) = free_ports(1, [bed.host])
    done = cli("send", "--to", bed.address(USER), "--subject", "later", stdin="text\n", code=1,
               smtp={"port": closed})
    entry_id, state = done.out.splitlines()[0].split()
    assert state == "failed" and "connection refused" in done.out
    assert f"`tuimail outbox retry {entry_id}` sends it again" in done.err

    listed = json.loads(cli("outbox", "list", "--json").out)
    assert [(e["id"], e["state"]) for e in listed["entries"]] == [(entry_id, "failed")]
    assert f"{entry_id}  failed" in cli("outbox").out and bed.submissions() == []

    done = cli("outbox", "retry", entry_id)
    assert done.out.splitlines()[0] == f"{entry_id} sent" and len(bed.submissions()) == 1
    done = cli("outbox", "retry", entry_id, code=1)
    assert "sent already" in done.err and len(bed.submissions()) == 1
    assert cli("outbox", "drop", entry_id).out.strip() == f"{entry_id} dropped"
    assert json.loads(cli("outbox", "--json").out)["entries"] == []
    assert len(mailbox(bed, USER)) == 1 and len(mailbox(bed, USER, "Sent")) == 1


def test_an_unknown_delivery_is_resent_only_with_force(cli):
    bed = cli.bed
    dry = cli("send", "--to", bed.address(USER), "--subject", "once", "--dry-run", stdin="x\n")
    assert "Subject: once\r\n" in dry.out and not cli.outbox.exists()  # --dry-run queues nothing
    outbox = Outbox(cli.outbox)
    entry = outbox.enqueue(USER, f"From: {bed.address(USER)}\r\nTo: {bed.address(USER)}\r\nSubject: maybe\r\n\r\n"
                           "x\r\n".encode(), bed.address(USER), [])
    entry.state, entry.reply = OutboxState.UNKNOWN, "connection lost after the final dot"
    outbox.save(entry)
    done = cli("outbox", "retry", entry.id, code=1)
    assert "may have been delivered already" in done.err and "--force" in done.err
    assert bed.submissions() == []
    done = cli("outbox", "retry", entry.id, "--force", "--stats")
    assert done.out.startswith(f"{entry.id} sent") and len(bed.submissions()) == 1
    assert "smtp: " in done.err and " round trips" in done.err


def test_a_wrong_password_is_reported_without_showing_it(cli):
    bed = cli.bed
    done = cli("send", "--to", bed.address(USER), "--subject", "auth", stdin="x\n", code=1,
               password_command="printf wrong-pass-4711")
    assert done.out.splitlines()[0].endswith(" failed") and "535" in done.out
    assert "wrong-pass-4711" not in done.out + done.err
    assert b"wrong-pass-4711" not in b"".join(p.read_bytes() for p in cli.outbox.iterdir())
    assert bed.submissions() == []


@pytest.mark.parametrize("args, message", [
    (("--to", "bob@example.test"), "--subject is required"),
    (("--subject", "x"), "no recipients"),
    (("--to", "bob@example.test\r\nBcc: evil@example.test", "--subject", "x"), "line break"),
    (("--to", "bob@example.test", "--subject", "x\r\nBcc: evil@example.test"), "line break"),
    (("--eml", "m.eml", "--subject", "x"), "do not apply"),
])
def test_bad_input_queues_nothing(cli, args, message):
    done = cli("send", *args, stdin="x\n", code=1)
    assert message in done.err
    assert not cli.outbox.exists() or list(cli.outbox.iterdir()) == []
    assert cli.bed.submissions() == []
