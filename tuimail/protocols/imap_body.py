"""Message bodies over IMAP: only the part that is shown, attachments in partial-FETCH chunks.

Everything is fetched with BODY.PEEK (opening does not mark \\Seen; the caller decides) and
by UID, and every answer is checked to be about the UID that was asked for.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterator

from tuimail.model.limits import over, text_fetch, text_fetch_cut
from tuimail.model.mime import MimePart
from tuimail.model.stream_decode import TransferDecoder
from tuimail.model.uidset import MAX_NUMBER
from tuimail.protocols.errors import ProtocolError

if TYPE_CHECKING:
    from tuimail.protocols.imap import ImapSession

CHUNK = 256 * 1024
_SECTION = re.compile(r"^(?:\d{1,6}(?:\.\d{1,6}){0,40})?(?:\.?(?:HEADER|TEXT|MIME))?$")


def _section(part_id: str) -> str:
    if not _SECTION.match(part_id) or part_id.startswith("."):
        raise ValueError(f"not an IMAP body section: {part_id!r}")
    return part_id


class BodyOps:
    def fetch_part(self: "ImapSession", uid: int, part_id: str, offset: int | None = None,
                   length: int | None = None) -> bytes:
        """BODY.PEEK[part]<offset.length> (the whole section when offset is None): raw bytes,
        still in their transfer encoding."""
        if not 0 < uid <= MAX_NUMBER:
            raise ValueError(f"bad UID {uid}")
        section = _section(part_id)
        partial = f"<{offset}.{length}>" if offset is not None and length is not None else ""
        _, _, responses = self._run("UID", "FETCH", str(uid), f"(BODY.PEEK[{section}]{partial})",
                                    absorb=False)
        answers = self._fetches(responses)
        want = f"BODY[{section}]".encode()
        found = None
        for data in answers.values():
            if data.get(b"UID") != uid:
                continue
            for key, value in data.items():
                if isinstance(key, bytes) and key.upper().startswith(want):
                    found = value if isinstance(value, bytes) else b""
        self._absorb(responses, [seq for seq, data in answers.items() if data.get(b"UID") == uid])
        if found is None:
            raise ProtocolError(f"message UID {uid} has no part {part_id or '(whole)'} "
                                "(deleted meanwhile?)", self._where)
        return found

    def iter_part(self: "ImapSession", uid: int, part_id: str, size: int, chunk: int = CHUNK,
                  max_bytes: int | None = None) -> Iterator[bytes]:
        """A part's raw bytes in chunks of partial FETCHes; stops at the first short chunk.
        size is what BODYSTRUCTURE said; a server sending far more than that is cut off."""
        limit = max_bytes if max_bytes is not None else max(size, 0) * 2 + chunk
        offset = 0
        while True:
            data = self.fetch_part(uid, part_id, offset, chunk)
            offset += len(data)
            if offset > limit:
                raise ProtocolError(f"part {part_id} of UID {uid} is far larger than the "
                                    f"{size} bytes announced; stopped", self._where)
            if data:
                yield data
            if len(data) < chunk:
                return

    def iter_decoded(self: "ImapSession", uid: int, part: MimePart, chunk: int = CHUNK) -> Iterator[bytes]:
        """An attachment's content: iter_part with the transfer encoding undone."""
        decoder = TransferDecoder(part.encoding)
        for data in self.iter_part(uid, part.part_id, part.size, chunk):
            out = decoder.feed(data)
            if out:
                yield out
        tail = decoder.finish()
        if tail:
            yield tail

    def fetch_text(self: "ImapSession", uid: int, part: MimePart) -> tuple[str, list[str]]:
        """The display text of one text part, fetching that part alone (PEEK), and at most
        limits.text_fetch() bytes of it (2 a character of the account's body_chars)."""
        problems: list[str] = []
        limits = self.account.limits
        cap, _ = text_fetch(limits)
        if part.size > cap:
            payload = self.fetch_part(uid, part.part_id, 0, cap)
        else:
            payload = self.fetch_part(uid, part.part_id)
        if part.size > cap or len(payload) > cap:  # or the server sent more than BODYSTRUCTURE said
            problems.append(text_fetch_cut(part.part_id, max(part.size, len(payload)), limits))
            payload = payload[:cap]
        from tuimail.model.message import part_text  # email parsing: on the first open, not at connect

        text, more = part_text(part, payload, limits=limits)
        return text, problems + more

    def fetch_header(self: "ImapSession", uid: int) -> bytes:
        """The message's header block as stored (BODY.PEEK[HEADER]), for header inspection
        without downloading the body; capped like a parsed header block."""
        data = self.fetch_part(uid, "HEADER")
        cap = self.account.limits.header_bytes
        if len(data) > cap:
            raise ProtocolError(over(f"header block of UID {uid}", "header_bytes", cap), self._where)
        return data

    def fetch_raw(self: "ImapSession", uid: int) -> bytes:
        """The whole message as stored (BODY.PEEK[]), for --raw and saving; capped by the wire."""
        data = self.fetch_part(uid, "")
        cap = self.account.limits.message_bytes
        if len(data) > cap:
            raise ProtocolError(over(f"message UID {uid}", "message_bytes", cap), self._where)
        return data
