"""The one place that opens IMAP, POP3 and SMTP connections, all the same way.

- security "tls": TLS from the first byte. "starttls": plain connect, then STARTTLS/STLS is
  required; not offered, refused, or an IMAP PREAUTH greeting aborts before anything else is
  sent. "plain": only because the config says so.
- Certificates: system trust plus the account's ca_file, host names checked, TLS >= 1.2, or an
  explicit cert_fingerprint pin (see tls.py).
- Every socket has the account's timeout.
- The login helpers refuse to send a password over a connection that is not TLS unless the
  config says allow_plaintext_auth, and they never let the password into an exception.

Library exceptions become tuimail.protocols.errors, one line each: "imap 127.0.0.1:993: ...".
"""
from __future__ import annotations

import imaplib
import poplib
import re
import socket
import ssl
import time
from contextlib import contextmanager
import sys
from typing import TYPE_CHECKING, Callable, Iterator

from tuimail.model.config import Account, ServerConfig, Security

if TYPE_CHECKING:  # aiosmtplib (and asyncio) load only when mail is sent; imapclient with IMAP
    import aiosmtplib
    import imapclient
from tuimail.model.secret import Secret
from tuimail.protocols.errors import (AuthError, ConnectError, MailError, MailTimeout,
                                      PlaintextRefused, ProtocolError, StartTlsError, TlsError)
from tuimail.protocols.smtp_wire import TOO_LONG, guard as guard_smtp, library_cap_hit
from tuimail.protocols.tls import TlsInfo, describe_ssl_error, ssl_context as _ssl_context, tls_info_of

__all__ = [
    "StepHook", "TlsInfo", "ssl_context", "where", "open_imap", "open_pop3", "open_smtp",
    "imap_login", "pop3_login", "smtp_login", "tls_info", "close_imap", "close_pop3",
    "close_smtp", "translate",
]

# Called after each phase ("connect", "starttls", "login") with its seconds and its error.
StepHook = Callable[[str, float, "MailError | None"], None]

_PLAINTEXT_REFUSED = ("refusing to send the password over an unencrypted connection "
                      "(use security = \"tls\" or \"starttls\", or set allow_plaintext_auth = true)")


def where(server: ServerConfig) -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"{server.protocol.value} {host}:{server.port}"


def ssl_context(account: Account, server: ServerConfig) -> ssl.SSLContext:
    """See tls.ssl_context; a bad ca_file becomes a TlsError here."""
    try:
        return _ssl_context(account, server)
    except ValueError as exc:
        raise TlsError(str(exc), where(server)) from None


def translate(exc: BaseException, at: str, timeout: float | None = None,
              kind: type[MailError] = ProtocolError) -> MailError:
    """A library or socket exception as a one-line MailError; kind is for server refusals."""
    if isinstance(exc, MailError):
        return exc
    # aiosmtplib loads only when mail is sent; before that none of its exceptions can exist.
    smtp = sys.modules.get("aiosmtplib")
    smtp_error = (smtp.SMTPException,) if smtp else ()
    smtp_disconnected = (smtp.SMTPServerDisconnected,) if smtp else ()
    smtp_response = (smtp.SMTPResponseException,) if smtp else ()
    # aiosmtplib wraps socket and TLS errors; the cause says more.
    if isinstance(exc, smtp_error) and isinstance(exc.__cause__, OSError):
        if not isinstance(exc, smtp.SMTPTimeoutError):
            exc = exc.__cause__
    if isinstance(exc, ssl.SSLError):  # before OSError: SSLError is one
        return TlsError(describe_ssl_error(exc), at)
    if isinstance(exc, TimeoutError):  # socket.timeout, asyncio and aiosmtplib timeouts
        limit = f" after {timeout:g} s" if timeout else ""
        return MailTimeout(f"timed out{limit}", at)
    if isinstance(exc, socket.gaierror):
        return ConnectError(f"cannot resolve host: {exc.strerror}", at)
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError("connection refused", at)
    if isinstance(exc, imaplib.IMAP4.abort):  # BYE, EOF, or a response imaplib cannot frame
        return ConnectError(f"connection lost: {_text(exc)}", at)
    if isinstance(exc, (*smtp_disconnected, ConnectionError, EOFError)):
        return ConnectError(f"connection lost: {exc}", at)
    if isinstance(exc, OSError):
        return ConnectError(exc.strerror or str(exc) or type(exc).__name__, at)
    if isinstance(exc, smtp_response) and exc.message == TOO_LONG:
        return library_cap_hit(at)  # a flood, not a refusal: never "login failed"
    if isinstance(exc, smtp_response):
        return kind(_prefix(kind) + f"{exc.code} {exc.message}", at)
    if isinstance(exc, poplib.error_proto):
        return kind(_prefix(kind) + _text(exc.args[0] if exc.args else exc), at)
    # imapclient is loaded by the IMAP adapter only (a POP3 start needs none of it)
    imap_error = () if "imapclient.exceptions" not in sys.modules else \
        (sys.modules["imapclient.exceptions"].IMAPClientError,)
    if isinstance(exc, (*imap_error, imaplib.IMAP4.error, *smtp_error)):
        return kind(_prefix(kind) + _text(exc), at)
    return kind(_prefix(kind) + f"{type(exc).__name__}: {exc}", at)


def _prefix(kind: type[MailError]) -> str:
    # A refusal of STARTTLS arrives unencrypted: say so, so nobody takes its text on trust.
    return {StartTlsError: "STARTTLS failed; unencrypted reply: ",
            AuthError: "login failed: "}.get(kind, "")


# imaplib and imapclient put server text into messages as reprs: "b'[AUTHENTICATIONFAILED] ...'"
_BYTES_REPR = re.compile(r"""(?<![A-Za-z0-9_])b(['"])(.*?)\1""")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, BaseException) and value.args and isinstance(value.args[0], bytes):
        return value.args[0].decode("utf-8", "replace")
    return _BYTES_REPR.sub(lambda match: match.group(2), str(value))


@contextmanager
def _phase(name: str, at: str, timeout: float | None, hook: StepHook | None,
           kind: type[MailError] = ProtocolError, secret: Secret | None = None) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    except Exception as exc:
        error = _scrub(translate(exc, at, timeout, kind), secret)
        if hook is not None:
            hook(name, time.monotonic() - start, error)
        if error is exc:
            raise
        raise error from (None if secret is not None else exc)
    if hook is not None:
        hook(name, time.monotonic() - start, None)


def _scrub(error: MailError, secret: Secret | None) -> MailError:
    """The same error with the password cut out, should a server ever echo it."""
    if secret is None or not secret.reveal() or secret.reveal() not in str(error):
        return error
    return type(error)(error.reason.replace(secret.reveal(), "********"), error.where)


# ---------------------------------------------------------------- IMAP

def open_imap(account: Account, server: ServerConfig, timeout: float | None = None,
              on_step: StepHook | None = None) -> imapclient.IMAPClient:
    """A connected IMAPClient, TLS as configured, not logged in."""
    timeout = timeout or account.timeout
    at = where(server)
    context = None if server.security is Security.PLAIN else ssl_context(account, server)
    with _phase("connect", at, timeout, on_step):
        import imapclient  # loaded with the IMAP adapter; here for callers that come straight in

        client = imapclient.IMAPClient(server.host, server.port, ssl=server.security is Security.TLS,
                                       ssl_context=context, timeout=timeout)
        try:
            _refuse_preauth(client, server, at)
        except BaseException:
            close_imap(client, logout=False)
            raise
    if server.security is Security.STARTTLS:
        try:
            with _phase("starttls", at, timeout, on_step, StartTlsError):
                if b"STARTTLS" not in client.capabilities():
                    raise StartTlsError("server does not offer STARTTLS; not continuing without TLS", at)
                client.starttls(context)
                if not isinstance(client.socket(), ssl.SSLSocket):
                    raise StartTlsError("connection is not TLS after STARTTLS", at)
                # Nothing the server said before TLS counts: drop it (capabilities are re-read).
                getattr(client, "_imap").untagged_responses.clear()
        except BaseException:
            close_imap(client, logout=False)
            raise
    return client


def _refuse_preauth(client: imapclient.IMAPClient, server: ServerConfig, at: str) -> None:
    welcome = client.welcome or b""
    if welcome.upper().startswith(b"* PREAUTH") or getattr(client, "_imap").state != "NONAUTH":
        kind = StartTlsError if server.security is Security.STARTTLS else ProtocolError
        raise kind("server greeted with PREAUTH; refusing a session we did not authenticate", at)


def imap_login(client: imapclient.IMAPClient, account: Account, server: ServerConfig,
               password: Secret, on_step: StepHook | None = None) -> None:
    at = where(server)
    if not isinstance(client.socket(), ssl.SSLSocket) and not server.allow_plaintext_auth:
        raise PlaintextRefused(_PLAINTEXT_REFUSED, at)
    with _phase("login", at, account.timeout, on_step, AuthError, password):
        if b"LOGINDISABLED" in client.capabilities():
            raise AuthError("server disables LOGIN on this connection (LOGINDISABLED)", at)
        client.login(account.username, password.reveal())


def close_imap(client: imapclient.IMAPClient, logout: bool = True) -> None:
    """LOGOUT (when asked) and close; never raises."""
    try:
        if logout:
            client.logout()
            return
    except Exception:
        pass
    try:
        client.shutdown()
    except Exception:
        pass


# ---------------------------------------------------------------- POP3

class _ClosingPOP3(poplib.POP3):
    """poplib leaves the socket open when the greeting fails or times out; close it."""

    def __init__(self, *args, **kwargs):
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            for part in (getattr(self, "file", None), getattr(self, "sock", None)):
                if part is not None:
                    part.close()  # the socket really closes only once its makefile() is closed
            raise


class _ClosingPOP3_SSL(_ClosingPOP3, poplib.POP3_SSL):
    pass


def open_pop3(account: Account, server: ServerConfig, timeout: float | None = None,
              on_step: StepHook | None = None) -> poplib.POP3:
    """A connected POP3 or POP3_SSL (always with our verifying context), not logged in."""
    timeout = timeout or account.timeout
    at = where(server)
    context = None if server.security is Security.PLAIN else ssl_context(account, server)
    with _phase("connect", at, timeout, on_step):
        if server.security is Security.TLS:
            pop = _ClosingPOP3_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            pop = _ClosingPOP3(server.host, server.port, timeout=timeout)
    if server.security is Security.STARTTLS:
        try:
            with _phase("starttls", at, timeout, on_step, StartTlsError):
                try:
                    capabilities = pop.capa()
                except poplib.error_proto:
                    raise StartTlsError("server does not answer CAPA, so it offers no STLS", at) from None
                if "STLS" not in capabilities:
                    raise StartTlsError("server does not offer STLS; not continuing without TLS", at)
                pop.stls(context=context)
                if not isinstance(pop.sock, ssl.SSLSocket):
                    raise StartTlsError("connection is not TLS after STLS", at)
        except BaseException:
            close_pop3(pop, quit=False)
            raise
    return pop


def pop3_login(pop: poplib.POP3, account: Account, server: ServerConfig, password: Secret,
               on_step: StepHook | None = None) -> None:
    at = where(server)
    if not isinstance(pop.sock, ssl.SSLSocket) and not server.allow_plaintext_auth:
        raise PlaintextRefused(_PLAINTEXT_REFUSED, at)
    with _phase("login", at, account.timeout, on_step, AuthError, password):
        pop.user(account.username)
        pop.pass_(password.reveal())


def close_pop3(pop: poplib.POP3, quit: bool = True) -> None:
    """QUIT (when asked) and close; never raises. QUIT commits DELEs: callers decide."""
    try:
        if quit:
            pop.quit()
            return
    except Exception:
        pass
    try:
        pop.close()
    except Exception:
        pass


# ---------------------------------------------------------------- SMTP

async def open_smtp(account: Account, server: ServerConfig, timeout: float | None = None,
                    on_step: StepHook | None = None) -> aiosmtplib.SMTP:
    """A connected aiosmtplib.SMTP, TLS as configured, not logged in.

    STARTTLS is done here step by step rather than with start_tls=True so that a missing
    STARTTLS gets its own error and the doctor can time it; the calls are the same.
    """
    import aiosmtplib  # with asyncio: only when mail is sent, not on every start

    timeout = timeout or account.timeout
    at = where(server)
    context = None if server.security is Security.PLAIN else ssl_context(account, server)
    smtp = aiosmtplib.SMTP(
        hostname=server.host, port=server.port, timeout=timeout,
        use_tls=server.security is Security.TLS, start_tls=False,
        tls_context=context if server.security is Security.TLS else None,
        local_hostname="localhost",  # neither leak our host name nor wait on getfqdn()
    )
    with _phase("connect", at, timeout, on_step):
        await smtp.connect()
        guard_smtp(smtp, account.limits, at)  # from the first EHLO on; the greeting got aiosmtplib's caps
    if server.security is Security.STARTTLS:
        try:
            with _phase("starttls", at, timeout, on_step, StartTlsError):
                await smtp.ehlo()
                if not smtp.supports_extension("starttls"):
                    raise StartTlsError("server does not offer STARTTLS; not continuing without TLS", at)
                await smtp.starttls(tls_context=context)  # discards buffered plaintext, forgets EHLO
                if smtp.get_transport_info("sslcontext") is None:
                    raise StartTlsError("connection is not TLS after STARTTLS", at)
        except BaseException:
            smtp.close()
            raise
    return smtp


async def smtp_login(smtp: aiosmtplib.SMTP, account: Account, server: ServerConfig,
                     password: Secret, on_step: StepHook | None = None) -> None:
    at = where(server)
    if smtp.get_transport_info("sslcontext") is None and not server.allow_plaintext_auth:
        raise PlaintextRefused(_PLAINTEXT_REFUSED, at)
    with _phase("login", at, account.timeout, on_step, AuthError, password):
        if not smtp.last_ehlo_response:
            await smtp.ehlo()
        if not smtp.supports_extension("auth"):
            raise AuthError("server offers no SMTP AUTH on this connection", at)
        await smtp.login(account.username, password.reveal())


async def close_smtp(smtp: aiosmtplib.SMTP) -> None:
    """QUIT and close; never raises."""
    transport = smtp.transport
    try:
        if smtp.is_connected:
            await smtp.quit()
    except Exception:
        pass
    finally:
        smtp.close()
        # close() waits for TLS close_notify, which a server flooding us never sends: the
        # socket would outlive the session. QUIT has been answered (or failed): drop it now.
        if transport is not None:
            transport.abort()


# ---------------------------------------------------------------- TLS details

def tls_info(conn: object) -> TlsInfo | None:
    """TLS version, cipher and certificate of an IMAPClient, POP3 or aiosmtplib.SMTP
    connection (or an SSL socket); None when the connection is not TLS."""
    if "imapclient" in sys.modules and isinstance(conn, sys.modules["imapclient"].IMAPClient):
        sslobj = conn.socket()
    elif isinstance(conn, poplib.POP3):
        sslobj = conn.sock
    elif "aiosmtplib" in sys.modules and isinstance(conn, sys.modules["aiosmtplib"].SMTP):
        sslobj = conn.get_transport_info("ssl_object") if conn.is_connected else None
    else:
        sslobj = conn
    if isinstance(sslobj, (ssl.SSLSocket, ssl.SSLObject)):
        return tls_info_of(sslobj)
    return None
