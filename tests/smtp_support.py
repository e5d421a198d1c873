"""A scripted SMTP server that plays what a real one rarely does (STARTTLS missing or refused,
535, 421, a 550 for one recipient, 451/552 after DATA, a connection dropped after the final
"."), recording every line the client sent and every message it took, over any number of
connections; plus accounts pointing at it."""
from __future__ import annotations

import base64
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import trustme

from tuimail.model.config import Account, Protocol, Security, ServerConfig

PASSWORD = "fake-smtp-pw-7"
# Everything that would give the password away on the wire.
CREDENTIALS = (PASSWORD.encode(), base64.b64encode(f"\0alice\0{PASSWORD}".encode()),
               base64.b64encode(PASSWORD.encode()))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("smtp-pki")
    ca = trustme.CA()
    ca_pem = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    return {"ca_pem": ca_pem, "server": server}


def fake_account(port: int, security: Security, ca_pem: Path | None, *, name: str = "fake",
                 imap: ServerConfig | None = None, timeout: float = 5.0,
                 allow_plaintext_auth: bool = False) -> Account:
    smtp = ServerConfig(Protocol.SMTP, "127.0.0.1", port, security, allow_plaintext_auth)
    return Account(name=name, email="alice@example.test", username="alice",
                   ca_file=str(ca_pem) if ca_pem else None, timeout=timeout, smtp=smtp,
                   imap=imap or ServerConfig(Protocol.IMAP, "127.0.0.1", 1, Security.TLS))


@dataclass
class Received:
    mail_from: bytes
    rcpts: list[bytes]
    data: bytes  # un-stuffed, CRLF line ends, without the final "."
    reply: bytes | None = None  # what the server answered to the "." (None: nothing)


@dataclass
class Connection:
    number: int
    lines: list[tuple[str, bytes]] = field(default_factory=list)  # (phase, line as sent)


EndReply = Callable[["FakeSmtp", Received], "bytes | None"]


class FakeSmtp:
    """Serves connections on 127.0.0.1 one after another until close().

    caps_plain/caps_tls: EHLO keywords before and after TLS. replies: "greeting", "starttls",
    "auth", "mail", "data" (the answer to DATA), "end" (to the final "."; a callable may decide,
    and None drops the connection without an answer). rcpt(address) answers each RCPT.
    """

    def __init__(self, *, starttls: ssl.SSLContext | None = None, implicit: ssl.SSLContext | None = None,
                 caps_plain: tuple[bytes, ...] | None = None,
                 caps_tls: tuple[bytes, ...] = (b"8BITMIME", b"SIZE 10000000", b"AUTH PLAIN LOGIN"),
                 replies: dict[str, bytes | EndReply | None] | None = None,
                 rcpt: Callable[[bytes], bytes] | None = None):
        if caps_plain is None:
            caps_plain = (b"8BITMIME", b"STARTTLS") if starttls else caps_tls
        self.starttls, self.implicit = starttls, implicit
        self.caps_plain, self.caps_tls = caps_plain, caps_tls
        self.replies = {"greeting": b"220 fake.example ESMTP", "starttls": b"220 2.0.0 go ahead",
                        "auth": b"235 2.7.0 ok", "mail": b"250 2.1.0 ok", "data": b"354 go on",
                        "end": b"250 2.0.0 queued", **(replies or {})}
        self.rcpt = rcpt or (lambda address: b"250 2.1.5 ok")
        self.connections: list[Connection] = []
        self.received: list[Received] = []
        self.errors: list[BaseException] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    # what the tests read ------------------------------------------------------------------

    @property
    def delivered(self) -> list[Received]:
        """Messages answered with 250 at the final "."."""
        return [m for m in self.received if m.reply and m.reply.startswith(b"250")]

    def client_bytes(self, phase: str | None = None) -> bytes:
        return b"".join(line for c in self.connections for p, line in c.lines if phase in (None, p))

    def commands(self) -> list[bytes]:
        """The command word of every line the client sent outside DATA and AUTH exchanges."""
        return [line.split()[0].upper() for c in self.connections for p, line in c.lines
                if p not in ("data", "auth") and line.split()]

    def assert_no_credentials(self) -> None:
        sent = self.client_bytes()
        assert b"AUTH" not in self.commands(), self.commands()
        for secret in CREDENTIALS:
            assert secret not in sent, sent

    def close(self) -> None:
        self._stop.set()
        self.thread.join(10)
        self.listener.close()

    def __enter__(self) -> "FakeSmtp":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # serving ------------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            conn = Connection(len(self.connections) + 1)
            self.connections.append(conn)
            peer = None
            try:
                sock.settimeout(10)
                if self.implicit is not None:
                    sock = self.implicit.wrap_socket(sock, server_side=True)
                peer = _Peer(self, sock, conn, "tls" if self.implicit else "plain")
                peer.run()
            except Exception as exc:  # a script that fails hangs up, like a crashed server
                self.errors.append(exc)
            finally:
                (peer.sock if peer else sock).close()


class _Peer:
    def __init__(self, server: FakeSmtp, sock: socket.socket, conn: Connection, phase: str):
        self.server, self.sock, self.conn, self.phase = server, sock, conn, phase
        self.file = sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data + b"\r\n")

    def line(self, phase: str | None = None) -> bytes:
        line = self.file.readline(65536)
        if line:
            self.conn.lines.append((phase or self.phase, line))
        return line

    def run(self) -> None:
        server = self.server
        self.send(server.replies["greeting"])
        if not server.replies["greeting"].startswith(b"220"):
            return
        mail_from, rcpts = b"", []
        while line := self.line():
            words = line.strip().split(b" ")
            command = words[0].upper()
            if command in (b"EHLO", b"HELO"):
                caps = server.caps_tls if self.phase == "tls" else server.caps_plain
                lines = [b"fake.example", *caps]
                self.sock.sendall(b"".join(b"250-" + x + b"\r\n" for x in lines[:-1]) + b"250 " + lines[-1] + b"\r\n")
            elif command == b"STARTTLS":
                reply = server.replies["starttls"]
                self.send(reply)
                if reply.startswith(b"220") and server.starttls is not None:
                    self.sock = server.starttls.wrap_socket(self.sock, server_side=True)
                    self.file, self.phase = self.sock.makefile("rb"), "tls"
            elif command == b"AUTH":
                self._auth(words)
            elif command == b"MAIL":
                mail_from, rcpts = line.strip(), []
                self.send(server.replies["mail"])
            elif command == b"RCPT":
                address = line.strip().split(b":", 1)[1].split(b" ")[0].strip(b"<>")
                reply = server.rcpt(address)
                if reply.startswith(b"25"):
                    rcpts.append(address)
                self.send(reply)
            elif command == b"DATA":
                if not self._data(mail_from, rcpts):
                    return
            elif command == b"QUIT":
                self.send(b"221 2.0.0 bye")
                return
            elif command == b"RSET":
                mail_from, rcpts = b"", []
                self.send(b"250 2.0.0 ok")
            else:
                self.send(b"250 ok")

    def _auth(self, words: list[bytes]) -> None:
        mechanism = words[1].upper() if len(words) > 1 else b""
        if mechanism == b"LOGIN":
            prompts = (b"334 VXNlcm5hbWU6", b"334 UGFzc3dvcmQ6")
            for prompt in prompts[len(words) - 2:]:  # an initial response is the user name
                self.send(prompt)
                self.line("auth")
        elif mechanism == b"CRAM-MD5":
            self.send(b"334 " + base64.b64encode(b"<1.2@fake.example>"))
            self.line("auth")
        elif len(words) < 3:
            self.send(b"334 ")
            self.line("auth")
        self.send(self.server.replies["auth"])

    def _data(self, mail_from: bytes, rcpts: list[bytes]) -> bool:
        reply = self.server.replies["data"]
        self.send(reply)
        if not reply.startswith(b"354"):
            return True
        lines = []
        while True:
            line = self.line("data")
            if not line:
                return False
            if line == b".\r\n":
                break
            lines.append(line[1:] if line.startswith(b".") else line)
        message = Received(mail_from, list(rcpts), b"".join(lines))
        self.server.received.append(message)
        end = self.server.replies["end"]
        answer = end(self.server, message) if callable(end) else end
        message.reply = answer
        if answer is None:
            self.sock.shutdown(socket.SHUT_RDWR)
            return False
        self.send(answer)
        return True
