"""Undoing a Content-Transfer-Encoding chunk by chunk, for attachments streamed to disk.

Chunks are cut wherever the server's partial FETCH ends, so a base64 quantum or a
quoted-printable escape may straddle two chunks; the decoder carries the remainder over.
"""
from __future__ import annotations

import base64
import quopri
import re

from tuimail.model.decode import decode_transfer

_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/]")
MAX_QP_TAIL = 64 * 1024


class TransferDecoder:
    def __init__(self, encoding: str | None):
        self.encoding = (encoding or "").strip().lower()
        self._rest = b""
        self.problems: list[str] = []

    def feed(self, chunk: bytes) -> bytes:
        if self.encoding == "base64":
            data = self._rest + _NOT_B64.sub(b"", chunk)
            cut = len(data) - len(data) % 4
            self._rest = data[cut:]
            return base64.b64decode(data[:cut]) if cut else b""
        if self.encoding in ("quoted-printable", "quoted_printable", "qp"):
            data = self._rest + chunk
            cut = data.rfind(b"\n") + 1
            if not cut and len(data) > MAX_QP_TAIL:  # no line break at all: cut clear of an escape
                escape = data.rfind(b"=", len(data) - 3)
                cut = escape if escape >= 0 else len(data)
            self._rest = data[cut:]
            return quopri.decodestring(data[:cut]) if cut else b""
        if self.encoding in ("x-uuencode", "uuencode", "x-uue", "uue"):
            self._rest += chunk  # rare; decoded whole at the end
            return b""
        return chunk

    def finish(self) -> bytes:
        rest, self._rest = self._rest, b""
        if not rest:
            return b""
        if self.encoding == "base64":
            if len(rest) % 4 == 1:
                self.problems.append("base64 ended mid-quantum; last character dropped")
                rest = rest[:-1]
            return base64.b64decode(rest + b"=" * (-len(rest) % 4)) if rest else b""
        data, problem = decode_transfer(rest, self.encoding)
        if problem:
            self.problems.append(problem)
        return data
