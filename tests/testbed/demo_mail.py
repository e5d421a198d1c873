"""The demo's showcase: hand-made messages delivered on top of the generated fill (`serve --demo`).

They are the newest in the INBOX, so they fill the first screen: a welcome message that lists the
keys, a forward-as-attachment whose original took a long Received route, an HTML-only newsletter
full of remote content (never fetched), a thread with non-ASCII senders and attachments, and a
look-alike sender that fails DMARC. Built with the stdlib email package (policy SMTP), so they are
well-formed; the trace headers an MTA would prepend (Received, Authentication-Results,
DKIM-Signature, Return-Path) are written by hand, as MTAs write them, on top.

Deterministic: the same end time and recipient give the same bytes. Dates are fixed offsets after
`end` (the fill's end time); Message-IDs are fixed.
"""
from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime

SPAN = 3600  # seconds after the fill's end that the showcase covers; serve ends the fill this long ago
TRUSTED_AUTHSERV_ID = "mx.example.test"  # the demo account's own MX: its verdicts are trusted
# Maildir files have LF line ends; a header parsed from source (the forwarded original) is kept as written
STORE = policy.SMTP.clone(linesep="\n", refold_source="none")

WELCOME_SUBJECT = "Welcome to the tuimail demo: start here"
FORWARD_SUBJECT = "Fwd: Shipment NW-4471 dispatched (see the route)"
NEWSLETTER_SUBJECT = "Terminal Weekly #42: five tools we love"
THREAD_SUBJECT = "Offsite in Kraków: agenda and travel"
PHISH_SUBJECT = "Unusual sign-in: verify your account within 24 hours"
# Newest first, as the index lists them: the first screen shows these at the top.
SHOWCASE_SUBJECTS = (WELCOME_SUBJECT, FORWARD_SUBJECT, "Re: " + THREAD_SUBJECT, PHISH_SUBJECT,
                     "Re: " + THREAD_SUBJECT, NEWSLETTER_SUBJECT, "Re: " + THREAD_SUBJECT, THREAD_SUBJECT)

# The key table of the welcome message, two to a line: (keys as shown, what they do, the Binding
# id in tuimail/ui each key belongs to -> its Textual key name). tests/test_demo.py checks every
# key against the real bindings, so the welcome cannot drift from the UI.
KEYS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("j / k", "next / previous message", {"index.next": "j", "index.previous": "k"}),
    ("r / R", "reply / reply to all", {"index.reply": "r", "index.reply_all": "R"}),
    ("g / G", "newest / oldest message", {"index.first": "g", "index.last": "G"}),
    ("f", "forward (inline/attached)", {"index.forward": "f"}),
    ("space / b", "one screen down / up", {"index.page_down": "space", "index.page_up": "b"}),
    ("m", "compose a new message", {"index.compose": "m"}),
    ("Enter", "read the message", {"index.open": "enter"}),
    ("d", "delete (to Trash)", {"index.delete": "d"}),
    ("Esc / q", "back from the message", {"message.close": "escape", "route.close": "q"}),
    ("M", "move to another folder", {"index.move": "M"}),
    ("h", "full headers (again: raw)", {"message.headers": "h"}),
    ("N / F", "read-unread / flag", {"index.toggle_seen": "N", "index.toggle_flagged": "F"}),
    ("H", "route, SPF, DKIM, DMARC", {"message.route": "H"}),
    ("/", "search on the server", {"index.search": "slash"}),
    ("U", "raw source", {"message.raw": "U"}),
    ("t", "threads", {"index.threads": "t"}),
    ("s", "save the attachment", {"message.save": "s"}),
    ("ctrl+s", "send (in compose)", {"compose.send": "ctrl+s"}),
    ("T", "IMAP/SMTP protocol trace", {"main.trace": "T"}),
    ("ctrl+p", "command palette, themes", {"app.palette": "ctrl+p"}),
    ("?", "every key, where you are", {"app.help": "question_mark"}),
    ("q", "quit (stops the servers)", {"app.quit": "q"}),
)


def key_table() -> str:
    cells = [f"{keys:<10} {what:<25}" for keys, what, _ in KEYS]
    return "\n".join(("  " + "  ".join(cells[i:i + 2])).rstrip() for i in range(0, len(cells), 2))


@dataclass(frozen=True)
class ShowcaseMessage:
    subject: str
    data: bytes  # LF line ends, as stored in the Maildir
    date: datetime


def showcase(end: float, to: str = "alice@example.test", to_name: str = "Alice") -> list[ShowcaseMessage]:
    """The showcase messages, oldest first, dated between end and end + SPAN."""
    start = datetime.fromtimestamp(int(end), timezone.utc)
    me = Address(to_name, addr_spec=to)
    at = lambda minutes, seconds=0: start + timedelta(minutes=minutes, seconds=seconds)  # noqa: E731
    thread = _thread(me, [at(4, 12), at(13, 40), at(27, 5), at(39, 51)])
    return [thread[0], thread[1], _newsletter(me, at(18, 30)), thread[2], _phish(me, at(33, 17)),
            thread[3], _forwarded(me, at(46, 2)), _welcome(me, at(55, 0))]


# -- pieces -------------------------------------------------------------------------------------

def _message(sender: Address, to: list[Address], subject: str, date: datetime, msgid: str,
             cc: Sequence[Address] = ()) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = list(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = msgid
    return msg


def _boundaries(msg: EmailMessage) -> EmailMessage:
    """Fixed MIME boundaries (the generator would pick random ones), from the Message-ID."""
    seed = hashlib.sha256(str(msg["Message-ID"]).encode()).hexdigest()[:12]
    for number, part in enumerate(msg.walk()):
        if part.get_content_maintype() == "multipart" and part.get_boundary() is None:
            part.set_boundary(f"=_demo_{seed}_{number}")
        if number:
            del part["MIME-Version"]  # the stdlib adds one to each part it makes; only the top needs it
    return msg


def _stored(msg: EmailMessage, trace: Sequence[str] = (), date: datetime | None = None) -> ShowcaseMessage:
    """msg as the mail store keeps it: the hand-written trace headers (newest first) on top."""
    _boundaries(msg)
    head = "".join(line + "\n" for line in trace)
    data = head.encode() + msg.as_bytes(policy=STORE)
    return ShowcaseMessage(str(msg["Subject"]), data, date or _date_of(msg))


def _date_of(msg: EmailMessage) -> datetime:
    return msg["Date"].datetime


def _stamp(when: datetime, offset_hours: float = 0) -> str:
    tz = timezone(timedelta(hours=offset_hours))
    return format_datetime(when.astimezone(tz))


def _received(clauses: str, when: datetime, offset_hours: float = 0) -> str:
    """A Received header: clauses already folded with tab continuation lines, then the date."""
    return f"Received: {clauses};\n\t{_stamp(when, offset_hours)}"


def _queue_id(seed: str, size: int = 10) -> str:
    return base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode()[:size]


def _dkim(domain: str, selector: str, seed: str, when: datetime, signed: str, body: bytes) -> str:
    """A DKIM-Signature that looks real (bh is the body's SHA-256; b is not a real signature)."""
    bh = base64.b64encode(hashlib.sha256(body).digest()).decode()
    sig = b"".join(hashlib.sha512(f"{seed}/{i}".encode()).digest() for i in range(4))  # 256 bytes, like RSA-2048
    b = base64.b64encode(sig).decode()
    chunks = "\n\t ".join(b[i:i + 70] for i in range(0, len(b), 70))
    return (f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain};\n"
            f"\ts={selector}; t={int(when.timestamp())};\n\th={signed};\n"
            f"\tbh={bh};\n\tb={chunks}")


def _body_bytes(msg: EmailMessage) -> bytes:
    return _boundaries(msg).as_bytes(policy=policy.SMTP).split(b"\r\n\r\n", 1)[1]


def _auth_results(authserv_id: str, *results: str) -> str:
    return f"Authentication-Results: {authserv_id};\n\t" + ";\n\t".join(results)


# -- the welcome --------------------------------------------------------------------------------

def _welcome(me: Address, when: datetime) -> ShowcaseMessage:
    sender = Address("tuimail demo", "demo", "example.test")
    msg = _message(sender, [me], WELCOME_SUBJECT, when, "<welcome@demo.example.test>")
    msg.set_content(f"""\
Hello {me.display_name or me.username},

This is a demo mailbox on real servers: Dovecot (IMAP, POP3, LMTP) and an
SMTP submission server run on 127.0.0.1 for this session only, and stop
when you quit. Below this message are a few hand-made ones worth opening,
then thousands of generated ones: the index loads rows as they come into
view, so G (the oldest) is as quick as g (the newest).

Things to try:

  1. Press m, send a message to {me.addr_spec} (yourself) with
     ctrl+s, and watch it arrive in this list without pressing a key: the
     SMTP server hands it to Dovecot, and IMAP IDLE tells tuimail.
  2. Open "Fwd: Shipment NW-4471 ..." (Enter) and press H: the route view
     lists each Received hop with its delay and TLS, as a table and a
     timeline, then SPF, DKIM and DMARC. The original rides along as a
     message/rfc822 attachment with its own 7-hop route: v (or Enter on
     it in the attachment list) opens it, and H there shows that route.
  3. Open "Unusual sign-in ..." and press H: DMARC fails, SPF soft-fails,
     and the sender's domain only looks like the bank's.
  4. Open the newsletter: HTML only, shown as text with its links written
     out. Its remote images and stylesheets are never fetched.
  5. Open the Kraków thread (t shows threads): non-ASCII names, a PDF and
     an image attached.
  6. ctrl+p, then type "theme", to try another theme.

Keys (? lists every key that works where you are):

{key_table()}

Have fun,
the tuimail demo
""")
    trace = [_received(f"from demo.example.test (demo.example.test [192.0.2.1])\n\tby mx.example.test (Postfix) "
                       f"with ESMTPS id {_queue_id('welcome')}\n\tfor <{me.addr_spec}>", when + timedelta(seconds=2)),
             _auth_results(TRUSTED_AUTHSERV_ID, "spf=pass smtp.mailfrom=demo@example.test",
                           "dkim=none", "dmarc=none header.from=example.test")]
    return _stored(msg, ["Return-Path: <demo@example.test>", f"Delivered-To: {me.addr_spec}", *trace])


# -- the forward with a long route --------------------------------------------------------------

def _original(when: datetime) -> bytes:
    """A shipping notice as it reached Marta's mailbox: 7 hops, authenticated, DKIM-signed."""
    sender = Address("Northwind Shipping", "notify", "shipping.example.net")
    marta = Address("Marta Kowalski", "marta.kowalski", "partner.example.com")
    msg = _message(sender, [marta], "Shipment NW-4471 dispatched", when,
                   "<nw-4471.dispatch.8f3a21@shipping.example.net>")
    msg["Reply-To"] = Address("Northwind customer care", "care", "shipping.example.net")
    msg.set_content("""\
Hello Marta,

Your shipment NW-4471 (2 pallets, 184 kg) left our Rotterdam hub today.

  Carrier:   Northwind Freight
  Tracking:  https://track.shipping.example.net/NW-4471
  Expected:  in 3 working days

Kind regards,
Northwind Shipping
""")
    msg.add_alternative("""\
<html><body><p>Hello Marta,</p>
<p>Your shipment <b>NW-4471</b> (2 pallets, 184&nbsp;kg) left our Rotterdam hub today.</p>
<p>Track it: <a href="https://track.shipping.example.net/NW-4471">NW-4471</a></p>
<p>Kind regards,<br>Northwind Shipping</p></body></html>
""", subtype="html")
    t = lambda seconds: when + timedelta(seconds=seconds)  # noqa: E731
    rcpt = "for <marta.kowalski@partner.example.com>"
    hops = [  # oldest first; reversed below, as each MTA prepends its own
        _received("from app-14.shipping.example.net (app-14.shipping.example.net [192.0.2.14])\n"
                  "\tby smtp-out-1.shipping.example.net (Postfix) with ESMTP id 4Wk7Lq0Zb3z9tQ\n"
                  f"\t{rcpt}", t(1), 1),
        _received("from smtp-out-1.shipping.example.net (smtp-out-1.shipping.example.net [192.0.2.21])\n"
                  "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
                  "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n"
                  "\t(No client certificate requested)\n"
                  "\tby relay-a.esp.example.com (Postfix) with ESMTPS id 4Wk7Lr2x1Mz1Yk\n"
                  f"\t{rcpt}", t(3), 0),
        _received("from relay-a.esp.example.com ([198.51.100.10])\n"
                  "\tby outbound-3.esp.example.com with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384\n"
                  "\t(Exim 4.97)\n\t(envelope-from <bounce+nw4471@shipping.example.net>)\n"
                  f"\tid 1sXyZq-00AbCd-7Q\n\t{rcpt}", t(7), 0),
        _received("from outbound-3.esp.example.com (outbound-3.esp.example.com [198.51.100.33])\n"
                  "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n"
                  "\tby mx1.partner.example.com (Postfix) with ESMTPS id 4Wk7Lv5HqRz3kP\n"
                  f"\t{rcpt}", t(9), 2),
        _received("from mx1.partner.example.com (mx1.partner.example.com [203.0.113.25])\n"
                  "\tby filter.partner.example.com (amavis) with ESMTPS id 3kP9aQ1bW0\n"
                  "\t(version=TLSv1.2 cipher=ECDHE-RSA-AES128-GCM-SHA256 bits=128/128)\n"
                  f"\t{rcpt}", t(14), 2),
        _received("from filter.partner.example.com (filter.partner.example.com [203.0.113.26])\n"
                  "\tby mx1.partner.example.com (Postfix) with ESMTPS id 4Wk7M03n8Tz3kR\n"
                  "\t(using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits))\n"
                  f"\t{rcpt}", t(20), 2),
        _received("from mx1.partner.example.com ([203.0.113.25])\n"
                  "\tby mailstore-2.partner.example.com with LMTPS\n"
                  "\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\n"
                  f"\tid 2Vb4KQBnB2a3HwAAkCc6Xw\n\t{rcpt}", t(21), 2),
    ]
    dkim = _dkim("shipping.example.net", "nw2025", "nw-4471", when,
                 "from:to:subject:date:message-id:reply-to:mime-version:content-type", _body_bytes(msg))
    auth = _auth_results("mx1.partner.example.com",
                         "spf=pass (sender IP is 198.51.100.33) smtp.mailfrom=shipping.example.net",
                         "dkim=pass (2048-bit key) header.d=shipping.example.net header.s=nw2025",
                         "dmarc=pass (p=REJECT) header.from=shipping.example.net")
    trace = [*reversed(hops[5:]), auth, *reversed(hops[:5])]
    head = "".join(line + "\n" for line in
                   ["Return-Path: <bounce+nw4471@shipping.example.net>",
                    "Delivered-To: marta.kowalski@partner.example.com", *trace, dkim])
    return head.encode() + msg.as_bytes(policy=STORE)


def _forwarded(me: Address, when: datetime) -> ShowcaseMessage:
    marta = Address("Marta Kowalski", "marta.kowalski", "partner.example.com")
    original = BytesParser(policy=policy.SMTP).parsebytes(_original(when - timedelta(hours=2, minutes=14)))
    msg = _message(marta, [me], FORWARD_SUBJECT, when, "<fwd-nw4471.5c1e@partner.example.com>")
    msg.set_content(f"""\
Hi {me.display_name or me.username},

Forwarding the dispatch notice as an attachment, so every header of the
original stays as it reached me: it went through seven mail servers (their
shipping system, their mail provider, our MX and our filter) before it
landed in my mailbox, and this forward took six more to reach you.

Press H for this message's own route; v opens the original, and H there
shows the seven hops of its route (s saves it, for
`tuimail headers --file "Shipment NW-4471 dispatched.eml" --route`).

Marta
""")
    msg.add_attachment(original, filename="Shipment NW-4471 dispatched.eml")
    t = lambda seconds: when + timedelta(seconds=seconds)  # noqa: E731
    rcpt = f"for <{me.addr_spec}>"
    hops = [
        _received("from [203.0.113.77] (helo=marta-laptop)\n"
                  "\tby submit.partner.example.com with esmtpsa (TLS1.3) tls TLS_AES_128_GCM_SHA256\n"
                  "\t(Exim 4.97)\n\t(envelope-from <marta.kowalski@partner.example.com>)\n"
                  f"\tid 1sXzAa-00Bq2T-3M\n\t{rcpt}", t(0), 1),
        _received("from submit.partner.example.com ([203.0.113.30])\n"
                  "\tby dlp.partner.example.com with esmtp (Exim 4.97)\n"
                  "\t(envelope-from <marta.kowalski@partner.example.com>)\n"
                  f"\tid 1sXzAb-00Bq3C-1K\n\t{rcpt}", t(2), 1),
        _received("from dlp.partner.example.com ([203.0.113.32])\n"
                  "\tby out-1.partner.example.com with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384\n"
                  "\t(Exim 4.97)\n\t(envelope-from <marta.kowalski@partner.example.com>)\n"
                  f"\tid 1sXzAh-00Bq4F-0R\n\t{rcpt}", t(8), 1),
        _received("from out-1.partner.example.com (out-1.partner.example.com [203.0.113.31])\n"
                  "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n"
                  f"\tby mx.example.test (Postfix) with ESMTPS id {_queue_id('fwd-mx')}\n\t{rcpt}", t(11)),
        _received("from mx.example.test (mx.example.test [198.51.100.2])\n"
                  "\tby scan.example.test (rspamd) with ESMTPS id 7f2KcQ0pLm\n"
                  "\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\n"
                  f"\t{rcpt}", t(15)),
        _received("from scan.example.test (scan.example.test [198.51.100.3])\n"
                  "\tby mail.example.test (Dovecot) with LMTPS\n"
                  "\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\n"
                  f"\tid kJ4bC9gB2mY0HwAAx7Pq1w\n\t{rcpt}", t(16)),
    ]
    dkim = _dkim("partner.example.com", "mail2025", "fwd-nw4471", when,
                 "from:to:subject:date:message-id:mime-version:content-type", _body_bytes(msg))
    auth = _auth_results(TRUSTED_AUTHSERV_ID,
                         "spf=pass (mx.example.test: 203.0.113.31 is permitted) smtp.mailfrom=partner.example.com",
                         "dkim=pass header.d=partner.example.com header.s=mail2025",
                         "dmarc=pass (p=QUARANTINE) header.from=partner.example.com")
    trace = [*reversed(hops[3:]), auth, *reversed(hops[:3])]
    return _stored(msg, ["Return-Path: <marta.kowalski@partner.example.com>", f"Delivered-To: {me.addr_spec}",
                         *trace, dkim])


# -- the newsletter -----------------------------------------------------------------------------

def _newsletter(me: Address, when: datetime) -> ShowcaseMessage:
    sender = Address("Terminal Weekly", "news", "weekly.example.com")
    msg = _message(sender, [me], NEWSLETTER_SUBJECT, when, "<issue-42.a7c1@weekly.example.com>")
    msg["List-Id"] = "Terminal Weekly <weekly.example.com>"
    msg["List-Unsubscribe"] = "<https://weekly.example.com/unsubscribe?u=alice>, <mailto:leave@weekly.example.com>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    track = "http://127.0.0.1:9"  # discard port: nothing listens, and nothing may ever ask
    tools = [("tmux", "Split the terminal, detach, come back later."),
             ("ripgrep", "Search a whole tree before your coffee cools."),
             ("fzf", "Fuzzy-find anything you can pipe into it."),
             ("jq", "Slice JSON like text."),
             ("tuimail", "Read mail, see its route, compare IMAP and POP3.")]
    items = "\n".join(
        f'<li style="padding:8px;background:url({track}/row-bg.png)">'
        f'<img src="https://cdn.example.invalid/icons/{name}.png" width="24" height="24" alt="">'
        f'<a href="https://weekly.example.com/42/{name}?utm_source=newsletter&amp;utm_medium=email">'
        f"<b>{name}</b></a>: {what}</li>" for name, what in tools)
    msg.set_content(f"""\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Terminal Weekly #42</title>
<link rel="stylesheet" href="https://cdn.example.invalid/weekly.css">
<style>
  @import url("{track}/fonts.css");
  body {{ background: #f4f1ea url("{track}/paper.jpg"); font-family: Georgia, serif; }}
  .hero {{ background-image: url(https://cdn.example.invalid/hero-42.jpg); height: 180px; }}
</style></head>
<body>
<img src="{track}/open.gif?u=alice&amp;issue=42" width="1" height="1" alt="">
<div class="hero"><img src="https://cdn.example.invalid/masthead.png" alt="Terminal Weekly"></div>
<h1>Five tools we love</h1>
<p>Hello reader! This week: the terminal tools our readers could not live without.</p>
<ul>
{items}
</ul>
<p>Reading this in a browser? <a href="https://weekly.example.com/42">Read it online</a>.</p>
<p style="font-size:11px;color:#888">You get this because you subscribed at weekly.example.com.
<a href="https://weekly.example.com/unsubscribe?u=alice">Unsubscribe</a></p>
<img src="{track}/footer-pixel.gif" width="1" height="1" alt="">
</body></html>
""", subtype="html")  # HTML only, no text/plain alternative
    trace = [_received("from mta-7.sender.example.org (mta-7.sender.example.org [198.51.100.87])\n"
                       "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n"
                       f"\tby mx.example.test (Postfix) with ESMTPS id {_queue_id('news')}\n"
                       f"\tfor <{me.addr_spec}>", when + timedelta(seconds=3)),
             _auth_results(TRUSTED_AUTHSERV_ID, "spf=pass smtp.mailfrom=bounce.weekly.example.com",
                           "dkim=pass header.d=weekly.example.com header.s=k1",
                           "dmarc=pass (p=NONE) header.from=weekly.example.com"),
             _received("from campaign-app.weekly.example.com ([192.0.2.200])\n"
                       "\tby mta-7.sender.example.org (Postfix) with ESMTP id 4Wk6Zz1q8Cz2Q\n"
                       f"\tfor <{me.addr_spec}>", when + timedelta(seconds=1), -5)]
    dkim = _dkim("weekly.example.com", "k1", "issue-42", when,
                 "from:to:subject:date:message-id:list-id:list-unsubscribe:list-unsubscribe-post",
                 _body_bytes(msg))
    return _stored(msg, ["Return-Path: <bounce-42-alice@bounce.weekly.example.com>",
                         f"Delivered-To: {me.addr_spec}", trace[0], trace[1], trace[2], dkim])


# -- the thread ---------------------------------------------------------------------------------

ZOE = Address("Zoë Ångström", "zoe.angstrom", "example.org")
LI = Address("李雷", "li.lei", "example.com")
ANTONIN = Address("Antonín Dvořák", "antonin.dvorak", "example.net")


def _thread(me: Address, dates: list[datetime]) -> list[ShowcaseMessage]:
    ids = ["<offsite-krakow.1@example.org>", "<offsite-krakow.2@example.com>",
           "<offsite-krakow.3@example.net>", "<offsite-krakow.4@example.org>"]
    posts = [
        (ZOE, THREAD_SUBJECT, """\
Hi all,

The offsite is on: Kraków, three weeks from now. Rough plan:

  Thu  arrive, dinner near the Rynek
  Fri  roadmap and the mail-client demo
  Sat  morning walk to Wawel, then home

Could someone draft a proper agenda? And please book your trains by Friday.

Zoë""", 1),  # the last field: the sender's UTC offset in hours
        (LI, "Re: " + THREAD_SUBJECT, """\
Hi Zoë,

Draft agenda attached (PDF), plus a map of the venue. I kept Friday
morning free for the roadmap, as you suggested.

李雷 (Li Lei)""", 8),
        (ANTONIN, "Re: " + THREAD_SUBJECT, """\
Looks good to me. One wish: could the demo be after lunch? My train
from Praha only gets in at 11:40.

Díky,
Antonín""", 1),
        (ZOE, "Re: " + THREAD_SUBJECT, """\
Done: the demo moves to 14:00 on Friday. See you all in Kraków!

Zoë""", 1),
    ]
    out = []
    everyone = [me, ZOE, LI, ANTONIN]
    for i, (sender, subject, text, tz) in enumerate(posts):
        to = posts[i - 1][0] if i else me  # a reply goes to the previous sender, the others in Cc
        cc = [a for a in everyone if a is not sender and a is not to]
        msg = _message(sender, [to], subject, dates[i].astimezone(timezone(timedelta(hours=tz))), ids[i], cc=cc)
        if i:
            msg["In-Reply-To"] = ids[i - 1]
            msg["References"] = " ".join(ids[:i])
            quoted = "\n".join("> " + line if line else ">" for line in posts[i - 1][2].splitlines())
            text += f"\n\nOn {format_datetime(dates[i - 1])}, {posts[i - 1][0].display_name} wrote:\n{quoted}"
        msg.set_content(text + "\n")
        if i == 1:
            msg.add_attachment(_pdf("Offsite agenda, Krakow (draft)"), maintype="application", subtype="pdf",
                               filename="offsite-agenda-draft.pdf")
            msg.add_attachment(_png(96, 64), maintype="image", subtype="png", filename="venue-map.png")
        domain = sender.domain
        trace = [_received(f"from mail.{domain} (mail.{domain} [203.0.113.{40 + i}])\n"
                           "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n"
                           f"\tby mx.example.test (Postfix) with ESMTPS id {_queue_id(ids[i])}\n"
                           f"\tfor <{me.addr_spec}>", dates[i] + timedelta(seconds=2 + i)),
                 _auth_results(TRUSTED_AUTHSERV_ID, f"spf=pass smtp.mailfrom={domain}",
                               f"dkim=pass header.d={domain} header.s=s1", f"dmarc=pass header.from={domain}")]
        out.append(_stored(msg, [f"Return-Path: <{sender.addr_spec}>", f"Delivered-To: {me.addr_spec}", *trace],
                           date=dates[i]))
    return out


def _pdf(title: str) -> bytes:
    """A small, valid one-page PDF with the title on it."""
    stream = f"BT /F1 18 Tf 72 720 Td ({title}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _png(width: int, height: int) -> bytes:
    """A small RGB PNG: a grid of streets on a pale background, with a red dot for the venue."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            if (x - 60) ** 2 + (y - 24) ** 2 < 20:
                row += bytes((220, 40, 40))
            elif x % 16 == 0 or y % 16 == 0:
                row += bytes((255, 255, 255))
            else:
                row += bytes((232, 226, 208))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


# -- the look-alike -----------------------------------------------------------------------------

def _phish(me: Address, when: datetime) -> ShowcaseMessage:
    # northwlndbank.example: an l where northwindbank.example has an i
    sender = Address("Northwind Bank Security", "security", "northwlndbank.example")
    msg = _message(sender, [me], PHISH_SUBJECT, when, "<20250514.7731.alert@northwlndbank.example>")
    msg["Reply-To"] = Address("Northwind Bank", "verify", "northwlndbank-secure.example")
    msg.set_content("""\
Dear customer,

We detected an unusual sign-in to your Northwind Bank account from a new device.
If this was not you, verify your identity within 24 hours or your account will
be suspended:

  http://northwlndbank.example/verify?id=8841-alice

Northwind Bank Security Team

(tuimail demo: this one is a fake. Press H on it: DMARC fails, SPF soft-fails,
and the domain has an l where the bank's has an i.)
""")
    trace = [_received("from unknown (helo=mail.northwindbank.example) ([203.0.113.199])\n"
                       f"\tby mx.example.test (Postfix) with ESMTP id {_queue_id('phish')}\n"
                       f"\tfor <{me.addr_spec}>", when + timedelta(seconds=4)),
             _auth_results(TRUSTED_AUTHSERV_ID,
                           "spf=softfail (mx.example.test: domain of transitioning northwlndbank.example "
                           "does not designate 203.0.113.199 as permitted sender)\n\t"
                           " smtp.mailfrom=northwlndbank.example",
                           "dkim=none (message not signed)",
                           "dmarc=fail (p=QUARANTINE sp=QUARANTINE) header.from=northwlndbank.example"),
             _received("from [192.0.2.66] (helo=WIN-3K8Q0T1)\n"
                       "\tby mail.northwindbank.example with SMTP id 9dK2mQx\n"
                       f"\tfor <{me.addr_spec}>", when + timedelta(seconds=1), 8)]
    return _stored(msg, ["Return-Path: <bounce@northwlndbank.example>", f"Delivered-To: {me.addr_spec}",
                         *trace, "X-Spam-Status: Yes, score=7.9 required=5.0"])
