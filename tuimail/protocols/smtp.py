"""Sending one message by SMTP: a blocking call around aiosmtplib, with every answer kept.

- TLS as connect.open_smtp does it: "tls" from the first byte, "starttls" required (missing or
  refused is fatal before anything else is sent), "plain" only when configured, and then
  without AUTH: no password is ever sent over it.
- AUTH with the best mechanism both sides offer (aiosmtplib: CRAM-MD5, PLAIN, LOGIN), after TLS.
- Each RCPT answer is reported: a refusal of one recipient does not stop the others.
- SMTPUTF8 and BODY=8BITMIME when the message needs them, SIZE when offered.
- The message is dot-stuffed with every bare CR or LF made CRLF, so no line of it can end the
  DATA early (SECURITY-CASES C27).
- The connection lost (or the server silent) after the final "." raises DeliveryUnknown: the
  server may have taken the message. Nothing here ever retries.
- progress(stage, done, total), when given, hears each stage: "connecting", "logging in",
  "sending" (bytes of the DATA payload gone out: written to the transport a chunk at a time,
  minus what it still buffers, so handed to the kernel rather than acknowledged by the server),
  "waiting" (all written; the server's answer to the final "." is awaited) and "delivered".
"""
from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from tuimail.model.config import Account, Protocol, Security
from tuimail.model.outgoing import check_address, has_8bit, needs_smtputf8
from tuimail.model.secret import Secret
from tuimail.protocols.connect import close_smtp, open_smtp, smtp_login, translate, where
from tuimail.protocols.errors import MailError, ProtocolError
from tuimail.protocols.trace import ProtocolTrace

if TYPE_CHECKING:
    import aiosmtplib

__all__ = ["RecipientResult", "SendResult", "SmtpRefused", "RecipientsRefused", "DeliveryUnknown",
           "SendProgress", "send"]

SendProgress = Callable[[str, int, int], None]  # (stage, done, total): bytes of DATA; 0, 0 elsewhere
DATA_CHUNK = 64 * 1024  # the DATA payload is written this much at a time, for its progress

# RFC 5321 4.5.3.2.6 suggests 10 minutes for the answer to the final "."; servers scan the
# message before answering. Waiting less turns a slow 250 into "delivery unknown".
FINAL_REPLY_TIMEOUT = 120.0


@dataclass(frozen=True)
class RecipientResult:
    address: str
    code: int
    message: str
    accepted: bool


@dataclass(frozen=True)
class SendResult:
    accepted: list[RecipientResult]
    refused: list[RecipientResult]
    data_code: int | None
    data_message: str


class SmtpRefused(ProtocolError):
    """The server answered with an error code; code and stage ("greeting", "MAIL", "DATA", ...)
    say which. 4xx is temporary: the same message may go through later."""

    def __init__(self, reason: str, where: str = "", code: int = 0, stage: str = ""):
        super().__init__(reason, where)
        self.code, self.stage = code, stage

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500


class RecipientsRefused(SmtpRefused):
    """Every recipient was refused at RCPT; nothing was sent. results has each answer."""

    def __init__(self, reason: str, where: str, results: list[RecipientResult]):
        code = results[0].code if results else 0
        super().__init__(reason, where, code, "RCPT")
        self.results = results


class DeliveryUnknown(MailError):
    """The message was sent up to its final "." and no answer came: the connection was lost
    or timed out. The server may have delivered it; resending may deliver it twice."""


def send(account: Account, password: Secret | None, envelope_from: str, recipients: list[str],
         data: bytes, *, timeout: float | None = None, trace: ProtocolTrace | None = None,
         progress: SendProgress | None = None) -> SendResult:
    """Send data (the message as stored) to recipients; blocks until the server has answered.
    progress, if given, is called on the sending thread (see the module's docstring).

    Raises MailError subclasses (StartTlsError, TlsError, AuthError, SmtpRefused,
    RecipientsRefused, ConnectError, MailTimeout, DeliveryUnknown) with the server's reply.
    """
    server = account.server(Protocol.SMTP)
    if server is None:
        raise MailError(f"account '{account.name}' has no [accounts.{account.name}.smtp] server")
    if not recipients:
        raise ValueError("no recipients")
    envelope = [check_address(envelope_from)] + [check_address(r) for r in recipients]
    session = _Session(account, password, timeout or account.timeout, trace, progress)
    return _run_blocking(session.send(envelope[0], envelope[1:], data))


def _run_blocking(coro):
    """Run coro in a fresh event loop: here, or in a thread when this one already has a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class _Session:
    def __init__(self, account: Account, password: Secret | None, timeout: float,
                 trace: ProtocolTrace | None, progress: SendProgress | None = None):
        self.account, self.password, self.timeout, self.trace = account, password, timeout, trace
        self.progress = progress
        self._sent = 0  # bytes of DATA known to be out of the transport's buffer
        self.server = account.smtp
        self.at = where(self.server)
        self.smtp: aiosmtplib.SMTP | None = None
        self._raw_write = None  # the protocol's own write, when the trace wraps it

    async def send(self, sender: str, recipients: list[str], data: bytes) -> SendResult:
        import aiosmtplib

        self.lib = aiosmtplib
        self._report("connecting")
        try:
            self.smtp = await open_smtp(self.account, self.server, timeout=self.timeout)
        except MailError as exc:
            cause = exc.__cause__
            if isinstance(cause, aiosmtplib.SMTPConnectResponseError):  # refused at the greeting
                raise self._refused("greeting", cause) from None
            raise
        try:
            self._tap()
            await self._hello()
            return await self._transaction(sender, recipients, data)
        finally:
            await close_smtp(self.smtp)

    async def _hello(self) -> None:
        if self.server.security is not Security.PLAIN and self.password is not None:
            self._report("logging in")
            await smtp_login(self.smtp, self.account, self.server, self.password)
        # Never AUTH on "plain": not even with allow_plaintext_auth, so no password goes out.
        if not self.smtp.last_ehlo_response:
            await self._command("EHLO", self.smtp.ehlo())

    async def _transaction(self, sender: str, recipients: list[str], data: bytes) -> SendResult:
        smtp = self.smtp
        utf8 = needs_smtputf8(data, [sender, *recipients])
        options = []
        if utf8:
            if not smtp.supports_extension("smtputf8"):
                raise SmtpRefused("the message needs SMTPUTF8 (an address or header is not ASCII) "
                                  "and the server does not offer it; nothing was sent", self.at)
            options.append("SMTPUTF8")
        if has_8bit(data):
            if smtp.supports_extension("8bitmime"):
                options.append("BODY=8BITMIME")
            elif not utf8:
                raise SmtpRefused("the message has 8-bit content and the server does not offer "
                                  "8BITMIME; nothing was sent", self.at)
        payload = _dot_stuffed(data)
        if smtp.supports_extension("size"):
            options.append(f"SIZE={len(payload)}")
        encoding = "utf-8" if utf8 else "ascii"
        self._report("sending", 0, len(payload))
        await self._command("MAIL", smtp.mail(sender, options=options, encoding=encoding))
        results = [await self._rcpt(r, encoding) for r in recipients]
        accepted = [r for r in results if r.accepted]
        refused = [r for r in results if not r.accepted]
        if not accepted:
            await self._quietly(smtp.rset())
            detail = "; ".join(f"{r.address}: {r.code} {r.message}" for r in refused)
            raise RecipientsRefused(f"every recipient was refused; nothing was sent: {detail}",
                                    self.at, refused)
        code, message = await self._data(payload)
        return SendResult(accepted, refused, code, message)

    async def _rcpt(self, address: str, encoding: str) -> RecipientResult:
        try:
            response = await self._command("RCPT", self.smtp.rcpt(address, encoding=encoding),
                                           refusals=False)
        except self.lib.SMTPRecipientRefused as exc:
            if exc.code == 421 or not self.smtp.is_connected:  # the server is going away
                raise self._refused("RCPT", exc) from None
            return RecipientResult(address, exc.code, _text(exc.message), False)
        return RecipientResult(address, response.code, _text(response.message), True)

    async def _data(self, payload: bytes) -> tuple[int, str]:
        response = await self._command("DATA", self.smtp.execute_command(b"DATA"))
        if response.code != 354:
            raise self._refused("DATA", response)
        protocol = self.smtp.protocol
        await self._hand_over(payload)
        if self.trace is not None:
            self.trace.sent_data(payload)
        self._report("waiting", max(self._sent, len(payload) - self._buffered()), len(payload))
        try:
            response = await protocol.read_response(timeout=max(self.timeout, FINAL_REPLY_TIMEOUT))
        except (self.lib.SMTPException, OSError) as exc:
            self.smtp.close()
            why = "timed out waiting" if isinstance(exc, TimeoutError) else "connection lost"
            raise DeliveryUnknown(
                f"{why} after the whole message was sent, before the server confirmed it: it "
                "may or may not have been delivered (not retried; resending may duplicate it)",
                self.at) from None
        if response.code != 250:
            raise self._refused("end of DATA", response)
        self._report("delivered", len(payload), len(payload))
        return response.code, _text(response.message)

    async def _hand_over(self, payload: bytes) -> None:
        """Write the DATA payload a chunk at a time, waiting (drain) whenever the transport's
        buffer is over its high-water mark, so the progress can follow it. Only the last chunk
        holds the final ".": a failure before it cannot have delivered anything, so it is an
        ordinary error, never DeliveryUnknown. That chunk is written without waiting."""
        protocol = self.smtp.protocol
        write = self._raw_write or protocol.write  # raises when the connection is gone
        total, sent = len(payload), 0
        try:
            for start in range(0, total, DATA_CHUNK):
                end = min(start + DATA_CHUNK, total)
                write(payload[start:end])
                if end < total:
                    await asyncio.wait_for(protocol._drain_helper(), self.timeout)
                    sent = max(sent, end - self._buffered())  # never backwards, whatever TLS buffers
                    self._report("sending", sent, total)
        except Exception as exc:
            raise self._why_lost(exc) from exc
        self._sent = sent

    def _buffered(self) -> int:
        transport = getattr(getattr(self.smtp, "protocol", None), "transport", None)
        try:
            return transport.get_write_buffer_size() if transport is not None else 0
        except Exception:  # a transport without the call: nothing known to be held back
            return 0

    def _why_lost(self, exc: BaseException) -> MailError:
        """A write or drain failed: a wire cap that dropped the connection (smtp_wire.guard)
        left its own error on the reply being waited for; else the failure itself."""
        waiter = getattr(getattr(self.smtp, "protocol", None), "_response_waiter", None)
        if waiter is not None and waiter.done() and not waiter.cancelled():
            cause = waiter.exception()
            if isinstance(cause, MailError):
                return cause
        return translate(exc, self.at, self.timeout)

    def _report(self, stage: str, done: int = 0, total: int = 0) -> None:
        if self.progress is not None:
            try:
                self.progress(stage, max(done, 0), total)
            except Exception:  # the progress is for show: it must never fail a send
                pass

    async def _command(self, stage: str, call, refusals: bool = True):
        """Await one aiosmtplib call; its failures become MailErrors naming the stage."""
        try:
            return await call
        except self.lib.SMTPResponseException as exc:
            if not refusals:
                raise
            raise self._refused(stage, exc) from None
        except Exception as exc:
            raise translate(exc, self.at, self.timeout) from exc

    async def _quietly(self, call) -> None:
        try:
            await call
        except Exception:
            pass

    def _refused(self, stage: str, answer) -> SmtpRefused:
        return SmtpRefused(f"{stage} refused: {answer.code} {_text(answer.message)}", self.at,
                           answer.code, stage)

    def _tap(self) -> None:
        """Feed the trace with what goes over the (TLS) connection from here on."""
        if self.trace is None:
            return
        self.trace.add_secret(self.password)
        self._raw_write = trace_smtp(self.smtp, self.trace)


def trace_smtp(smtp: aiosmtplib.SMTP, trace: ProtocolTrace) -> Callable[[bytes], None]:
    """Record in trace what goes over smtp's connection from here on (call it after TLS, and
    register the password with trace.add_secret first); returns the protocol's own write,
    for bytes that are content, not commands (the message after DATA)."""
    protocol = smtp.protocol
    write, received = protocol.write, protocol.data_received
    pending = bytearray()

    def tapped_write(data: bytes) -> None:
        write(data)
        trace.sent(data)

    def tapped_received(data: bytes) -> None:
        pending.extend(data)
        while (end := pending.find(b"\n")) >= 0:
            trace.received_line(bytes(pending[:end + 1]))
            del pending[:end + 1]
        del pending[:-65_536]
        received(data)

    protocol.data_received = tapped_received
    protocol.write = tapped_write
    return write


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA payload: CRLF line ends, leading dots doubled, the final "." line."""
    from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(data)) + b".\r\n"


def _text(message: str) -> str:
    return message.replace("\n", " ").strip()
