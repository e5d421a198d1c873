"""`pop3 sync`: download what is new, then apply the keep-on-server policy, never losing mail.

Order of a run, each step only after the one before succeeded:
1. STAT, full UIDL and LIST (pipelined). A UIDL that is invalid or listed twice is not
   trusted: that message is matched by Message-ID and size and never deleted (reported).
2. Every message not stored yet is RETRieved into the store; the store fsyncs the file,
   renames it into place and fsyncs the directory before recording it. A file left by an
   interrupted run is adopted instead of downloaded again. A storage failure (full disk)
   stops the run: nothing is deleted on the server in that session.
3. The policy (model/pop3.py) picks messages to delete. Each must have a trusted UIDL and a
   local copy whose size and SHA-256 still match; one stored in an earlier session must also
   still carry the same Message-ID on the server (TOP n 0), so a UIDL the server reused for
   another message is never deleted.
4. DELE (pipelined), then QUIT. Only +OK to QUIT makes deletions final, so only then does the
   state record them. A lost connection or -ERR to QUIT records nothing: the server rolled
   back (or will show on the next listing what it removed).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from tuimail.model.pop3 import (Holding, KeepPolicy, deletion_reason, header_message_id, is_uidl_key,
                                show_key, summary_from_header, uidl_problem)
from tuimail.protocols.errors import MailError
from tuimail.store.pop3_store import Record, StoreError


@dataclass(frozen=True)
class Item:
    id: int
    number: int
    key: str  # shown safely (show_key)
    size: int
    subject: str = ""
    reason: str = ""


@dataclass
class SyncReport:
    account: str
    policy: str
    dry_run: bool = False
    count: int = 0  # messages on the server at the start
    downloaded: list[Item] = field(default_factory=list)
    adopted: list[Item] = field(default_factory=list)  # complete files left by an interrupted run
    deleted: list[Item] = field(default_factory=list)  # confirmed by +OK to QUIT
    would_download: list[Item] = field(default_factory=list)  # dry run
    would_delete: list[Item] = field(default_factory=list)  # dry run, or DELE sent but QUIT failed
    kept: int = 0  # left on the server
    skipped: list[Item] = field(default_factory=list)  # with a reason
    notes: list[str] = field(default_factory=list)
    quit_ok: bool | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        return asdict(self) | {"ok": self.ok}

    def sections(self) -> list[tuple[str, str, list[Item]]]:
        """(title, mark, items) for each kind of outcome, in the order reports list them."""
        return [("downloaded", "+", self.downloaded), ("adopted from an interrupted run", "=", self.adopted),
                ("would download", "+", self.would_download),
                ("deleted on the server", "-", self.deleted),
                ("would delete on the server", "-", self.would_delete),
                ("skipped", "!", self.skipped)]


def run_sync(sync, dry_run: bool, now: float) -> SyncReport:
    account = sync.account
    policy = KeepPolicy.of(account)
    report = SyncReport(account.name, policy.describe(), dry_run)
    store = sync.store
    if store.recovered:
        report.notes.append(store.recovered)
    try:
        session = sync.session
        report.count, _ = session.stat()
        uidls, sizes = session.listing()
        if uidls is None:
            report.notes.append("the server has no UIDL: messages are matched by Message-ID and size "
                                "and never deleted on the server")
        headers: dict[int, bytes] = {}
        keys = sync._keys_for(uidls, sizes, headers)
        _report_untrusted(report, uidls, sizes, keys, sync)
        keys = _dedupe(report, keys, sizes)
        records = store.seen(((k, t, n, sizes[n]) for n, (k, t) in keys.items()), now, full=True)
        store.set_meta("count", str(report.count))
        sync.server_count, sync._listed = report.count, True
        fresh, failed = _download(sync, report, keys, records, sizes, dry_run, now)
        _headers_for_big(sync, report, keys)
        to_delete = [] if failed else _pick(sync, report, policy, keys, fresh, sizes, now)
        to_delete = _dele(sync, report, to_delete, dry_run)
        report.quit_ok = sync.close()
        if to_delete and report.quit_ok:
            store.mark_deleted_on_server([r.key for _, r in to_delete], now)
            for n, record in to_delete:
                report.deleted.append(_item(record, n))
                if record.deleted_locally:
                    store.drop_file(record)
        elif to_delete:
            report.would_delete.extend(_item(r, n, "DELE sent, but QUIT was not answered +OK: the server "
                                                    "keeps it") for n, r in to_delete)
            report.error = "QUIT failed: no deletion of this session took effect; nothing was lost"
        deleted = len(report.deleted)
        report.kept = report.count - deleted
    except (MailError, StoreError, OSError) as exc:
        report.error = str(exc)
        report.quit_ok = False
        report.notes.append("stopped before QUIT: the server deletes nothing of this session; "
                            "what was downloaded is stored")
        if sync._session is not None:
            sync._session.close()
            sync._session = None
        report.kept = report.count
    return report


def _item(record: Record, n: int, reason: str = "") -> Item:
    subject = record.summary.subject if record.summary else ""
    return Item(record.id, n, show_key(record.key), record.size, subject, reason)


def _report_untrusted(report: SyncReport, uidls, sizes, keys, sync) -> None:
    if uidls is None:
        return
    dups = {u for u, c in Counter(uidls.values()).items() if c > 1}
    for n in sorted(sizes):
        uidl = uidls.get(n)
        problem = uidl_problem(uidl) or ("duplicate UIDL" if uidl in dups else None)
        if problem is None:
            continue
        shown = show_key(uidl.decode("latin-1")) if uidl is not None else ""
        why = f"{problem}: never deleted on the server; matched by Message-ID and size"
        if n not in keys:
            why = f"{problem}, and the server gave no headers to match it by: not downloaded"
        report.skipped.append(Item(0, n, shown, sizes[n], "", why))
    for problem in sync.session.problems:
        report.notes.append(problem)


def _dedupe(report: SyncReport, keys: dict, sizes: dict) -> dict:
    """Fallback keys can repeat (the same Message-ID and size twice): keep the first."""
    seen: set[str] = set()
    kept = {}
    for n, (key, trusted) in sorted(keys.items()):
        if key in seen:
            report.skipped.append(Item(0, n, show_key(key), sizes[n], "",
                                       "same Message-ID and size as another message: stored once"))
            continue
        seen.add(key)
        kept[n] = (key, trusted)
    return kept


def _download(sync, report: SyncReport, keys: dict, records: dict[str, Record], sizes: dict,
              dry_run: bool, now: float) -> tuple[set[str], bool]:
    """Store every message not stored yet. Returns the keys stored in this run and whether
    storing failed (then the run deletes nothing)."""
    store, limit = sync.store, sync.account.max_download_size
    fresh: set[str] = set()
    todo: list[tuple[int, str, Record]] = []
    for n, (key, _) in sorted(keys.items()):
        record = records[key]
        if record.stored:
            if store.file_path(key).exists():
                continue
            store.drop_file(record)  # the file went missing: fetch it again
            record = store.by_key(key)
        if record.deleted_locally:
            continue
        if limit and sizes[n] > limit:
            report.skipped.append(_item(record, n, f"larger than max_download_size ({limit} bytes): "
                                                   "headers only until asked"))
            continue
        if dry_run:
            report.would_download.append(_item(record, n))
            continue
        todo.append((n, key, record))
    if todo and getattr(sync, "on_plan", None) is not None:  # the sync's progress: what it is about to store
        sync.on_plan(len(todo), sum(sizes[n] for n, _, _ in todo))
    for n, key, record in todo:
        adopted = store.adopt(key, now, _summary_of(record))
        if adopted is not None:
            report.adopted.append(_item(adopted, n, "found complete from an interrupted run"))
            if getattr(sync, "on_download", None) is not None:
                sync.on_download(adopted)
            continue
        try:
            stored = sync.download(key, now)
        except (OSError, StoreError) as exc:
            report.error = f"could not store message {n}: {exc}"
            report.notes.append("storing failed, so nothing is deleted on the server in this run")
            return fresh, True
        fresh.add(key)
        report.downloaded.append(_item(stored, n))
    return fresh, False


def _summary_of(record: Record):
    return lambda id_, data: summary_from_header(id_, data, record.size, record.flags, structure=True)


def _headers_for_big(sync, report: SyncReport, keys: dict) -> None:
    """Index rows for messages left undownloaded for their size (TOP n 0, pipelined)."""
    limit = sync.account.max_download_size
    if not limit:
        return
    by_key = sync.store.by_keys(k for k, _ in keys.values())
    need = {n: k for n, (k, _) in keys.items()
            if by_key[k].summary is None and not by_key[k].stored and by_key[k].size > limit}
    if need:
        headers = sync.session.top_many(need)
        sync.store.set_summaries({need[n]: summary_from_header(by_key[need[n]].id, h, by_key[need[n]].size)
                                  for n, h in headers.items()})


def _pick(sync, report: SyncReport, policy: KeepPolicy, keys: dict, fresh: set[str], sizes: dict,
          now: float) -> list[tuple[int, Record]]:
    store = sync.store
    by_key = store.by_keys(k for k, _ in keys.values())
    chosen: list[tuple[int, Record]] = []
    for n, (key, trusted) in sorted(keys.items()):
        record = by_key[key]
        reason = deletion_reason(policy, Holding(key, record.stored_at, record.deleted_locally is not None), now)
        if reason is None or not trusted or not is_uidl_key(key):
            continue
        problem = store.verify(record)
        if problem is not None:
            report.skipped.append(_item(record, n, f"{problem}: not deleted on the server"))
            if problem == "local copy missing":
                store.drop_file(record)
            continue
        chosen.append((n, record))
    old = [n for n, r in chosen if r.key not in fresh]
    if old:  # stored in an earlier session: is it still the same message on the server?
        headers = sync.session.top_many(old)
        kept = []
        for n, record in chosen:
            if n in old:
                server_id = header_message_id(headers.get(n, b""))
                local_id = header_message_id(store.read(record)) if n in headers else None
                if n not in headers or server_id != local_id:
                    report.skipped.append(_item(record, n, "the server's message under this UIDL does not "
                                                           "match the local copy: not deleted"))
                    continue
            kept.append((n, record))
        chosen = kept
    return chosen


def _dele(sync, report: SyncReport, chosen: list[tuple[int, Record]], dry_run: bool) -> list[tuple[int, Record]]:
    if not chosen:
        return []
    if dry_run:
        report.would_delete.extend(_item(r, n, "dry run") for n, r in chosen)
        return []
    answers = sync.session.dele_many([n for n, _ in chosen])
    sent = []
    for n, record in chosen:
        if answers[n].ok:
            sent.append((n, record))
        else:
            report.skipped.append(_item(record, n, f"DELE refused: {answers[n].text}"))
    return sent
