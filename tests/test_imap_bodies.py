"""Opening messages and saving attachments over IMAP against the real Dovecot: only the shown
part crosses the wire, attachments come in partial-FETCH chunks, and hostile file names end
up as plain files directly inside the chosen directory."""
from __future__ import annotations

import os
import random
import stat

import pytest

from tests.imap_support import connect, message, new_folder
from tuimail.protocols.trace import ProtocolTrace
from tuimail.store.attachments import save_attachment
from tuimail.store.folder_sync import FolderSync
from tuimail.store.header_cache import HeaderCache

BODY = "Hi Bob,\n\nthe numbers are attached. Grüße!\n"


@pytest.fixture
def cache(tmp_path) -> HeaderCache:
    cache = HeaderCache(tmp_path / "headers.sqlite3")
    yield cache
    cache.close()


def deliver(testbed, *raws: bytes) -> str:
    folder = new_folder(testbed, "B")
    testbed.deliver_files("bob", list(raws), folder=folder)
    return folder


def test_reading_fetches_the_text_part_and_no_attachment_bytes(testbed, cache):
    blob = random.Random(1).randbytes(2 * 1024 * 1024)
    folder = deliver(testbed, message("Quarterly numbers", BODY, attachments=[("numbers.bin", blob, "application/octet-stream")]))
    trace = ProtocolTrace()
    with connect(testbed, trace=trace) as session:
        sync = FolderSync(session, cache, "bob")
        opened = sync.open(folder)
        (row,) = opened.rows.values()
        assert row.has_attachments and row.size > 2_700_000
        before = trace.counters()
        trace.clear()
        view = sync.read(row.uid)
        spent = trace.counters() - before
        assert view.text.strip() == BODY.strip() and view.kind == "plain"
        assert spent.bytes_in < 10_000, spent
        assert trace.commands("FETCH") == [f"UID FETCH {row.uid} (BODY.PEEK[1])"]
        (attachment,) = view.attachments
        assert attachment.filename == "numbers.bin" and attachment.content_type == "application/octet-stream"
        assert attachment.size > len(blob)  # base64 on the wire
        assert "\\Seen" not in session.fetch_uids([row.uid])[row.uid].flags  # PEEK: still unread


def test_reading_from_the_cache_in_a_new_session_needs_only_the_part(testbed, cache):
    folder = deliver(testbed, message("Cached structure", BODY, attachments=[("a.pdf", b"%PDF-1.4 " * 50_000, "application/pdf")]))
    with connect(testbed) as session:
        FolderSync(session, cache, "bob").open(folder)
    trace = ProtocolTrace()
    with connect(testbed, trace=trace) as session:
        sync = FolderSync(session, cache, "bob")
        (row,) = sync.open(folder).rows.values()
        trace.clear()
        view = sync.read(row.uid, mark_seen=True)
        assert [c.split(" (")[1] for c in trace.commands("FETCH")] == ["BODY.PEEK[1])"]
        assert view.attachments[0].filename == "a.pdf"
        assert "\\Seen" in sync.summary(row.uid).flags  # marked read, and the cache knows
        assert "\\Seen" in session.fetch_uids([row.uid])[row.uid].flags


def test_partial_fetch_returns_just_the_range(testbed):
    folder = deliver(testbed, message("Partial", BODY, attachments=[("p.bin", bytes(range(256)) * 100, "application/octet-stream")]))
    with connect(testbed) as session:
        session.select(folder)
        uid = session.uid_set(1).ranges[0][0]
        chunk = session.fetch_part(uid, "2", 10, 100)
        assert len(chunk) == 100
        assert chunk == session.fetch_part(uid, "2")[10:110]


def test_fetch_header_returns_the_header_block_alone(testbed):
    raw = b"Received: from a.example (a.example [192.0.2.1]) by b.example; Sat, 28 Nov 2026 10:00:00 +0000\r\n" \
          + message("Header only", BODY, attachments=[("h.bin", bytes(range(256)) * 400, "application/octet-stream")])
    folder = deliver(testbed, raw)
    trace = ProtocolTrace()
    with connect(testbed, trace=trace) as session:
        session.select(folder)
        uid = session.uid_set(1).ranges[0][0]
        trace.clear()
        head = session.fetch_header(uid)
        assert trace.commands("FETCH") == [f"UID FETCH {uid} (BODY.PEEK[HEADER])"]
    assert head.startswith(b"Received: from a.example") and head.endswith(b"\r\n\r\n")
    assert b"Subject: Header only" in head
    assert b"h.bin" not in head and len(head) < 2000  # no body, no attachment
    assert head == session_raw_head(raw)


def session_raw_head(raw: bytes) -> bytes:
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return raw[: raw.index(b"\r\n\r\n") + 4]


HOSTILE = [
    ('filename="../../x"', "x"),
    ("filename*=UTF-8''..%2F..%2Fevil.txt", "evil.txt"),
    ('filename="/etc/passwd"', "passwd"),
    ('filename="..\\\\..\\\\win.ini"', "win.ini"),
    ('filename=".."', None),
    ('filename="-rf"', None),
]


def test_attachments_with_hostile_names_are_saved_safely(testbed, tmp_path):
    rng = random.Random(2)
    payloads = [rng.randbytes(300_001 + i * 7) for i in range(len(HOSTILE))]
    raw = message("Hostile names", BODY, raw_filenames=[(p, d) for (p, _), d in zip(HOSTILE, payloads)])
    folder = deliver(testbed, raw)
    target = tmp_path / "deep" / "down"
    target.mkdir(parents=True)
    saved = []
    with connect(testbed) as session:
        session.select(folder, readonly=True)
        uid = session.uid_set(1).ranges[0][0]
        row = session.fetch_uids([uid])[uid]
        from tuimail.model.mime import attachments
        parts = attachments(row.structure)
        assert len(parts) == len(HOSTILE)
        for part, data in zip(parts, payloads):
            path = save_attachment(target, part.filename, session.iter_decoded(uid, part, chunk=65_536))
            saved.append(path)
            assert path.parent == target and os.sep not in path.name and path.name not in (".", "..")
            assert not path.name.startswith(("-", "."))
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert path.read_bytes() == data
    for (params, expected), path in zip(HOSTILE, saved):
        if expected:
            assert path.name == expected, params
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in saved)
    assert [p.name for p in tmp_path.iterdir()] == ["deep"]  # nothing escaped upwards
    assert not (tmp_path / "deep" / "x").exists()
