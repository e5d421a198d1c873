"""The bytes an SMTP server sends, bounded by [limits] before aiosmtplib parses them.

aiosmtplib caps a reply line at 8 KiB and a reply at 32 KiB, and says only "Response too
long" (an SMTPResponseException, which would read as the server refusing whatever command
was running, a login included). guard() checks the account's own caps first, so the error
names the key that raises it, and drops the connection so a flood stops at once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tuimail.model.limits import DEFAULT_LIMITS, Limits, amount, over
from tuimail.protocols.errors import WireLimit

if TYPE_CHECKING:
    import aiosmtplib

TOO_LONG = "Response too long"  # aiosmtplib's words when its own caps are hit


def library_cap_hit(at: str) -> WireLimit:
    """The error for aiosmtplib's own caps, hit where guard() is not installed (the greeting)."""
    line, reply = (amount(k, getattr(DEFAULT_LIMITS, k)) for k in ("smtp_line_bytes", "smtp_response_bytes"))
    return WireLimit(f"server reply too long: over aiosmtplib's own caps of {line} a line or {reply} "
                     "a reply (limits.smtp_line_bytes and limits.smtp_response_bytes can only lower them)", at)


def guard(smtp: aiosmtplib.SMTP, limits: Limits, at: str) -> None:
    """Check every reply line against limits.smtp_line_bytes and every reply against
    limits.smtp_response_bytes; past either, the pending command fails with WireLimit."""
    protocol = smtp.protocol
    received = protocol.data_received
    line = bytearray()  # the first bytes of the current line: enough to see "250-"
    state = {"line": 0, "reply": 0, "hit": False}

    def fail(error: WireLimit) -> None:
        state["hit"] = True
        waiter = getattr(protocol, "_response_waiter", None)
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
            waiter.exception()  # retrieved: no "never retrieved" warning if nobody awaits it
        if protocol.transport is not None:
            protocol.transport.abort()

    def guarded(data: bytes) -> None:
        if state["hit"]:
            return
        error = None
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            stop = len(data) if end < 0 else end + 1
            if len(line) < 4:
                line.extend(data[start:min(stop, start + 4 - len(line))])
            state["line"] += stop - start
            state["reply"] += stop - start
            if state["line"] > limits.smtp_line_bytes:
                error = over("server sent a line", "smtp_line_bytes", limits.smtp_line_bytes)
            elif state["reply"] > limits.smtp_response_bytes:
                error = over("server reply", "smtp_response_bytes", limits.smtp_response_bytes)
            if error is not None:
                fail(WireLimit(error, at))
                return
            if end >= 0:  # a whole line: "250-" goes on, anything else ends the reply
                if line[3:4] != b"-":
                    state["reply"] = 0
                state["line"] = 0
                del line[:]
            start = stop
        received(data)

    protocol.data_received = guarded
