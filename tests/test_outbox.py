"""The durable outbox against a scripted SMTP server: each state on disk before the step it
guards, no message sent twice when the server drops the line after the ".", a retry of a
failure sends once, and filing in Sent is retried without sending again."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.outbox_support import FROM, Filer, message, run, server  # noqa: F401
from tests.smtp_support import CREDENTIALS, FakeSmtp, PASSWORD, pki  # noqa: F401
from tuimail.store.outbox import Outbox, OutboxBusy, OutboxError, OutboxState


def all_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())


# ---------------------------------------------------------------- queueing

def test_enqueue_is_durable_private_and_strips_bcc(tmp_path, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    outbox = Outbox(tmp_path / "data" / "outbox")
    entry = outbox.enqueue("fake", message(), FROM, [])
    monkeypatch.undo()

    directory = str(outbox.path)
    assert stat.S_IMODE(outbox.path.stat().st_mode) == 0o700
    names = sorted(p.name for p in outbox.path.iterdir())
    assert names == [f"{entry.id}.eml", f"{entry.id}.json"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in outbox.path.iterdir())
    # each file fsynced under its temp name before the rename, then the directory
    assert [Path(p).name.split(".")[2] for p in synced if p != directory] == ["eml", "json"]
    assert synced.count(directory) == 2 and synced[-1] == directory

    raw = outbox.raw(entry.id)
    assert b"Bcc" not in raw and b"sam@example.test" not in raw
    assert entry.recipients == ["bob@example.test", "carol@example.test", "sam@example.test"]
    assert entry.state is OutboxState.QUEUED and entry.subject == "Quarterly numbers"
    assert entry.message_id == "<outbox-test@example.test>"
    assert Outbox(outbox.path).get(entry.id) == entry


def test_raw_bytes_get_a_message_id_and_date_and_stay_otherwise_unchanged(tmp_path):
    raw = b"From: a@example.test\r\nTo: b@example.test\r\nBcc: c@example.test,\r\n d@example.test\r\n" \
          b"Subject: x\r\n\r\nBody\r\nBcc: not a header\r\n"
    outbox = Outbox(tmp_path)
    entry = outbox.enqueue("fake", raw, "a@example.test", ["b@example.test"])
    stored = outbox.raw(entry.id)
    assert stored.startswith(b"Date: ") and b"\r\nMessage-ID: <" in stored
    assert stored.endswith(b"From: a@example.test\r\nTo: b@example.test\r\nSubject: x\r\n\r\nBody\r\n"
                           b"Bcc: not a header\r\n")
    assert entry.recipients == ["b@example.test", "c@example.test", "d@example.test"]
    assert entry.message_id and entry.message_id in stored.decode()


@pytest.mark.parametrize("bad", ["../../etc/passwd", "x", "20240101-000000-zzzzzz", ""])
def test_ids_are_checked_before_they_touch_a_path(tmp_path, bad):
    outbox = Outbox(tmp_path)
    for call in (outbox.get, outbox.raw, outbox.drop):
        with pytest.raises(OutboxError):
            call(bad)


# ---------------------------------------------------------------- the state machine

def test_sending_is_on_disk_before_the_message_reaches_the_server(tmp_path, server, pki):
    outbox = Outbox(tmp_path)
    entry = outbox.enqueue("fake", message(), FROM, [])
    seen: list[str] = []

    def end(fake, received):
        seen.append(json.loads((tmp_path / f"{entry.id}.json").read_text())["state"])
        return b"250 2.0.0 queued as 42"

    server.replies["end"] = end
    filer = Filer()
    done = run(outbox, server, pki, entry.id, filer)
    assert seen == ["sending"]
    assert done.state is OutboxState.SENT and done.filed and done.filing == "filed in Sent"
    assert done.reply == "250 2.0.0 queued as 42" and done.attempts == 1
    assert filer.calls == [(outbox.raw(entry.id), "<outbox-test@example.test>")]
    assert server.delivered[0].data.replace(b"\r\n", b"\n") == outbox.raw(entry.id).replace(b"\r\n", b"\n")
    assert Outbox(tmp_path).get(entry.id).state is OutboxState.SENT


@pytest.mark.parametrize("reply", [b"451 4.3.0 try later", b"552 5.3.4 too big"])
def test_failed_keeps_the_message_and_the_reply_and_a_retry_sends_once(tmp_path, server, pki, reply):
    outbox = Outbox(tmp_path)
    entry = outbox.enqueue("fake", message(), FROM, [])
    before = outbox.raw(entry.id)
    server.replies["end"] = reply
    filer = Filer()
    done = run(outbox, server, pki, entry.id, filer)
    assert done.state is OutboxState.FAILED and reply.decode() in done.reply
    assert filer.calls == [] and outbox.raw(entry.id) == before  # no Sent copy without a 250
    assert Outbox(tmp_path).get(entry.id).state is OutboxState.FAILED

    server.replies["end"] = b"250 2.0.0 ok"
    done = run(outbox, server, pki, entry.id, filer)
    assert done.state is OutboxState.SENT and done.attempts == 2 and len(server.delivered) == 1


def test_dropped_after_the_dot_is_unknown_and_never_resent_unless_forced(tmp_path, server, pki):
    outbox = Outbox(tmp_path)
    entry = outbox.enqueue("fake", message(), FROM, [])
    server.replies["end"] = None
    done = run(outbox, server, pki, entry.id)
    assert done.state is OutboxState.UNKNOWN and "may or may not have been delivered" in done.reply
    assert len(server.connections) == 1

    with pytest.raises(OutboxError, match="may have been delivered already.*--force"):
        run(outbox, server, pki, entry.id)
    assert len(server.connections) == 1  # not even a connection
    assert Outbox(tmp_path).get(entry.id).state is OutboxState.UNKNOWN

    server.replies["end"] = b"250 ok"
    done = run(outbox, server, pki, entry.id, force=True)
    assert done.state is OutboxState.SENT and len(server.connections) == 2


def test_filing_failure_after_the_250_retries_filing_only(tmp_path, server, pki):
    outbox = Outbox(tmp_path)
    entry = outbox.enqueue("fake", message(), FROM, [])
    filer = Filer(failures=1)
    done = run(outbox, server, pki, entry.id, filer)
    assert done.state is OutboxState.FILING_FAILED and "OVERQUOTA" in done.filing
    assert done.reply.startswith("250") and len(server.delivered) == 1

    done = run(outbox, server, pki, entry.id, filer)
    assert done.state is OutboxState.SENT and done.filed and len(filer.calls) == 2
    assert len(server.connections) == 1 and len(server.delivered) == 1  # never resent


def test_partial_refusal_is_sent_with_each_answer_kept(tmp_path, pki):
    rcpt = lambda address: b"550 5.1.1 unknown" if address.startswith(b"carol") else b"250 ok"  # noqa: E731
    with FakeSmtp(starttls=pki["server"], rcpt=rcpt) as server:
        outbox = Outbox(tmp_path)
        entry = outbox.enqueue("fake", message(), FROM, [])
        done = run(outbox, server, pki, entry.id)
    assert done.state is OutboxState.SENT
    assert [(r.address, r.code, r.accepted) for r in Outbox(tmp_path).get(entry.id).results] == [
        ("bob@example.test", 250, True), ("carol@example.test", 550, False), ("sam@example.test", 250, True)]


def test_a_live_sender_is_left_alone_and_a_dead_one_becomes_unknown(tmp_path):
    outbox = Outbox(tmp_path)
    entry = outbox.enqueue("fake", message(), FROM, [])
    entry.state = OutboxState.SENDING
    outbox.save(entry)
    with outbox.lock(entry.id):  # as a process in the middle of sending holds it
        assert Outbox(tmp_path).get(entry.id).state is OutboxState.SENDING
        with pytest.raises(OutboxBusy):
            Outbox(tmp_path).drop(entry.id)
    again = Outbox(tmp_path).get(entry.id)
    assert again.state is OutboxState.UNKNOWN and "stopped while sending" in again.reply
    assert json.loads((tmp_path / f"{entry.id}.json").read_text())["state"] == "unknown"

    entry = outbox.enqueue("fake", message(), FROM, [])
    entry.state, entry.filed = OutboxState.SENT, False  # delivered, killed before filing
    outbox.save(entry)
    assert Outbox(tmp_path).get(entry.id).state is OutboxState.FILING_FAILED


# ---------------------------------------------------------------- secrets

def test_passwords_never_reach_outbox_files(tmp_path, pki):
    with FakeSmtp(starttls=pki["server"], replies={"auth": b"535 5.7.8 no " + PASSWORD.encode()}) as server:
        outbox = Outbox(tmp_path)
        entry = outbox.enqueue("fake", message(), FROM, [])
        done = run(outbox, server, pki, entry.id)
        assert done.state is OutboxState.FAILED and "535" in done.reply and PASSWORD not in done.reply
        server.replies["auth"] = b"235 ok"
        assert run(outbox, server, pki, entry.id).state is OutboxState.SENT
    stored = all_bytes(tmp_path)
    for secret in CREDENTIALS:
        assert secret not in stored
