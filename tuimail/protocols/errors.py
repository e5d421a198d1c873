"""What can go wrong talking to a mail server, each worded as one line a person can act on.

str(error) is "<protocol> <host>:<port>: <reason>". The reason is made from server text with
control characters stripped; no error ever carries a password (the login helpers scrub it).
"""
from __future__ import annotations

from tuimail.model.text import one_line


class MailError(Exception):
    """Base class: where (e.g. "imap 127.0.0.1:993") and a one-line reason."""

    def __init__(self, reason: str, where: str = ""):
        self.reason = one_line(reason) or type(self).__name__
        self.where = where
        super().__init__(f"{where}: {self.reason}" if where else self.reason)


class ConnectError(MailError):
    """TCP connect failed, the host did not resolve, or the server hung up."""


class TlsError(MailError):
    """The TLS handshake failed: certificate not trusted, wrong host name, pin mismatch, ..."""


class StartTlsError(MailError):
    """STARTTLS/STLS was required but not offered, refused, or the greeting was PREAUTH."""


class AuthError(MailError):
    """The server rejected the user name or password, or offers no way to log in."""


class PlaintextRefused(AuthError):
    """We refused to send credentials over a connection that is not encrypted."""


class ProtocolError(MailError):
    """The server answered something unexpected, or NO/BAD/-ERR to a command."""


class WireLimit(ProtocolError):
    """The server sent more than a [limits] cap allows (the reason names the key that raises
    it); the connection is dropped."""


class MailTimeout(MailError, TimeoutError):
    """A network operation took longer than the account's timeout."""
