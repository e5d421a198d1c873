"""Making network text safe to show in a terminal.

Everything a server or a message author wrote passes through strip_controls() before display:
escape sequences could set the clipboard (OSC 52), make lying links (OSC 8), clear the screen or
retitle the window, and bidi overrides make text read differently from what it is.
"""
from __future__ import annotations

import re

# Whole escape sequences go, parameters and all, so no "[31m" debris is left behind.
_ESCAPES = re.compile(
    # OSC, DCS, SOS, PM, APC (7-bit and 8-bit introducers) up to BEL or ST, or to the end.
    # The body stops at any ESC, so the pattern never backtracks: linear time.
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    # CSI: parameters, intermediates, final byte
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    # any other ESC: intermediates and a final byte (ESC c, ESC ( B, ESC 7, ...)
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
# C0 except TAB and LF, DEL, C1, and the bidi embedding/override/isolate controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")


def strip_controls(text: str) -> str:
    """text without escape sequences and control characters; TAB and LF stay."""
    if not text:
        return ""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def one_line(text: str, limit: int = 300) -> str:
    """Controls stripped, all whitespace runs (newlines too) made one space, cut at limit chars."""
    flat = _SPACES.sub(" ", strip_controls(text)).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat
