"""Attachment names a sender chose, made safe to show and to save (SECURITY-CASES E)."""
from __future__ import annotations

import re
import unicodedata

from tuimail.model.text import strip_controls

MAX_NAME_BYTES = 200
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_UNSAFE = re.compile(r"[/\\:*?\"<>|\x00-\x1f\x7f]")
_FORMAT_CHARS = {"Cf"}  # bidi overrides, zero-width joiners and such


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """A name that is one plain path component: no directories, no controls, no hidden or
    option-like start, no reserved device names, bounded length, the extension kept."""
    text = strip_controls(name or "")
    text = "".join(c for c in text if unicodedata.category(c) not in _FORMAT_CHARS)
    text = unicodedata.normalize("NFC", text)
    # keep only the last path component, whichever separator the sender used
    text = re.split(r"[/\\]", text)[-1]
    text = _UNSAFE.sub("_", text).strip()
    text = text.lstrip("-~. ").rstrip(". ")  # together: "-..x" must not end up as ".x"
    if not text or set(text) <= {"_", "."}:
        text = fallback
    if _WINDOWS_RESERVED.match(text):
        text = "_" + text
    return _cut(text)


def _cut(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        stem, ext = name, ""
    budget = MAX_NAME_BYTES - len(ext.encode("utf-8")) - (1 if ext else 0)
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip(". ")
    return f"{cut}.{ext}" if ext else cut
