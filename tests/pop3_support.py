"""Helpers for the POP3 tests: bob's POP3 account on the testbed, an IMAP oracle that shows
what is still on the server, and a scripted fake POP3 server for what Dovecot never does."""
from __future__ import annotations

import socket
import threading
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone
from pathlib import Path

from tests.imap_support import other_client
from tests.testbed import Testbed
from tuimail.model.config import Account, parse_config
from tuimail.model.secret import Secret
from tuimail.protocols.pop3 import Pop3Limits, Pop3Session
from tuimail.protocols.trace import ProtocolTrace
from tuimail.store.pop3_store import Pop3Store
from tuimail.store.pop3_sync import Pop3Sync

USER = "bob"


def account(bed: Testbed, security: str = "tls", **overrides) -> Account:
    pop3 = {"security": security, **overrides.pop("pop3", {})}
    text = bed.config_toml(USER, protocol="pop3", timeout=10, pop3=pop3, **overrides)
    return parse_config(text).account(USER)


def password(bed: Testbed) -> Secret:
    return Secret(bed.users[USER])


def make_sync(bed: Testbed, root: Path, trace: ProtocolTrace | None = None, store: Pop3Store | None = None,
              clock=None, **overrides) -> Pop3Sync:
    acct = account(bed, **overrides)
    store = store if store is not None else Pop3Store(root)
    extra = {"clock": clock} if clock is not None else {}
    return Pop3Sync(store, acct, connect=lambda: Pop3Session.connect(acct, password(bed), trace=trace), **extra)


def on_server(bed: Testbed) -> list[str]:
    """Message-IDs in bob's INBOX now, through IMAP on a fresh connection: the oracle."""
    with other_client(bed) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        data = client.fetch(uids, ["ENVELOPE"]) if uids else {}
    return sorted(d[b"ENVELOPE"].message_id.decode() for d in data.values())


def message(n: int, body: str = "Hello.\n", size: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Carol <carol@example.test>"
    msg["To"] = "Bob <bob@example.test>"
    msg["Subject"] = f"message {n}"
    msg["Date"] = format_datetime(datetime(2024, 1, 1, 12, n % 60, tzinfo=timezone.utc))
    msg["Message-ID"] = make_msgid(f"m{n}", domain="example.test")
    msg.set_content(body + ("x" * 76 + "\n") * (size // 77))
    return msg.as_bytes()


# ---------------------------------------------------------------- a scripted POP3 server

class FakePop3:
    """One connection on 127.0.0.1 (plain; the account allows plaintext auth), answering from
    a list of (uidl, raw message). Options replace parts of its behaviour; `log` has every
    command line received and `committed` the numbers deleted by an accepted QUIT."""

    def __init__(self, messages: list[tuple[bytes | None, bytes]], greeting: bytes = b"+OK fake POP3",
                 capa: tuple[bytes, ...] = (b"USER", b"UIDL", b"TOP", b"PIPELINING"),
                 uidl_lines: list[bytes] | None = None, retr=None, top=None, quit_reply: bytes = b"+OK bye",
                 auth_reply: bytes = b"+OK in"):
        self.messages, self.greeting, self.capa = messages, greeting, capa
        self.uidl_lines, self.retr, self.top = uidl_lines, retr, top
        self.quit_reply, self.auth_reply = quit_reply, auth_reply
        self.log: list[bytes] = []
        self.deleted: set[int] = set()
        self.committed: set[int] | None = None
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def account(self, timeout: float = 2, **overrides) -> Account:
        extra = "".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}\n" for k, v in overrides.items())
        return parse_config(f"""
[accounts.fake]
email = "bob@example.test"
username = "bob"
protocol = "pop3"
timeout = {timeout}
{extra}
[accounts.fake.pop3]
host = "127.0.0.1"
port = {self.port}
security = "plain"
allow_plaintext_auth = true
""").account("fake")

    def connect(self, trace: ProtocolTrace | None = None, limits: Pop3Limits | None = None,
                **overrides) -> Pop3Session:
        return Pop3Session.connect(self.account(**overrides), Secret("pw"), trace=trace, limits=limits)

    def _serve(self) -> None:
        self.listener.settimeout(10)
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        conn.settimeout(10)
        try:
            conn.sendall(self.greeting + b"\r\n")
            reader = conn.makefile("rb")
            while line := reader.readline(65536):
                self.log.append(line.rstrip(b"\r\n"))
                if not self._answer(conn, line.strip().split(b" ")):
                    return
        except OSError:
            pass
        finally:
            conn.close()
            self.listener.close()

    def _answer(self, conn: socket.socket, words: list[bytes]) -> bool:
        cmd, args = words[0].upper(), words[1:]
        live = [n for n in range(1, len(self.messages) + 1) if n not in self.deleted]
        n = int(args[0]) if args and args[0].isdigit() else 0
        exists = n in live
        if cmd == b"CAPA":
            conn.sendall(b"+OK\r\n" + b"".join(c + b"\r\n" for c in self.capa) + b".\r\n")
        elif cmd in (b"USER", b"AUTH"):
            conn.sendall(b"+OK\r\n" if cmd == b"USER" else self.auth_reply + b"\r\n")
        elif cmd == b"PASS":
            conn.sendall(self.auth_reply + b"\r\n")
        elif cmd == b"STAT":
            conn.sendall(b"+OK %d %d\r\n" % (len(live), sum(len(self.messages[i - 1][1]) for i in live)))
        elif cmd == b"UIDL" and b"UIDL" not in self.capa:
            conn.sendall(b"-ERR no UIDL here\r\n")
        elif cmd in (b"UIDL", b"LIST") and not args:
            lines = self.uidl_lines if cmd == b"UIDL" and self.uidl_lines is not None else [
                b"%d %s" % (i, self.messages[i - 1][0] if cmd == b"UIDL" else b"%d" % len(self.messages[i - 1][1]))
                for i in live]
            conn.sendall(b"+OK\r\n" + b"".join(x + b"\r\n" for x in lines) + b".\r\n")
        elif cmd in (b"UIDL", b"LIST"):
            if not exists:
                conn.sendall(b"-ERR no such message\r\n")
            else:
                value = self.messages[n - 1][0] if cmd == b"UIDL" else b"%d" % len(self.messages[n - 1][1])
                conn.sendall(b"+OK %d %s\r\n" % (n, value))
        elif cmd in (b"TOP", b"RETR") and exists:
            raw = self.messages[n - 1][1]
            if cmd == b"RETR" and self.retr is not None:
                return self.retr(conn, n) is not False
            if cmd == b"TOP" and self.top is not None:
                return self.top(conn, n) is not False
            if cmd == b"TOP":
                raw = raw.split(b"\n\n", 1)[0] + b"\n"
            conn.sendall(b"+OK\r\n" + stuffed(raw) + b".\r\n")
        elif cmd == b"DELE" and exists:
            self.deleted.add(n)
            conn.sendall(b"+OK marked\r\n")
        elif cmd == b"QUIT":
            conn.sendall(self.quit_reply + b"\r\n")
            if self.quit_reply.startswith(b"+OK"):
                self.committed = set(self.deleted)
            return False
        elif cmd in (b"NOOP", b"RSET"):
            conn.sendall(b"+OK\r\n")
        else:
            conn.sendall(b"-ERR no such message or command\r\n")
        return True

    def wait(self) -> None:
        self.thread.join(10)


def stuffed(raw: bytes) -> bytes:
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)
