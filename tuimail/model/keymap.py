"""The [keymap] table: binding id = "keys", checked against the ids the UI defines.

Pure: the UI applies the result with App.set_keymap. BINDING_IDS is kept equal to the ids
of every Binding under tuimail/ui by tests/test_keymap.py, so a typo in the config is caught
when the config is read, before Textual loads.
"""
from __future__ import annotations

import difflib
import re

_IDS_BY_SCOPE = {
    "app": "help palette quit",
    "attach": "cancel",
    "compare": "close down experiment export_json export_markdown rerun up",
    "compose": "attach editor leave leave_q remove_attachment save_drafts send",
    "confirm": "cancel",
    "doctor": "check close",
    "drafts": "cancel delete",
    "forward": "attachment cancel inline",
    "help": "close",
    "index": "back compose copy delete first forward last move next open page_down page_up previous"
             " reply reply_all search threads toggle_flagged toggle_seen",
    "leave": "stay",
    "main": "compare doctor focus_accounts focus_folders focus_index refresh trace",
    "message": "cancel_save close compose copy delete focus_next forward headers mime move"
               " open_attachment raw reply reply_all route save toggle_flagged toggle_seen view_attached",
    "mime": "close",
    "password": "cancel",
    "picker": "cancel",
    "pop3": "compose delete download_whole forward reply reply_all settings sync sync_dry_run"
            " toggle_flagged toggle_seen",
    "pop3_report": "close run",
    "pop3_settings": "cancel save",
    "report": "close",
    "route": "close down up",
    "save": "cancel",
    "search": "cancel",
    "setup": "cancel check save",
    "source": "bottom close down header left page_down page_up part right top up whole",
    "text": "bottom down page_down page_up top up",
}
BINDING_IDS: frozenset[str] = frozenset(f"{scope}.{name}" for scope, names in _IDS_BY_SCOPE.items()
                                        for name in names.split())

# a Textual key name ("j", "ctrl+p", "question_mark", "f1") or one printable character ("?", "/")
_KEY = re.compile(r"^(?:(?:ctrl|shift|alt|meta|super|hyper)\+)*(?:[A-Za-z0-9_]+|[!-~])$")


class KeymapError(ValueError):
    """One [keymap] entry that cannot be used: key is the dotted config key, message says why."""

    def __init__(self, key: str, message: str) -> None:
        self.key, self.message = key, message
        super().__init__(f"{key}: {message}")


def flatten(table: dict, prefix: str = "") -> dict[str, object]:
    """TOML reads `index.next = "n"` as a nested table; either spelling means the id index.next."""
    flat: dict[str, object] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def parse_keymap(table: dict) -> dict[str, str]:
    """binding id -> keys ("j,down"), checked; KeymapError on the first unusable entry."""
    keymap: dict[str, str] = {}
    for binding_id, keys in flatten(table).items():
        where = f"keymap.{binding_id}"
        if binding_id not in BINDING_IDS:
            close = difflib.get_close_matches(binding_id, sorted(BINDING_IDS), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise KeymapError(where, f"unknown binding id ({hint}the help screen, ?, lists every id)")
        if not isinstance(keys, str):
            raise KeymapError(where, f'expected keys as a string like "j,down", got {keys!r}')
        names = [key.strip() for key in keys.split(",")]
        if not all(names):
            raise KeymapError(where, f"empty key name in {keys!r}")
        for name in names:
            if not _KEY.match(name):
                raise KeymapError(where, f"not a key name: {name!r} (examples: j, G, ctrl+p, f1, question_mark)")
        keymap[binding_id] = ",".join(names)
    return keymap


def dump_keymap(keymap: dict[str, str]) -> list[str]:
    """TOML lines for keymap, [keymap] header included; none when it is empty."""
    if not keymap:
        return []
    lines = ["[keymap]"]
    for binding_id, keys in sorted(keymap.items()):
        escaped = keys.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{binding_id} = "{escaped}"')
    return lines + [""]
