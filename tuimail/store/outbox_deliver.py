"""Delivering one outbox entry: the state machine behind outbox.deliver().

Each state is on disk before the step it guards: "sending" is fsynced before the connection
opens, so a process killed at any point leaves an entry that says what may have happened.

progress(stage, done, total) hears SMTP's stages (protocols/smtp.py: connecting, logging in,
sending with the bytes of DATA, waiting, delivered), then "filing" while the Sent copy is
APPENDed: one IMAP command whose bytes are not followed, so done and total are 0 there.
"""
from __future__ import annotations

from tuimail.model.config import Account
from tuimail.model.secret import Secret
from tuimail.model.text import one_line
from tuimail.protocols.errors import MailError
from tuimail.protocols.smtp import DeliveryUnknown, RecipientsRefused, SendProgress, send
from tuimail.protocols.trace import ProtocolTrace
from tuimail.store.outbox import Outbox, OutboxEntry, OutboxState
from tuimail.store.outbox_files import OutboxError
from tuimail.store.sent_folder import SentFiler, imap_sent_filer

State = OutboxState


class Delivery:
    def __init__(self, outbox: Outbox, entry_id: str, account: Account, password: Secret | None,
                 file_to_sent: SentFiler | None, force: bool, timeout: float | None,
                 trace: ProtocolTrace | None, progress: SendProgress | None = None):
        self.outbox, self.entry_id, self.account, self.password = outbox, entry_id, account, password
        self.file_to_sent, self.force, self.timeout, self.trace = file_to_sent, force, timeout, trace
        self.progress = progress

    def run(self) -> OutboxEntry:
        with self.outbox.lock(self.entry_id):
            entry = self.outbox._load(self.entry_id)
            if entry.account != self.account.name:
                raise OutboxError(f"outbox entry {entry.id} belongs to account '{entry.account}', "
                                  f"not '{self.account.name}'")
            if entry.state is State.SENDING:  # we hold the lock: whoever was sending died
                entry.state = State.UNKNOWN
                entry.reply = "tuimail stopped while sending: it may or may not have been delivered"
            if entry.state is State.SENT and entry.filed:
                raise OutboxError(f"outbox entry {entry.id} was sent already; nothing to retry")
            if entry.state in (State.SENT, State.FILING_FAILED):
                return self._file(entry)  # delivered: never sent again
            if entry.state is State.UNKNOWN and not self.force:
                raise OutboxError(
                    f"outbox entry {entry.id} may have been delivered already ({entry.reply}); "
                    "sending it again may deliver it twice: retry with force (--force) to do so")
            return self._send(entry)

    def _send(self, entry: OutboxEntry) -> OutboxEntry:
        raw = self.outbox.raw(entry.id)
        entry.state, entry.reply, entry.results = State.SENDING, "", []
        entry.attempts += 1
        self.outbox.save(entry)  # OutboxError here: still queued on disk, nothing sent
        try:
            result = send(self.account, self.password, entry.envelope_from, entry.recipients, raw,
                          timeout=self.timeout, trace=self.trace, progress=self.progress)
        except DeliveryUnknown as exc:
            return self._record(entry, State.UNKNOWN, str(exc))
        except RecipientsRefused as exc:
            entry.results = list(exc.results)
            return self._record(entry, State.FAILED, str(exc))
        except (MailError, ValueError) as exc:
            return self._record(entry, State.FAILED, _reason(exc))
        except BaseException:
            # Interrupted or a bug, at a point we cannot know: maybe delivered.
            entry.state, entry.reply = State.UNKNOWN, "interrupted while sending"
            try:
                self.outbox.save(entry)
            except OutboxError:
                pass  # left "sending": reads as unknown once the lock is gone
            raise
        order = {address: n for n, address in enumerate(entry.recipients)}
        entry.results = sorted(result.accepted + result.refused, key=lambda r: order.get(r.address, 0))
        entry.reply = f"{result.data_code} {result.data_message}".strip()
        entry.filed = False
        self._record(entry, State.SENT, entry.reply)
        return self._file(entry)

    def _file(self, entry: OutboxEntry) -> OutboxEntry:
        filer = self.file_to_sent
        if filer is None:
            filer = imap_sent_filer(self.account, self.password, timeout=self.timeout)
        if filer is None:
            entry.state, entry.filed = State.SENT, True
            entry.filing = "not filed: the account has no IMAP server"
        else:
            self._report("filing")
            try:
                entry.filing = one_line(filer(self.outbox.raw(entry.id), entry.message_id))
                entry.state, entry.filed = State.SENT, True
            except Exception as exc:  # whatever went wrong, the message was delivered
                entry.state, entry.filed = State.FILING_FAILED, False
                entry.filing = _reason(exc)
        return self._record(entry, entry.state, entry.reply)

    def _report(self, stage: str) -> None:
        if self.progress is not None:
            try:
                self.progress(stage, 0, 0)
            except Exception:  # the progress is for show: it never changes what is recorded
                pass

    def _record(self, entry: OutboxEntry, state: OutboxState, reply: str) -> OutboxEntry:
        entry.state, entry.reply = state, one_line(reply, 1000)
        try:
            self.outbox.save(entry)
        except OutboxError as exc:
            delivered = state in (State.SENT, State.FILING_FAILED)
            what = (f"was delivered ({entry.reply}); do not send it again" if delivered
                    else f"ended {state.value} ({entry.reply})")
            error = OutboxError(f"outbox entry {entry.id} {what}, but the outbox could not "
                                f"record it: {exc}")
            error.entry = entry  # type: ignore[attr-defined]
            raise error from None
        return entry


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MailError):
        return str(exc)
    return one_line(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
