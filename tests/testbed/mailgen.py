"""Deterministic, realistic-looking messages, generated fast enough for 100,000 at a time.

Same count, seed, recipient and end time give the same bytes. Messages come oldest first with
increasing dates, like a mailbox that filled up over time: plain text, text+HTML alternatives,
attachments (a few large), mailing-list posts, threads with In-Reply-To/References, non-ASCII
names and subjects as RFC 2047 encoded-words, and a mix of seen, unseen, flagged and answered.
"""
from __future__ import annotations

import base64
import html
import quopri
import email.utils
import functools
import random
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

FIRST = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
         "José", "Zoë", "Björn", "Ségolène", "Łukasz", "Ærin", "Jürgen", "Søren",
         "Ανδρέας", "Дмитрий", "太郎"]
LAST = ["Smith", "Jones", "Nguyen", "Garcia", "Okafor", "Müller", "Andersson", "Kowalski",
        "Rossi", "Dubois", "O'Brien", "Tanaka", "Øster", "Çelik", "Иванов", "山田"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com", "corp.example.org"]
LISTS = [("dev", "lists.example.org"), ("announce", "lists.example.net"),
         ("users", "lists.example.com")]
TOPICS = ["quarterly report", "release 2.4", "server migration", "budget review", "offsite",
          "design doc", "hiring plan", "outage postmortem", "roadmap", "security audit",
          "customer feedback", "API deprecation", "backup policy", "the new laptop",
          "résumé and cover letter", "café meetup", "naïve Bayes results", "Straße renaming",
          "年度計画", "отчёт за квартал", "🎉 launch party"]
SUBJECTS = ["{Topic}", "Update on the {topic}", "Question about the {topic}", "{Topic}: next steps",
            "Re-scheduling: {topic}", "FYI {topic}", "Invoice #{n} for {topic}",
            "[Action required] {topic}", "Notes from today's {topic} call",
            "Lunch on {day}?", "Your order #{n} has shipped", "Reminder: {topic} on {day}"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
SENTENCES = [
    "Thanks for sending this over so quickly.",
    "I had a look at the numbers and they mostly line up with what we expected.",
    "Could you double-check the figures in the second table before Friday?",
    "We should probably loop in the operations team on this one.",
    "Let me know if you want to go through it together on a call.",
    "The attached draft still needs a pass from legal.",
    "I'm out of the office next week, so please reach out to Carol in the meantime.",
    "As discussed, the deadline moves to the end of the month.",
    "There is one open question about the migration order that we need to settle.",
    "Everything else looks good to me.",
    "The staging environment is back up after this morning's maintenance window.",
    "I've pushed the changes to the shared folder; the old version is archived.",
    "Please ignore the previous message, it went out by mistake.",
    "Il faut encore vérifier la traduction française avant la publication.",
    "Die Besprechung wurde auf Donnerstag verschoben, Grüße aus Köln.",
    "Ich schicke dir die Unterlagen morgen früh.",
    "La reunión será en la sala número tres, después del almuerzo.",
    "Сообщите, пожалуйста, если будут вопросы.",
    "来週の会議の資料を添付します。",
    "The long-term plan is to retire the legacy system by the end of next year, which gives us "
    "enough time to move the remaining customers and to document the edge cases we found.",
]
ATTACHMENTS = [("application/pdf", "report-{n}.pdf"), ("image/png", "screenshot-{n}.png"),
               ("text/csv", "export-{n}.csv"), ("application/zip", "archive-{n}.zip"),
               ("image/jpeg", "IMG_{n}.JPG"), ("application/vnd.openxmlformats-officedocument."
                                               "wordprocessingml.document", "Proposal {n}.docx")]
TIMEZONES = [timezone.utc, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5)),
             timezone(timedelta(hours=9)), timezone(timedelta(hours=5, minutes=30)),
             timezone(timedelta(hours=-8))]


@dataclass(frozen=True)
class GeneratedMessage:
    data: bytes  # LF line endings, as Maildir stores them
    date: float  # epoch seconds of the Date header
    flags: str  # Maildir info letters, sorted: F flagged, R answered, S seen
    has_attachment: bool
    is_reply: bool


@functools.lru_cache(maxsize=4096)
def _header_text(text: str) -> str:
    """RFC 2047 B encoded-words of at most 45 bytes of UTF-8 each, folded between words."""
    if text.isascii():
        return text
    words, chunk = [], b""
    for char in text:
        encoded = char.encode()
        if len(chunk) + len(encoded) > 45:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\n ".join(f"=?UTF-8?B?{base64.b64encode(w).decode()}?=" for w in words)


def _mailbox(name: str, address: str) -> str:
    if not name.isascii():
        return f"{_header_text(name)} <{address}>"
    return f'"{name}" <{address}>' if any(c in name for c in ",.'") else f"{name} <{address}>"


class _Pools:
    """Per-generator precomputed pieces, so the per-message work is mostly string joins."""

    def __init__(self, rng: random.Random):
        self.people = []
        for first in FIRST:
            last = rng.choice(LAST)
            local = f"{first}.{last}".lower().encode("ascii", "ignore").decode() or "user"
            local = local.replace("'", "").strip(".") or "user"
            address = f"{local}{rng.randrange(100)}@{rng.choice(DOMAINS)}"
            self.people.append((_mailbox(f"{first} {last}", address), address,
                                rng.choice(TIMEZONES), f"{first} {last}"))
        self.paragraphs = [
            _Paragraph(textwrap.fill(" ".join(rng.choices(SENTENCES, k=rng.randint(2, 6))), 72))
            for _ in range(400)]
        # One blob of base64 lines; attachments are slices of it at line boundaries.
        self.b64 = base64.encodebytes(rng.randbytes(3 * 1024 * 1024)).decode()  # 76-char lines

    def attachment(self, rng: random.Random, size: int) -> str:
        lines = len(self.b64) // 77
        count = min(lines, max(1, size // 77))
        start = rng.randrange(lines - count + 1)
        return self.b64[start * 77:(start + count) * 77 - 1]


def _qp(text: str) -> str:
    return quopri.encodestring(text.encode()).decode()


class _Paragraph:
    """A paragraph with its quoted-printable text and HTML forms computed once."""

    def __init__(self, text: str):
        self.text, self.ascii = text, text.isascii()
        self.text_qp = _qp(text)
        self.html = f"<p>{html.escape(text)}</p>"  # long lines are fine in HTML source
        self.html_qp = _qp(self.html)


def _part(ctype: str, paragraphs: list[_Paragraph], form: str, qp: bool, tail: str = "") -> str:
    if all(p.ascii for p in paragraphs) and tail.isascii():
        cte, qp = "7bit", False
    else:
        cte = "quoted-printable" if qp else "8bit"
    sep = "\n" if form == "html" else "\n\n"
    body = sep.join(getattr(p, form + ("_qp" if qp else "")) for p in paragraphs)
    tail = _qp(tail) if qp and tail else tail
    if form == "html":
        body = (f"<html><head><style>p {{ font-family: sans-serif; }}</style></head>\n"
                f"<body>\n{body}\n</body></html>")
    return (f"Content-Type: {ctype}; charset=utf-8\nContent-Transfer-Encoding: {cte}\n\n"
            f"{body}{tail}\n")


def _multipart(kind: str, boundary: str, parts: list[str]) -> str:
    inner = "".join(f"--{boundary}\n{part}\n" for part in parts)
    return (f'Content-Type: multipart/{kind}; boundary="{boundary}"\n\n'
            f"This is a multi-part message in MIME format.\n\n{inner}--{boundary}--\n")


def generate(count: int, seed: int = 0, to: str = "alice@example.test", to_name: str = "",
             end: float | None = None) -> Iterator[GeneratedMessage]:
    """count messages with dates rising to end (default: now), about 20 minutes apart."""
    rng = random.Random(seed)
    pools = _Pools(rng)
    end = time.time() if end is None else end
    gaps = [rng.expovariate(1 / 1200) for _ in range(count)]
    date = end - sum(gaps)
    to_header = _mailbox(to_name, to) if to_name else to
    to_domain = to.rpartition("@")[2]
    threads: list[tuple[str, list[str]]] = []  # (subject, message ids), most recent last

    for index in range(count):
        date += gaps[index]
        sender, sender_address, tz, sender_name = rng.choice(pools.people)
        msgid = f"<{seed}.{index}.{rng.getrandbits(40):010x}@{sender_address.rpartition('@')[2]}>"
        thread_headers = []
        is_reply = bool(threads) and rng.random() < 0.3
        if is_reply:
            subject, ids = threads.pop(rng.randrange(max(0, len(threads) - 20), len(threads)))
            references = ids[-10:]
            thread_headers += [f"In-Reply-To: {references[-1]}",
                               "References: " + "\n ".join(references)]
            threads.append((subject, ids + [msgid]))
            subject_line = subject if subject.startswith("Re: ") else "Re: " + subject
        else:
            subject_line = rng.choice(SUBJECTS).format(
                topic=(topic := rng.choice(TOPICS)), Topic=topic[:1].upper() + topic[1:],
                day=rng.choice(DAYS), n=rng.randrange(10000, 99999))
            threads.append((subject_line, [msgid]))
            if len(threads) > 200:
                threads.pop(0)
        stamp = datetime.fromtimestamp(int(date), tz)
        date_text = email.utils.format_datetime(stamp)
        relay_ip = f"192.0.2.{rng.randrange(1, 255)}"
        list_post = not is_reply and rng.random() < 0.05
        top = [f"Return-Path: <{sender_address}>", f"Delivered-To: {to}",
               f"Received: from mx.{sender_address.rpartition('@')[2]} "
               f"(mx.{sender_address.rpartition('@')[2]} [{relay_ip}])\n"
               f"\tby mail.{to_domain} (Postfix) with ESMTPS id {rng.getrandbits(36):09X}\n"
               f"\tfor <{to}>; {date_text}",
               f"Message-ID: {msgid}", f"Date: {date_text}", f"From: {sender}", f"To: {to_header}"]
        if rng.random() < 0.15:
            top.append(f"Cc: {rng.choice(pools.people)[0]}")
        top.append(f"Subject: {_header_text(subject_line)}")
        if list_post:
            name, host = rng.choice(LISTS)
            top += [f"List-Id: <{name}.{host}>", f"List-Unsubscribe: <mailto:{name}-leave@{host}>",
                    "Precedence: list"]
        top += thread_headers
        top.append("MIME-Version: 1.0")

        chosen = rng.choices(pools.paragraphs, k=min(40, int(rng.lognormvariate(1.0, 0.8)) + 1))
        tail = ""
        if is_reply:
            quoted = "\n".join(
                "> " + line for line in rng.choice(pools.paragraphs).text.splitlines())
            tail = f"\n\nOn {date_text}, {rng.choice(pools.people)[3]} wrote:\n{quoted}"
        tail += f"\n\n-- \n{sender_name}"
        qp = rng.random() < 0.5
        text_part = _part("text/plain", chosen, "text", qp, tail)
        boundary = f"=_tb_{seed}_{index}_{rng.getrandbits(32):08x}"
        kind = rng.random()
        has_attachment = False
        if kind < 0.12:
            has_attachment = True
            parts = [text_part]
            for _ in range(1 if rng.random() < 0.8 else 2):
                ctype, name = rng.choice(ATTACHMENTS)
                name = name.format(n=rng.randrange(1000))
                size = 1_500_000 if rng.random() < 0.005 else int(rng.lognormvariate(9.5, 1.0))
                parts.append(f'Content-Type: {ctype}; name="{name}"\n'
                             f'Content-Disposition: attachment; filename="{name}"\n'
                             f"Content-Transfer-Encoding: base64\n\n"
                             f"{pools.attachment(rng, size)}\n")
            body = _multipart("mixed", boundary, parts)
        elif kind < 0.35:
            body = _multipart("alternative", boundary,
                              [text_part, _part("text/html", chosen, "html", qp)])
        else:
            body = text_part

        age_fraction = index / max(1, count - 1)
        seen = rng.random() > (0.6 if age_fraction > 0.98 else 0.05)
        flags = ("F" if rng.random() < 0.03 else "") + (
            "R" if seen and rng.random() < 0.1 else "") + ("S" if seen else "")
        data = ("\n".join(top) + "\n" + body).encode()
        yield GeneratedMessage(data, float(int(date)), flags, has_attachment, is_reply)
