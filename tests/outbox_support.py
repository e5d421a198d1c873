"""What the outbox tests share: a message with Bcc, a recording Sent filer, a scripted
STARTTLS server and delivering to it."""
from __future__ import annotations

from email.message import EmailMessage

import pytest

from tests.smtp_support import PASSWORD, FakeSmtp, fake_account
from tuimail.model.config import Security
from tuimail.model.secret import Secret
from tuimail.protocols.errors import MailError
from tuimail.store.outbox import Outbox, deliver

FROM = "alice@example.test"


def message(body: str = "Hello.\n", size: int = 0) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Cc"] = FROM, "Bob <bob@example.test>", "carol@example.test"
    msg["Bcc"] = "Secret Sam <sam@example.test>"
    msg["Subject"] = "Quarterly numbers"
    msg["Message-ID"] = "<outbox-test@example.test>"
    msg.set_content(body + "x" * size)
    return msg


class Filer:
    """A file_to_sent that records its calls and fails the first `failures` times."""

    def __init__(self, failures: int = 0):
        self.calls: list[tuple[bytes, str]] = []
        self.failures = failures

    def __call__(self, raw: bytes, message_id: str) -> str:
        self.calls.append((raw, message_id))
        if len(self.calls) <= self.failures:
            raise MailError("APPEND refused: NO [OVERQUOTA] quota exceeded", "imap 127.0.0.1:993")
        return "filed in Sent"


@pytest.fixture
def server(pki):
    with FakeSmtp(starttls=pki["server"]) as fake:
        yield fake


def run(outbox: Outbox, server: FakeSmtp, pki, entry_id: str, filer=None, **kwargs):
    account = fake_account(server.port, Security.STARTTLS, pki["ca_pem"])
    return deliver(outbox, entry_id, account, Secret(PASSWORD), file_to_sent=filer or Filer(), **kwargs)
