"""The [limits] caps on what the IMAP reader takes from one message (issue #8 item 4; SECURITY-CASES
16, 22): a hostile BODYSTRUCTURE too deep or with too many parts (mime_depth, mime_parts) and a
displayed part over its fetch cap (2 bytes a character of body_chars, at most message_bytes).
Each is set small in the config and hit by the scripted fake server or the real Dovecot; the
message is shown as far as the cap allows, with a notice naming the key.
"""
from __future__ import annotations

from email.message import EmailMessage

import pytest

from tests.imap_support import new_folder, password as bob_password
from tests.test_imap_hostile import FakeServer as FakeImap
from tests.test_limits import PLAIN, config_text, fetch_answer, imap
from tuimail.model.config import parse_config
from tuimail.model.limits import Limits, text_fetch
from tuimail.model.mime import MimePart
from tuimail.protocols.imap import ImapSession
from tuimail.protocols.trace import ProtocolTrace
from tuimail.store.folder_sync import FolderSync

# ---------------------------------------------------------------- hostile BODYSTRUCTURE

TEXT = b'("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 5 1 NIL NIL NIL NIL)'
BLOB = b'("application" "octet-stream" NIL NIL NIL "base64" 4 NIL ("attachment" ("filename" "a.bin")) NIL NIL)'


def deep_structure(levels: int, more: bytes = b"") -> bytes:
    """multipart/mixed (TEXT, multiparts nested `levels` deep in all with a TEXT at the bottom, more)."""
    chain = TEXT
    for _ in range(levels - 1):
        chain = b"(" + chain + b' "mixed")'
    return b"(" + TEXT + chain + more + b' "mixed")'


def wide_structure(parts: int) -> bytes:
    """multipart/mixed of `parts` parts in all: itself, TEXT, and attachments."""
    return b"(" + TEXT + BLOB * (parts - 2) + b' "mixed")'


def structure_server(bodystructure: bytes, commands: list[bytes] | None = None):
    """A server with one message, UID 1, of the given BODYSTRUCTURE; its part 1 is "hello"."""
    def script(tag, command, conn):
        if commands is not None:
            commands.append(command)
        verb = command.split(b" ", 1)[0].upper()
        if verb == b"EXAMINE":
            conn.sendall(b"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n"
                         b"%s OK [READ-ONLY] done\r\n" % tag)
        elif b"BODY.PEEK[" in command:
            fetch_answer(b"hello")(tag, command, conn)
        elif b"BODYSTRUCTURE" in command:
            conn.sendall(b'* 1 FETCH (UID 1 FLAGS () INTERNALDATE "01-Jan-2024 00:00:00 +0000" RFC822.SIZE 99 '
                         b'ENVELOPE (NIL "hostile structure" NIL NIL NIL NIL NIL NIL NIL "<m1@x>") '
                         b"BODYSTRUCTURE " + bodystructure + b")\r\n" + tag + b" OK done\r\n")
        else:
            conn.sendall(tag + b" OK done\r\n")
    return script


def read_hostile(bodystructure: bytes, limits: str = ""):
    with imap(structure_server(bodystructure), limits) as session:
        sync = FolderSync(session, None, "x")
        sync.open("INBOX", first=0)
        return sync.read(1)


def depth_of(part: MimePart) -> int:
    return 1 + max((depth_of(child) for child in part.children), default=0)


DEPTH_NOTICE = "MIME nesting deeper than {} levels; inner parts are not listed (limits.mime_depth)"
PARTS_NOTICE = "more than {} MIME parts; the rest are not listed (limits.mime_parts)"


def test_case_22_imap_bodystructure_over_limits_mime_depth():
    view = read_hostile(deep_structure(60), "mime_depth = 10")
    assert view.text == "hello" and view.kind == "plain"  # what can be shown is shown
    assert DEPTH_NOTICE.format(10) in view.problems, view.problems
    assert depth_of(view.summary.structure) <= 11  # the root's level plus 10 below it
    # the default (40) cuts the same structure deeper, and says so with its own number
    view = read_hostile(deep_structure(60))
    assert DEPTH_NOTICE.format(40) in view.problems and view.text == "hello"
    assert 11 < depth_of(view.summary.structure) <= 41
    # a structure within the cap is not cut and says nothing about it
    view = read_hostile(deep_structure(8), "mime_depth = 10")
    assert not any("limits.mime" in p for p in view.problems) and depth_of(view.summary.structure) == 9


def test_case_22_imap_bodystructure_over_limits_mime_parts():
    view = read_hostile(wide_structure(300), "mime_parts = 50")
    assert view.text == "hello"
    assert PARTS_NOTICE.format(50) in view.problems, view.problems
    assert len(list(view.summary.structure.walk())) == 50 and len(view.attachments) == 48
    view = read_hostile(wide_structure(300))  # the default (2,000) lists them all
    assert len(view.attachments) == 298 and not any("limits.mime" in p for p in view.problems)


def test_case_22_tuimail_read_shows_a_cut_bodystructure_with_a_note_naming_the_key(tmp_path, capsys):
    from tuimail.cli import main  # the CLI as `tuimail read` runs it

    server = FakeImap(structure_server(deep_structure(60, BLOB * 298)))
    path = tmp_path / "config.toml"
    text = config_text("imap", server.port, "mime_depth = 10\nmime_parts = 50", extra=PLAIN)
    path.write_text(text.replace("timeout = 2\n", 'timeout = 2\npassword_command = "echo pw"\n'))
    assert main(["--config", str(path), "read", "1", "--no-cache"]) == 0
    out, err = capsys.readouterr()
    assert "Subject: hostile structure" in out and "\nhello\n" in out
    assert f"tuimail: note: {DEPTH_NOTICE.format(10)}" in err and f"tuimail: note: {PARTS_NOTICE.format(50)}" in err


def test_case_22_a_cut_bodystructure_keeps_its_notice_in_the_header_cache(tmp_path):
    from tuimail.store.header_cache import HeaderCache

    cache = HeaderCache(tmp_path / "headers.sqlite3")
    try:
        for _ in range(2):  # the second session reads the structure from the cache, not the server
            commands: list[bytes] = []
            with imap(structure_server(wide_structure(300), commands), "mime_parts = 50") as session:
                sync = FolderSync(session, cache, "x")
                sync.open("INBOX", first=0)
                view = sync.read(1)
            assert PARTS_NOTICE.format(50) in view.problems and len(view.attachments) == 48
        assert not any(b"BODYSTRUCTURE" in c for c in commands), commands
    finally:
        cache.close()


# ---------------------------------------------------------------- the displayed part's fetch cap

def test_case_16_22_imap_displayed_part_over_its_fetch_cap_is_cut_naming_the_key():
    commands: list[bytes] = []

    def script(tag, command, conn):
        commands.append(command)
        fetch_answer(b"t" * 500)(tag, command, conn)

    with imap(script, "body_chars = 100") as session:  # 2 bytes a character: 200 bytes fetched
        text, problems = session.fetch_text(1, MimePart("1", "text/plain", size=500))
    assert commands[-1].endswith(b"(BODY.PEEK[1]<0.200>)")  # asked for no more than the cap
    assert "part 1: only the first 200 of 500 bytes fetched (2 bytes a character of limits.body_chars)" in problems
    assert text == "t" * 100
    # a server sending more than BODYSTRUCTURE announced (and than asked for) is cut all the same
    with imap(script, "body_chars = 100") as session:
        text, problems = session.fetch_text(1, MimePart("1", "text/plain", size=50))
    assert commands[-1].endswith(b"(BODY.PEEK[1])") and text == "t" * 100
    assert "part 1: only the first 200 of 500 bytes fetched (2 bytes a character of limits.body_chars)" in problems
    # message_bytes, the cap on a whole message, bounds the part's fetch too
    with imap(script, "message_bytes = 256") as session:
        text, problems = session.fetch_text(1, MimePart("1", "text/plain", size=500))
    assert commands[-1].endswith(b"(BODY.PEEK[1]<0.256>)") and text == "t" * 256
    assert "part 1: only the first 256 of 500 bytes fetched (limits.message_bytes)" in problems
    assert text_fetch(Limits()) == (4_000_000, "body_chars")


@pytest.mark.parametrize("cte", ["7bit", "base64", "quoted-printable"])
def test_case_22_dovecot_text_over_the_fetch_cap_is_cut_naming_the_key(testbed, cte):
    body = "".join(f"line {i:05d} of a long plain text\n" for i in range(2_000))  # 66,000 characters
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "carol@example.test", "bob@example.test", f"long {cte}"
    msg.set_content(body, cte=cte)
    folder = new_folder(testbed, "L")
    testbed.deliver_files("bob", [msg.as_bytes()], folder=folder)
    config = testbed.config_toml("bob", timeout=10) + "\n[limits]\nbody_chars = 10000\n"
    account = parse_config(config).account("bob")
    trace = ProtocolTrace()
    with ImapSession.connect(account, bob_password(testbed), trace=trace) as session:
        sync = FolderSync(session, None, "bob")
        (row,) = sync.open(folder).rows.values()
        before = trace.counters()
        trace.clear()
        view = sync.read(row.uid)
        spent = trace.counters() - before
    assert trace.commands("FETCH") == [f"UID FETCH {row.uid} (BODY.PEEK[1]<0.20000>)"]
    assert spent.bytes_in < 22_000, spent  # the part is 66,000 bytes or more on the server
    fetched = [p for p in view.problems if p.startswith("part 1: only the first 20,000 of ")]
    assert fetched and fetched[0].endswith(" bytes fetched (2 bytes a character of limits.body_chars)"), view.problems
    # whatever the transfer encoding, the reader still shows the start, body_chars characters
    # long (less the CRs of CRLF line ends, which count but are not shown)
    assert body.startswith(view.text) and 9_600 < len(view.text) <= 10_000
    assert "body over 10,000 characters (limits.body_chars); the rest is not shown" in view.problems
