"""What the server says about the selected folder: its state on SELECT, and what changed since.

Plain data, shared by protocols/ (which fills it in) and store/ and ui/ (which apply it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tuimail.model.uidset import UidSet


@dataclass(frozen=True)
class SelectedFolder:
    name: str
    exists: int
    uidvalidity: int
    uidnext: int = 0  # 0: the server did not say
    highestmodseq: int = 0  # 0: no CONDSTORE for this folder (or NOMODSEQ)
    readonly: bool = False
    unseen: int | None = None  # sequence number of the first unseen message, if given
    permanent_flags: tuple[str, ...] = ()

    @property
    def condstore(self) -> bool:
        return self.highestmodseq > 0


@dataclass(frozen=True)
class FlagChange:
    uid: int
    flags: frozenset[str]
    modseq: int = 0
    seq: int = 0  # 0 when the response did not tie it to a sequence number we can trust


@dataclass
class FolderEvents:
    """Untagged news gathered while a command ran or during IDLE, in the server's order.

    expunged holds sequence numbers, each relative to the state after the ones before it (as
    EXPUNGE works); vanished holds UIDs (QRESYNC). exists is the count after everything here.
    """
    exists: int | None = None
    expunged: list[int] = field(default_factory=list)
    vanished: UidSet = field(default_factory=UidSet)
    flags: dict[int, FlagChange] = field(default_factory=dict)  # uid -> change
    seq_flags: dict[int, frozenset[str]] = field(default_factory=dict)  # seq -> flags, no UID given
    uidvalidity: int | None = None  # set only when the server announced a different value
    highestmodseq: int = 0
    recent: int | None = None
    closed: bool = False  # the server said BYE

    def __bool__(self) -> bool:
        return bool(self.exists is not None or self.expunged or self.vanished or self.flags
                    or self.seq_flags or self.uidvalidity is not None or self.closed)

    def merge(self, later: "FolderEvents") -> None:
        if later.exists is not None:
            self.exists = later.exists
        self.expunged.extend(later.expunged)
        if later.vanished:
            self.vanished = UidSet.of_ranges(self.vanished.ranges + later.vanished.ranges)
        self.flags.update(later.flags)
        self.seq_flags.update(later.seq_flags)
        self.uidvalidity = later.uidvalidity if later.uidvalidity is not None else self.uidvalidity
        self.highestmodseq = max(self.highestmodseq, later.highestmodseq)
        self.recent = later.recent if later.recent is not None else self.recent
        self.closed = self.closed or later.closed


@dataclass(frozen=True)
class Resync:
    """The answer to SELECT ... (QRESYNC (uidvalidity modseq)): the folder and what changed."""
    folder: SelectedFolder
    vanished: UidSet  # may name UIDs the client never knew (RFC 7162 allows it)
    changed: dict[int, FlagChange]  # uid -> flags changed since the modseq
    uidvalidity_changed: bool = False


@dataclass(frozen=True)
class FolderStatus:
    name: str
    messages: int | None = None
    unseen: int | None = None
    recent: int | None = None
    uidnext: int | None = None
    uidvalidity: int | None = None
    highestmodseq: int | None = None
