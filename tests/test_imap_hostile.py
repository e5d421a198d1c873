"""SECURITY-CASES B12-B17 against a scripted IMAP server that lies: huge or trickled literals,
endless lines, absurd numbers, unsolicited EXPUNGE and UIDVALIDITY changes. Every case ends
in a clean one-line error (or a correct refusal) within the timeout, never a hang or a crash."""
from __future__ import annotations

import socket
import threading
import time
from typing import Callable

import pytest

from tuimail.model.config import parse_config
from tuimail.model.index import Window
from tuimail.model.secret import Secret
from tuimail.protocols.errors import ConnectError, MailTimeout, ProtocolError
from tuimail.protocols.imap import ImapSession
from tuimail.protocols.imap_folder import StaleUids
from tuimail.protocols.wire import ImapLimits, WireLimit
from tuimail.store.folder_sync import FolderSync

TIMEOUT = 1.0
CAPS = b"IMAP4rev1 IDLE UIDPLUS CONDSTORE ESEARCH"
SELECT = (b"* 10 EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT 11] ok\r\n"
          b"* OK [HIGHESTMODSEQ 5] ok\r\n%s OK [READ-WRITE] done\r\n")
Script = Callable[[bytes, bytes, socket.socket], None]  # (tag, command line, socket)


def envelope(seq: int, uid: int) -> bytes:
    return (b'* %d FETCH (UID %d FLAGS () INTERNALDATE "01-Jan-2024 00:00:00 +0000" RFC822.SIZE 10 '
            b'ENVELOPE (NIL "s%d" NIL NIL NIL NIL NIL NIL NIL "<m%d@x>") BODYSTRUCTURE ("text" "plain" '
            b'("charset" "utf-8") NIL NIL "7bit" 10 1 NIL NIL NIL NIL))\r\n') % (seq, uid, uid, uid)


class FakeServer:
    def __init__(self, script: Script):
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        conn.settimeout(30)
        try:
            conn.sendall(b"* OK [CAPABILITY " + CAPS + b"] fake\r\n")
            reader = conn.makefile("rb")
            while line := reader.readline():
                tag, _, command = line.rstrip(b"\r\n").partition(b" ")
                verb = command.split(b" ", 1)[0].upper()
                if verb == b"CAPABILITY":
                    conn.sendall(b"* CAPABILITY " + CAPS + b"\r\n" + tag + b" OK caps\r\n")
                elif verb == b"LOGIN":
                    conn.sendall(tag + b" OK [CAPABILITY " + CAPS + b"] in\r\n")
                elif verb == b"LOGOUT":
                    conn.sendall(b"* BYE bye\r\n" + tag + b" OK out\r\n")
                    return
                elif verb == b"SELECT" and b"select" not in self.script.__name__.encode():
                    conn.sendall(SELECT % tag)
                else:
                    self.script(tag, command, conn)
        except OSError:
            pass
        finally:
            conn.close()
            self.listener.close()


def session_for(script: Script, limits: ImapLimits | None = None) -> ImapSession:
    server = FakeServer(script)
    config = parse_config(f"""
[accounts.x]
email = "x@example.test"
username = "x"
timeout = {TIMEOUT}
[accounts.x.imap]
host = "127.0.0.1"
port = {server.port}
security = "plain"
allow_plaintext_auth = true
""")
    return ImapSession.connect(config.account("x"), Secret("pw"), limits=limits)


def trickle(conn: socket.socket, head: bytes, step: float = 0.2, count: int = 100) -> None:
    conn.sendall(head)
    for _ in range(count):
        time.sleep(step)
        conn.sendall(b"x")


def timed(call) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        call()
    return info.value, time.monotonic() - started


def test_b12_a_huge_literal_is_refused_at_once():
    def script(tag, command, conn):
        trickle(conn, b"* 1 FETCH (UID 1 BODY[1] {99999999999}\r\n")
    with session_for(script) as session:
        session.select("INBOX")
        error, took = timed(lambda: session.fetch_part(1, "1"))
        assert isinstance(error, WireLimit) and "99999999999" in str(error) and took < 0.5
        assert isinstance(session.broken, ConnectError)
        with pytest.raises(ConnectError):
            session.noop()


@pytest.mark.parametrize("head", [b"* 1 FETCH (UID 1 BODY[1] {500}\r\n", b"* OK a line that never ends"])
def test_b12_b14_a_trickle_times_out(head):
    def script(tag, command, conn):
        trickle(conn, head)
    with session_for(script) as session:
        session.select("INBOX")
        error, took = timed(lambda: session.fetch_part(1, "1"))
        assert isinstance(error, MailTimeout) and took < TIMEOUT * 3


def test_b14_endless_lines_and_endless_responses_hit_a_cap():
    def long_line(tag, command, conn):
        conn.sendall(b"* OK " + b"a" * (5 * 1024 * 1024))
    with session_for(long_line) as session:
        session.select("INBOX")
        assert isinstance(timed(session.noop)[0], WireLimit)

    def many(tag, command, conn):
        conn.sendall(b"* OK again\r\n" * 5_000 + tag + b" OK done\r\n")
    with session_for(many, ImapLimits(max_responses=1_000)) as session:
        session.select("INBOX")
        assert isinstance(timed(session.noop)[0], WireLimit)


@pytest.mark.parametrize("reply", [
    b"* 1 FETCH (UID 1 BODY[1] {-1}\r\n%s OK done\r\n",
    b"* 1 FETCH (UID 1 BODY[1] {1a}\r\n%s OK done\r\n",
    b"* 1 FETCH (UID 1 BODY[1] {}\r\n%s OK done\r\n",
    b"* 1 FETCH (UID 1 BODY[1] {2}\r\nabcdef)\r\n%s OK done\r\n",
    b"* 1 FETCH (UID 1 BODY[1] \"x\"\r\n%s OK done\r\n",
    b"garbage from nowhere\r\n%s OK done\r\n",
    b"%s NO\r\n",
])
def test_b13_b15_malformed_answers_are_clean_errors(reply):
    def script(tag, command, conn):
        conn.sendall(reply.replace(b"%s", tag))
    with session_for(script) as session:
        session.select("INBOX")
        error = timed(lambda: session.fetch_part(1, "1"))[0]
        assert isinstance(error, (ProtocolError, ConnectError)), repr(error)
        assert "\n" not in str(error)


@pytest.mark.parametrize("select", [
    b"* 18446744073709551616 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n%s OK done\r\n",
    b"* 5 EXISTS\r\n* OK [UIDVALIDITY 0] x\r\n%s OK done\r\n",
    b"* 5 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n* OK [UIDNEXT 4294967297] x\r\n%s OK done\r\n",
    b"* 5 EXISTS\r\n%s OK no uidvalidity at all\r\n",
])
def test_b16_b17_absurd_select_numbers_are_rejected(select):
    def script_select(tag, command, conn):
        conn.sendall(select.replace(b"%s", tag))
    with session_for(script_select) as session:
        with pytest.raises(ProtocolError):
            session.select("INBOX")


def test_b16_b17_bad_uids_in_fetch_are_rejected():
    def script(tag, command, conn):
        conn.sendall(envelope(10, 0) + tag + b" OK done\r\n")
    with session_for(script) as session:
        session.select("INBOX")
        with pytest.raises(ProtocolError, match="UID"):
            session.fetch_window(Window(10, 10))


def test_b15_an_expunge_inside_a_fetch_never_shifts_rows_onto_other_messages():
    def script(tag, command, conn):
        conn.sendall(envelope(9, 9) + b"* 3 EXPUNGE\r\n" + envelope(10, 10) + tag + b" OK done\r\n")
    with session_for(script) as session:
        sync = FolderSync(session, None, "x")
        opened = sync.open("INBOX", first=2)
        assert opened.rows == {} and sync.count == 9  # dropped, to be asked for again
        assert sync.take_changes().expunged == [3]


def test_b17_a_uidvalidity_change_mid_session_stops_uid_actions():
    def script(tag, command, conn):
        if command.upper().startswith(b"NOOP"):
            conn.sendall(b"* OK [UIDVALIDITY 2] reset\r\n" + tag + b" OK done\r\n")
        else:
            conn.sendall(tag + b" OK done\r\n")
    with session_for(script) as session:
        sync = FolderSync(session, None, "x")
        sync.open("INBOX", first=0)
        changes = sync.refresh()
        assert changes.uidvalidity == 2 and session.selected is None
        with pytest.raises(StaleUids):
            sync.set_flags([5], add=["\\Seen"])
        with pytest.raises(StaleUids):
            session.delete([5], uidvalidity=1)


def test_bye_in_the_middle_is_a_connect_error():
    def script(tag, command, conn):
        conn.sendall(b"* BYE shutting down\r\n")
        conn.close()
    with session_for(script) as session:
        session.select("INBOX")
        error = timed(session.noop)[0]
        assert isinstance(error, ConnectError) and "shutting down" in str(error)
