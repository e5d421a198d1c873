"""Decoding that never raises: charsets that lie or are unknown, encoded-words, transfer encodings.

Mail comes from strangers. Every function here returns text for any input, in time linear in
the input, and bounds its output.
"""
from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re

MAX_HEADER_CHARS = 16_384  # a decoded header longer than this is cut for display

# Names seen in the wild that Python does not know, or knows under another name.
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "x-sjis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "gb2312": "gb18030",  # a superset: mislabelled GBK mail decodes too
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "none": "",
    "default": "",
    "x-user-defined": "",
}


def python_charset(name: str | None) -> str | None:
    """The codec for a MIME charset name, or None when there is no usable one."""
    if not name:
        return None
    name = name.strip().strip('"\'').lower()
    if len(name) > 40:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # lookup() also finds bytes-to-bytes codecs (base64, rot13, zlib...), which are no charset.
    if not getattr(info, "_is_text_encoding", True) or info.name in ("idna", "punycode", "undefined"):
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes with the declared charset, falling back to UTF-8 then Latin-1, never raising."""
    codec = python_charset(charset)
    if codec:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec and codec not in ("utf-8", "ascii"):
        try:
            return data.decode(codec, errors="replace")
        except (LookupError, ValueError):
            pass
    # Latin-1 maps every byte; cp1252 text mislabelled as nothing reads mostly right this way.
    return data.decode("cp1252", errors="replace") if data else ""


_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,60})\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]+")
_SURROGATES = re.compile("[\udc80-\udcff]")


def _decode_word(encoding: str, payload: str) -> bytes | None:
    try:
        if encoding in "bB":
            payload = payload.rstrip("=")
            return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False)
        # raw 8-bit bytes inside a Q word (seen in Eudora mail) arrive here as Latin-1 text
        raw = payload.replace("_", " ").encode("latin-1", errors="replace")
        return quopri.decodestring(raw, header=False)
    except (binascii.Error, ValueError):
        return None


def decode_header(value: str | bytes | None, limit: int = MAX_HEADER_CHARS) -> str:
    """Decode RFC 2047 encoded-words in one pass; unfold; cut to `limit` characters.

    Adjacent encoded-words in the same charset are joined before decoding, so a multibyte
    character split across two words survives. Whitespace between encoded-words is dropped.
    """
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = decode_bytes(value, "utf-8")
    value = str(value)
    if len(value) > limit * 8:  # encoded text is at most ~4x longer: bound the work
        value = value[: limit * 8].rsplit(" ", 1)[0]
    if _SURROGATES.search(value):
        # raw 8-bit header bytes, kept by the parser as surrogate escapes: UTF-8, else cp1252
        value = decode_bytes(value.encode("utf-8", errors="surrogateescape"), None)  # encoded text is at most ~4x longer; bound the work
    value = value.replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ").replace("\n", " ")
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # run of adjacent encoded-word bytes per charset
    pos = 0

    def flush() -> None:
        for charset, data in _merge(pending):
            out.append(decode_bytes(data, charset))
        pending.clear()

    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos:match.start()]
        if not (pending and _BETWEEN_WORDS.fullmatch(gap)):
            flush()
            out.append(gap)
        charset = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix
        data = _decode_word(match.group(2), match.group(3))
        if data is None:
            flush()
            out.append(match.group(0))
        else:
            pending.append((charset, data))
        pos = match.end()
    flush()
    out.append(value[pos:])
    text = "".join(out)
    return text[:limit]


def _merge(words: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    merged: list[tuple[str, bytes]] = []
    for charset, data in words:
        if merged and merged[-1][0].lower() == charset.lower():
            merged[-1] = (charset, merged[-1][1] + data)
        else:
            merged.append((charset, data))
    return merged


def decode_transfer(data: bytes, encoding: str | None) -> tuple[bytes, str | None]:
    """Undo a Content-Transfer-Encoding. Returns (bytes, problem or None); never raises."""
    enc = (encoding or "").strip().lower()
    if enc == "base64":
        cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        cleaned = cleaned[: len(cleaned) - len(cleaned) % 4] if len(cleaned) % 4 == 1 else cleaned
        try:
            return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4)), None
        except (binascii.Error, ValueError) as exc:
            return data, f"invalid base64 ({exc}); shown undecoded"
    if enc in ("quoted-printable", "quoted_printable", "qp"):
        return quopri.decodestring(data), None
    if enc in ("x-uuencode", "uuencode", "x-uue", "uue"):
        return _uudecode(data)
    return data, None  # 7bit, 8bit, binary, and every bogus value: take the bytes as they are


def _uudecode(data: bytes) -> tuple[bytes, str | None]:
    out = bytearray()
    problem = None
    started = False
    for line in data.splitlines():
        if not started:
            started = line.startswith(b"begin ")
            continue
        if line.strip() in (b"end", b"`"):
            break
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            problem = "damaged uuencoded lines were skipped"
    if not started:
        return data, "no uuencode 'begin' line; shown undecoded"
    return bytes(out), problem
