"""Fixed mail for TUI tests that need no server: the layout tests and the snapshots.

The index is fed the way a warm start feeds it: from the header cache under a temporary
$XDG_CACHE_HOME, pre-filled with these rows. No password is known, so the folder pane never
goes to the network; the one thing replaced is the main screen's folder-listing worker, which
answers with a fixed folder list and counts instead of asking a server. The reader gets its
message and its source (full headers, route) from these bytes, through the same functions
the POP3 local copy goes through. The clock and the time zone are pinned, so the dates drawn
never depend on the day the tests run.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tuimail.model.config import Config, parse_config
from tuimail.model.folder import Folder
from tuimail.model.mailbox import FolderStatus
from tuimail.model.message import parse_message
from tuimail.model.mime import display_part
from tuimail.model.pop3 import summary_from_header
from tuimail.model.summary import ANSWERED, FLAGGED, SEEN, MessageSummary
from tuimail.store.header_cache import FolderState, HeaderCache
from tuimail.store.message_view import MessageView
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.main import FoldersLoaded, MainScreen
from tuimail.ui.widgets import message_list
from tuimail.ui.widgets.folders import FolderList
from tuimail.ui.widgets.pane_messages import FolderCounts
from tuimail.ui.widgets.source_fetch import deliver, pop3_job

ACCOUNT = "alice"
CONFIG_PATH = "~/.config/tuimail/config.toml"  # the title shows it: never a temporary path
NOW = datetime(2025, 3, 14, 16, 0, tzinfo=timezone.utc)  # "today" for the index's dates
UIDVALIDITY = 1

CONFIG = f"""
[ui]
theme = "{{theme}}"

[accounts.{ACCOUNT}]
email = "alice@example.org"
username = "alice"
protocol = "imap"
trusted_authserv_ids = ["mx.example.net"]

[accounts.{ACCOUNT}.imap]
host = "127.0.0.1"
port = 9
security = "tls"

[accounts.work]
email = "alice@work.example.com"
protocol = "imap"

[accounts.work.imap]
host = "127.0.0.1"
port = 9
security = "tls"
"""

FOLDERS = [Folder.from_list(name, "/", flags) for name, flags in (
    ("INBOX", ["\\HasChildren"]), ("INBOX/Lists", ["\\HasNoChildren"]), ("Sent", ["\\Sent"]),
    ("Drafts", ["\\Drafts"]), ("Archive", ["\\Archive"]), ("Junk", ["\\Junk"]), ("Trash", ["\\Trash"]))]
COUNTS = {name: FolderStatus(name, messages=total, unseen=unseen) for name, total, unseen in (
    ("INBOX", 40, 3), ("INBOX/Lists", 1203, 17), ("Sent", 310, 0), ("Drafts", 2, 0), ("Archive", 5120, 0),
    ("Junk", 12, 12), ("Trash", 0, 0))}


def _message(headers: str, body: str) -> bytes:
    return (headers.strip("\n") + "\n\n" + body).replace("\n", "\r\n").encode()


ROUTE_HEADERS = """\
Return-Path: <billing@shop.example.com>
Delivered-To: alice@example.org
Received: from mx.example.net (mx.example.net [198.51.100.2])
 by imap.example.org (Dovecot) with LMTP id kQ3bAkF2 for <alice@example.org>; Thu, 13 Mar 2025 09:14:41 +0000
Received: from relay2.example.org (relay2.example.org [203.0.113.25])
 (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))
 by mx.example.net (Postfix) with ESMTPS id 4Z7Q1k; Thu, 13 Mar 2025 09:14:40 +0000
Received: from relay1.example.org (relay1.example.org [203.0.113.24])
 (using TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits))
 by relay2.example.org (Postfix) with ESMTPS id 9F2A7; Thu, 13 Mar 2025 09:14:31 +0000
Received: from laptop.home.example (dsl-81.isp.example [192.0.2.81])
 by relay1.example.org (Postfix) with ESMTPSA id 51C0D; Thu, 13 Mar 2025 10:12:02 +0100
Received: from [127.0.0.1] by laptop.home.example with ESMTP; Thu, 13 Mar 2025 10:11:58 +0100
Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.org;
 dkim=pass header.d=example.org header.s=s2025; dmarc=pass header.from=example.org
DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s2025; h=from:to:subject:date:message-id; bh=47DEQpj8=; b=dGVzdA==
From: Bob Builder <bob@example.org>
To: Alice Liddell <alice@example.org>
Subject: Fwd: Your invoice INV-2025-0042
Date: Thu, 13 Mar 2025 10:11:57 +0100
Message-ID: <fwd-0042@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer-boundary"
"""

ROUTE_BODY = """\
--outer-boundary
Content-Type: text/plain; charset=utf-8

Alice, this is the invoice I told you about; the original is attached as it arrived.

Bob

--outer-boundary
Content-Type: message/rfc822
Content-Disposition: attachment; filename="invoice.eml"

Received: from shop.example.com (shop.example.com [198.51.100.77]) by mx.example.org with ESMTPS id 77AA; Wed, 12 Mar 2025 18:02:10 +0000
From: Shop Billing <billing@shop.example.com>
To: bob@example.org
Subject: Your invoice INV-2025-0042
Date: Wed, 12 Mar 2025 18:02:05 +0000
Message-ID: <inv-0042@shop.example.com>
Content-Type: text/plain; charset=utf-8

Invoice INV-2025-0042: 3 items, 129.90 EUR, due 31 March 2025.

--outer-boundary--
"""

READER_BODY = """\
--reply-boundary
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hi Alice,

Draft v3 of the quarterly numbers is attached. Revenue is up 4.2 % on the
quarter; the travel line is still an estimate until Bob's receipts are in.

Zoë

On Wed, 12 Mar 2025 at 17:40, Alice Liddell wrote:
> Thanks! Could you split travel from the conference costs?
>
> On Tue, 11 Mar 2025, Zoë Ångström wrote:
>> Here is draft v2. The March column is provisional.

--reply-boundary
Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name="q1-numbers-v3.xlsx"
Content-Disposition: attachment; filename="q1-numbers-v3.xlsx"
Content-Transfer-Encoding: base64

UEsDBBQAAAAIAAAAIQBmaXhlZCBieXRlcyBmb3IgdGhlIHNuYXBzaG90IHRlc3RzLCBub3QgYSBy
ZWFsIHNwcmVhZHNoZWV0LiBwYWRkaW5nIHBhZGRpbmcgcGFkZGluZyBwYWRkaW5nIHBhZGRpbmcg
--reply-boundary--
"""


def _featured() -> list[tuple[bytes, frozenset[str]]]:
    """The newest eight messages, oldest first: what the top of the index shows."""
    pdf = "JVBERi0xLjQKJWZpeGVkIGJ5dGVzIGZvciB0aGUgc25hcHNob3QgdGVzdHMK\n" * 40
    jpeg = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAGZpeGVkIGJ5dGVzIGZvciB0ZXN0cw==\n" * 60
    return [
        (_message("From: Eve Example <eve@example.com>\nTo: alice@example.org\nSubject: Happy holidays\n"
                  "Date: Fri, 20 Dec 2024 08:15:00 +0000\nMessage-ID: <hol@example.com>",
                  "Have a good break!\n"), frozenset({SEEN})),
        (_message("From: Dave <dave@example.com>\nTo: alice@example.org\nSubject: Photos from the trip\n"
                  "Date: Fri, 28 Feb 2025 19:03:00 +0000\nMessage-ID: <trip@example.com>\nMIME-Version: 1.0\n"
                  'Content-Type: multipart/mixed; boundary="b"',
                  "--b\nContent-Type: text/plain\n\nTwo of the best.\n--b\nContent-Type: image/jpeg\n"
                  'Content-Disposition: attachment; filename="lake.jpg"\nContent-Transfer-Encoding: base64\n\n'
                  + jpeg + "--b\nContent-Type: image/jpeg\n"
                  'Content-Disposition: attachment; filename="summit.jpg"\nContent-Transfer-Encoding: base64\n\n'
                  + jpeg + "--b--\n"), frozenset({SEEN, FLAGGED})),
        (_message("From: Carol <carol@example.org>\nTo: alice@example.org\nSubject: Lunch on Friday?\n"
                  "Date: Mon, 10 Mar 2025 12:30:00 +0000\nMessage-ID: <lunch@example.org>",
                  "The usual place at 12:30?\n"), frozenset({SEEN, ANSWERED})),
        (_message("From: Terminal Weekly <news@lists.example.com>\nTo: alice@example.org\n"
                  "Subject: This week in terminals: sixel, kitty graphics and the return of the TUI\n"
                  "Date: Wed, 12 Mar 2025 07:00:00 +0000\nMessage-ID: <tw-112@lists.example.com>\n"
                  "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8",
                  "<html><body><h1>This week</h1><p>Sixel support <b>everywhere</b>.</p></body></html>\n"),
         frozenset({SEEN})),
        (_message(ROUTE_HEADERS, ROUTE_BODY), frozenset({SEEN, ANSWERED})),
        (_message("From: =?utf-8?b?0JzQsNGA0LjQvdCwINCY0LLQsNC90L7QstCw?= <marina@example.ru>\n"
                  "To: alice@example.org\nSubject: =?utf-8?b?0J7RgtGH0ZHRgiDQt9CwINC80LDRgNGC?= / March report\n"
                  "Date: Fri, 14 Mar 2025 09:30:00 +0000\nMessage-ID: <otchet@example.ru>\nMIME-Version: 1.0\n"
                  'Content-Type: multipart/mixed; boundary="m"',
                  "--m\nContent-Type: text/plain; charset=utf-8\n\nThe report is attached.\n--m\n"
                  'Content-Type: application/pdf\nContent-Disposition: attachment; filename="report-march.pdf"\n'
                  "Content-Transfer-Encoding: base64\n\n" + pdf + "--m--\n"), frozenset({FLAGGED})),
        (_message("From: Build Bot <ci@build.example.org>\nTo: alice@example.org\n"
                  "Subject: [ci] main: 214 passed, 0 failed\nDate: Fri, 14 Mar 2025 11:05:00 +0000\n"
                  "Message-ID: <ci-9921@build.example.org>", "All green.\n"), frozenset({SEEN})),
        (_message("From: =?utf-8?q?Zo=C3=AB_=C3=85ngstr=C3=B6m?= <zoe@example.net>\n"
                  "To: Alice Liddell <alice@example.org>\nCc: Bob Builder <bob@example.org>\n"
                  "Subject: Re: Quarterly numbers, draft v3\nDate: Fri, 14 Mar 2025 15:42:00 +0000\n"
                  "Message-ID: <q1-v3@example.net>\nIn-Reply-To: <q1-v2@example.org>\nMIME-Version: 1.0\n"
                  'Content-Type: multipart/mixed; boundary="reply-boundary"', READER_BODY), frozenset()),
    ]


SENDERS = ("Carol <carol@example.org>", "Dave <dave@example.com>", "Build Bot <ci@build.example.org>",
           "Bob Builder <bob@example.org>")


def _filler(count: int) -> list[tuple[bytes, frozenset[str]]]:
    """Older routine mail, one a week back from mid-December 2024, oldest first."""
    rows = []
    for n in range(count, 0, -1):
        day = datetime(2024, 12, 13, 9, 0, tzinfo=timezone.utc) - timedelta(weeks=n)
        rows.append((_message(f"From: {SENDERS[n % len(SENDERS)]}\nTo: alice@example.org\n"
                              f"Subject: Weekly status #{100 - n}\n"
                              f"Date: {day.strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
                              f"Message-ID: <weekly-{100 - n}@example.org>",
                              f"Status report {100 - n}: nothing unusual.\n"), frozenset({SEEN})))
    return rows


@dataclass(frozen=True)
class FixedMessage:
    uid: int
    raw: bytes
    summary: MessageSummary


def fixed_messages() -> list[FixedMessage]:
    """The INBOX, UIDs 1..40, oldest first (under FIRST_SCREEN rows: the cache holds it all)."""
    found = []
    for uid, (raw, flags) in enumerate(_filler(32) + _featured(), start=1):
        found.append(FixedMessage(uid, raw, summary_from_header(uid, raw, len(raw), flags, structure=True)))
    return found


MESSAGES = fixed_messages()
BY_SUBJECT = {m.summary.subject: m for m in MESSAGES}
READER = BY_SUBJECT["Re: Quarterly numbers, draft v3"]
ROUTED = BY_SUBJECT["Fwd: Your invoice INV-2025-0042"]


def fill_cache(cache: HeaderCache) -> None:
    """The INBOX as a warm start finds it: every row cached, the block covering them all."""
    count = len(MESSAGES)
    cache.set_folder_state(ACCOUNT, "INBOX", FolderState(UIDVALIDITY, uidnext=count + 1, exists=count, block_lo=1))
    cache.put(ACCOUNT, "INBOX", UIDVALIDITY, [m.summary for m in MESSAGES])


def message_view(message: FixedMessage) -> MessageView:
    """What the reader gets for message (as the POP3 local copy gives it)."""
    parsed = parse_message(message.raw)
    return MessageView(message.summary, parsed.body, parsed.body_kind, display_part(parsed.root),
                       tuple(parsed.attachments), parsed.problems)


class FixedReader:
    """The reader's controller for a message with no connection: its source comes from the
    fixed bytes through pop3_job (the local-copy path); the actions do nothing."""

    def __init__(self, message: FixedMessage, account) -> None:
        self.message, self.account = message, account

    def raw(self, uid: int, force: bool = False) -> bytes | None:  # pop3_job's store
        return self.message.raw if uid == self.message.uid else None

    def fetch_source(self, target, uid: int, section: str) -> None:
        target.call_later(deliver, pop3_job(target, uid, section)(self))  # later, as a job's answer comes

    def __getattr__(self, name: str):  # save_attachment, toggle_seen, reply_message, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


def _fixed_folders(screen: MainScreen, account, password=None, head=None) -> None:
    """MainScreen.load_folders without a server: the fixed folder list and counts."""
    screen.post_message(FoldersLoaded(account.name, list(FOLDERS)))
    screen.post_message(FolderCounts(account.name, dict(COUNTS)))


def fixed_config(theme: str = "tuimail-dark") -> Config:
    return parse_config(CONFIG.format(theme=theme), CONFIG_PATH)


@pytest.fixture
def fixed_mail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A hermetic home with the INBOX cached, the clock at NOW and the time zone UTC."""
    for name, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("TUIMAIL_CONFIG", str(tmp_path / "config" / "tuimail" / "config.toml"))
    monkeypatch.delenv("NO_COLOR", raising=False)  # Textual would draw in monochrome
    monkeypatch.setattr(message_list, "local_now", lambda: NOW)
    monkeypatch.setattr(MainScreen, "load_folders", _fixed_folders)
    cache = HeaderCache.open_default()
    fill_cache(cache)
    cache.close()
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield tmp_path
    monkeypatch.undo()
    time.tzset()  # back to the zone the process had


def fixed_app(tmp_path: Path, theme: str = "tuimail-dark") -> TuimailApp:
    return TuimailApp(Path(CONFIG_PATH), fixed_config(theme), user_themes=tmp_path / "no-user-themes")


def index_ready(app: TuimailApp) -> bool:
    """The cached rows and the folder list (with counts) are drawn."""
    screen = app.screen
    if not isinstance(screen, MainScreen):
        return False
    index = screen.query("MessageList")
    folders = screen.query(FolderList)
    return bool(index) and index.first().index.count == len(MESSAGES) and bool(folders) \
        and bool(folders.first().folders) and bool(folders.first().counts)
