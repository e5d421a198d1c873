"""Filing a delivered message in the account's IMAP Sent folder, once.

The folder is the one with the \\Sent special-use attribute, else one named "Sent" (any case,
at the top or under INBOX). Some servers save a copy of what they relay, so a message whose
Message-ID is already there is not appended again.
"""
from __future__ import annotations

from typing import Callable

from tuimail.model.config import Account, Protocol
from tuimail.model.folder import Folder
from tuimail.model.secret import Secret
from tuimail.protocols.errors import MailError
from tuimail.protocols.imap import ImapSession
from tuimail.protocols.trace import ProtocolTrace, connection_trace

# file_to_sent(raw, message_id) -> a note for the user; raises when the copy was not filed.
SentFiler = Callable[[bytes, str], str]


class NoSentFolder(MailError):
    """The server has no \\Sent folder and none named Sent."""


def sent_folder(session: ImapSession) -> Folder:
    folder = session.folder_by_role("sent")
    if folder is not None:
        return folder
    for candidate in session.list_folders():
        parts = candidate.name.split(candidate.delimiter) if candidate.delimiter else [candidate.name]
        if candidate.selectable and parts[-1].lower() == "sent" and (
                len(parts) == 1 or (len(parts) == 2 and parts[0].upper() == "INBOX")):
            return candidate
    raise NoSentFolder("no Sent folder on the server (none marked \\Sent, none named Sent); "
                       "create one, then retry filing", session._where)


def file_in_sent(session: ImapSession, raw: bytes, message_id: str) -> str:
    folder = sent_folder(session)
    if message_id and session.find_message_id(folder.name, message_id):
        return f"already in {folder.display} (the server saved a copy)"
    session.append(folder.name, raw, flags=("\\Seen",))
    return f"filed in {folder.display}"


def imap_sent_filer(account: Account, password: Secret | None, *, timeout: float | None = None,
                    trace: ProtocolTrace | None = None) -> SentFiler | None:
    """A filer logging in to the account's IMAP server for each call; None without IMAP."""
    if account.server(Protocol.IMAP) is None:
        return None

    def file_to_sent(raw: bytes, message_id: str) -> str:
        if password is None:
            raise MailError(f"no password for account '{account.name}', so the Sent copy could "
                            "not be filed over IMAP")
        recorded = trace if trace is not None else connection_trace("imap", account.name, "file-sent")
        with ImapSession.connect(account, password, timeout=timeout, trace=recorded) as session:
            return file_in_sent(session, raw, message_id)

    return file_to_sent
