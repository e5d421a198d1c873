"""Helpers for the IMAP reading tests: bob's account on the testbed, a second raw client that
plays "another mail program", per-test folders, and messages with attachments."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone
from typing import Iterator

from imapclient import IMAPClient

from tests.testbed import Testbed
from tuimail.model.config import Account, parse_config
from tuimail.model.secret import Secret
from tuimail.protocols.imap import ImapSession
from tuimail.protocols.trace import ProtocolTrace

USER = "bob"  # alice belongs to the TUI and testbed tests; every test here makes its own folders


def account(bed: Testbed, **overrides) -> Account:
    return parse_config(bed.config_toml(USER, timeout=10, **overrides)).account(USER)


def password(bed: Testbed) -> Secret:
    return Secret(bed.users[USER])


def connect(bed: Testbed, trace: ProtocolTrace | None = None, **kwargs) -> ImapSession:
    return ImapSession.connect(account(bed), password(bed), trace=trace, **kwargs)


def new_folder(bed: Testbed, prefix: str = "T") -> str:
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    bed.maildir(USER, name)  # creates it
    return name


@contextmanager
def other_client(bed: Testbed, folder: str | None = None) -> Iterator[IMAPClient]:
    """Another mail program changing the mailbox behind our back."""
    client = IMAPClient(bed.host, port=bed.imaps_port, ssl=True, ssl_context=bed.client_context(), timeout=10)
    try:
        client.login(USER, bed.users[USER])
        if folder:
            client.select_folder(folder)
        yield client
    finally:
        try:
            client.logout()
        except Exception:
            pass


def truth(bed: Testbed, folder: str) -> dict[int, tuple[int, frozenset[str]]]:
    """seq -> (uid, flags) as the server sees it now, from a fresh connection."""
    with other_client(bed) as client:
        exists = client.select_folder(folder, readonly=True)[b"EXISTS"]
        client.use_uid = False
        data = client.fetch(list(range(1, exists + 1)), ["UID", "FLAGS"]) if exists else {}
    return {seq: (d[b"UID"], frozenset(f.decode() for f in d[b"FLAGS"] if f != b"\\Recent"))
            for seq, d in data.items()}


def message(subject: str, body: str = "Hello.\n", sender: str = "Carol <carol@example.test>",
            attachments: list[tuple[str, bytes, str]] = (), raw_filenames: list[tuple[str, bytes]] = ()) -> bytes:
    """A message; attachments are (filename, data, mime type). raw_filenames are (header
    parameter text, data): the Content-Disposition parameters are written exactly as given."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"Bob <{USER}@example.test>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg.set_content(body)
    for filename, data, ctype in attachments:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    raw = msg.as_bytes()
    if raw_filenames:
        boundary = "=-=hostile-names=-="
        head, _, _ = raw.partition(b"\n\n")
        lines = [line for line in head.split(b"\n")
                 if not line.lower().startswith((b"content-type", b"mime-version", b"content-transfer"))]
        parts = [b"--" + boundary.encode() + b"\nContent-Type: text/plain; charset=utf-8\n\n" + body.encode() + b"\n"]
        import base64
        for params, data in raw_filenames:
            parts.append(b"--" + boundary.encode() + b"\nContent-Type: application/octet-stream\n"
                         b"Content-Transfer-Encoding: base64\nContent-Disposition: attachment; " + params.encode()
                         + b"\n\n" + base64.encodebytes(data) + b"\n")
        raw = (b"\n".join(lines) + b"\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"" + boundary.encode()
               + b"\"\n\n" + b"".join(parts) + b"--" + boundary.encode() + b"--\n")
    return raw
