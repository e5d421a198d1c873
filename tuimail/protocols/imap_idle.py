"""Waiting for news on the selected folder: IDLE (RFC 2177) on a dedicated session, re-issued
at least every 29 minutes, or NOOP polling where the server has no IDLE."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from tuimail.model.mailbox import FolderEvents

if TYPE_CHECKING:
    from tuimail.protocols.imap import ImapSession

IDLE_MAX = 29 * 60  # RFC 2177: servers may drop an IDLE after 30 minutes
POLL_INTERVAL = 30.0
SETTLE = 0.05  # after the first news, gather what follows at once (EXPUNGE bursts)
STOP_CHECK = 0.2
NEWS = {"EXISTS", "EXPUNGE", "VANISHED", "FETCH", "BYE", "UIDVALIDITY"}


class IdleOps:
    def noop(self: "ImapSession") -> FolderEvents:
        """NOOP: the server's pending news about the selected folder."""
        self._run("NOOP")
        return self.take_events()

    def idle_wait(self: "ImapSession", timeout: float, stop: Callable[[], bool] | None = None,
                  poll_interval: float = POLL_INTERVAL) -> FolderEvents:
        """Block until the selected folder changes, timeout passes, or stop() is true; the
        news (empty when none). Use a session of its own: nothing else can run meanwhile."""
        self._check(None)
        pending = self.take_events()
        if pending:
            return pending
        deadline = time.monotonic() + timeout
        idle = self.has_capability("IDLE")
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (stop is not None and stop()):
                return self.take_events()
            if idle:
                news = self._idle_once(min(remaining, IDLE_MAX), stop)
            else:
                self._sleep(min(remaining, poll_interval), stop)
                news = self.noop()
            if news:
                return news

    def _sleep(self: "ImapSession", seconds: float, stop: Callable[[], bool] | None) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not (stop is not None and stop()):
            time.sleep(min(left, STOP_CHECK))

    def _idle_once(self: "ImapSession", seconds: float, stop: Callable[[], bool] | None) -> FolderEvents:
        self._usable()
        imap, wire = self._client._imap, self._wire
        try:
            tag = imap._command("IDLE")
            if imap._get_response() is not None:  # not "+ idling": refused, or news first
                if tag in imap.tagged_commands and imap.tagged_commands[tag]:
                    typ, data = imap._command_complete("IDLE", tag)
                    self._absorb(wire.drain())
                    return self.take_events()
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0 and not (stop is not None and stop()):
                if not wire.wait_readable(min(left, STOP_CHECK if stop is not None else left)):
                    continue
                imap._get_response()
                if any(kind in NEWS for kind, _ in wire.responses):
                    while wire.wait_readable(SETTLE):
                        imap._get_response()
                    break
            imap.send(b"DONE\r\n")
            imap._command_complete("IDLE", tag)
        except Exception as exc:
            raise self._fail(exc) from exc
        self._absorb(wire.drain())
        return self.take_events()
