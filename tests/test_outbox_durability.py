"""The outbox when things go wrong around it: the process killed (SIGKILL) while sending, the
disk full before or after the 250, the outbox directory read-only. Nothing is lost and nothing
is sent twice; each case says what happened."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.outbox_support import FROM, message, run, server  # noqa: F401
from tests.smtp_support import pki  # noqa: F401
from tuimail.store.outbox import Outbox, OutboxError, OutboxState

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs: a real ENOSPC, and a real read-only remount."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


CHILD = """
import sys
sys.path.insert(0, {root!r})
from tests.smtp_support import PASSWORD, fake_account
from tuimail.model.config import Security
from tuimail.model.secret import Secret
from tuimail.store.outbox import Outbox, deliver
from email.message import EmailMessage
msg = EmailMessage()
msg["From"], msg["To"], msg["Subject"] = "alice@example.test", "bob@example.test", "killed"
msg.set_content("Hello.")
outbox = Outbox({path!r})
entry = outbox.enqueue("fake", msg, "alice@example.test", [])
print(entry.id, flush=True)
deliver(outbox, entry.id, fake_account({port}, Security.STARTTLS, {ca!r}), Secret(PASSWORD),
        file_to_sent=lambda raw, mid: "filed")
print("returned", flush=True)
"""


def test_a_process_killed_while_sending_leaves_an_unknown_entry(tmp_path, server, pki):
    arrived, release = threading.Event(), threading.Event()

    def end(fake, received):
        arrived.set()
        release.wait(30)
        return None

    server.replies["end"] = end
    script = CHILD.format(root=str(ROOT), path=str(tmp_path), port=server.port, ca=str(pki["ca_pem"]))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        entry_id = child.stdout.readline().strip()
        assert arrived.wait(30), "the message never reached the server"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        release.set()
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL and "returned" not in child.stdout.read()
    assert json.loads((tmp_path / f"{entry_id}.json").read_text())["state"] == "sending"

    outbox = Outbox(tmp_path)
    (entry,) = outbox.entries()
    assert entry.id == entry_id and entry.state is OutboxState.UNKNOWN
    assert b"Subject: killed" in outbox.raw(entry_id)
    with pytest.raises(OutboxError, match="may have been delivered"):
        run(outbox, server, pki, entry_id)
    assert len(server.connections) == 1 and len(server.received) == 1


# ---------------------------------------------------------------- full and read-only disks

def test_a_full_disk_is_a_clear_error_that_loses_and_sends_nothing(small_disk, server, pki):
    outbox = Outbox(small_disk / "outbox")
    with pytest.raises(OutboxError, match="not sent.*disk is full"):
        outbox.enqueue("fake", message(size=400_000), FROM, [])
    assert list(outbox.path.iterdir()) == []  # no partial file

    entry = outbox.enqueue("fake", message(), FROM, [])
    filler = fill(small_disk)
    with pytest.raises(OutboxError, match="disk is full"):
        run(outbox, server, pki, entry.id)
    assert server.connections == [] and outbox.get(entry.id).state is OutboxState.QUEUED
    filler.unlink()
    assert run(outbox, server, pki, entry.id).state is OutboxState.SENT


def test_a_disk_full_after_the_250_says_delivered_and_is_never_resent(small_disk, server, pki):
    outbox = Outbox(small_disk / "outbox")
    entry = outbox.enqueue("fake", message(), FROM, [])

    def end(fake, received):
        fill(small_disk)
        return b"250 2.0.0 queued"

    server.replies["end"] = end
    with pytest.raises(OutboxError, match="was delivered.*do not send it again.*disk is full") as caught:
        run(outbox, server, pki, entry.id)
    assert caught.value.entry.state is OutboxState.SENT
    again = Outbox(outbox.path).get(entry.id)
    assert again.state is OutboxState.UNKNOWN and outbox.raw(entry.id)
    with pytest.raises(OutboxError, match="may have been delivered"):
        run(outbox, server, pki, entry.id)
    assert len(server.received) == 1


def test_a_read_only_outbox_can_be_read_but_sends_nothing(small_disk, server, pki):
    outbox = Outbox(small_disk / "outbox")
    entry = outbox.enqueue("fake", message(), FROM, [])
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    outbox = Outbox(small_disk / "outbox")
    assert [e.id for e in outbox.entries()] == [entry.id]
    with pytest.raises(OutboxError, match="not sent.*Read-only file system"):
        outbox.enqueue("fake", message(), FROM, [])
    with pytest.raises(OutboxError, match="not writable"):
        run(outbox, server, pki, entry.id)
    assert server.connections == [] and outbox.get(entry.id).state is OutboxState.QUEUED
