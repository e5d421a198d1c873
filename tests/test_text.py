"""strip_controls (model/text.py) and Folder names (model/folder.py): network text made inert."""
from __future__ import annotations

import time

import pytest

from tuimail.model.folder import Folder, decode_modified_utf7, display_name, folder_role
from tuimail.model.text import one_line, strip_controls


@pytest.mark.parametrize("hostile, shown", [
    ("a\x1b]52;c;aGVsbG8=\x07b", "ab"),  # OSC 52 clipboard, BEL-terminated
    ("\x1b]8;;https://evil\x1b\\bank\x1b]8;;\x1b\\", "bank"),  # OSC 8 hyperlink, ST-terminated
    ("x\x1b[2Jy", "xy"),  # CSI clear screen
    ("\x1b[38;5;196mred\x1b[0m", "red"),
    ("\x1b]0;pwned title\x07t", "t"),  # window title
    ("a\x9b31mb", "ab"),  # 8-bit CSI
    ("a\x9d0;title\x9cb", "ab"),  # 8-bit OSC with 8-bit ST
    ("a\x1bPq#0;2;0;0;0\x1b\\b", "ab"),  # DCS (sixel)
    ("a\x1b_apc\x1b\\b", "ab"),
    ("a\x1bcb", "ab"),  # RIS: full terminal reset
    ("a\x1b(Bb", "ab"),  # charset designation
    ("a\x1b]52;c;unterminated", "a"),  # an OSC never terminated takes the rest with it
    ("nul\x00del\x7fbell\x07bs\x08cr\r", "nuldelbellbscr"),
    ("c1\x80\x85\x99.", "c1."),
    ("apc\x9fto the end", "apc"),  # 0x9f opens an APC string
    ("evil\u202egpj.exe", "evilgpj.exe"),  # RLO
    ("\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069ok", "ok"),
    ("tab\tand\nnewline", "tab\tand\nnewline"),  # kept
    ("Zoë 日本語 🎉 [b]markup[/b]", "Zoë 日本語 🎉 [b]markup[/b]"),  # not our business here
    ("a\x1b", "a"),
    ("", ""),
])
def test_strip_controls_removes_sequences_whole(hostile, shown):
    assert strip_controls(hostile) == shown


def test_strip_controls_leaves_no_escape_or_c1_anywhere():
    every = "".join(chr(i) for i in range(0x00, 0xa0)) + "\u202a\u202e\u2066\u2069"
    cleaned = strip_controls(every * 3)
    assert not any(ord(c) < 0x20 and c not in "\t\n" for c in cleaned)
    assert not any(0x7f <= ord(c) <= 0x9f for c in cleaned)
    assert "\x1b" not in cleaned


def test_strip_controls_is_linear_on_pathological_input():
    for hostile in ("\x1b]" + "x" * 500_000, "\x1b[" + "1;" * 250_000, "\x1b" * 500_000,
                    ("\x1b]a\x1b" * 100_000)):
        start = time.perf_counter()
        strip_controls(hostile)
        assert time.perf_counter() - start < 5.0  # quadratic would take minutes


def test_one_line_flattens_and_caps():
    assert one_line("NO [ALERT]\r\n  go\x1b[2J away\n") == "NO [ALERT] go away"
    long = one_line("x" * 1000, limit=20)
    assert len(long) == 20 and long.endswith("…")


@pytest.mark.parametrize("raw, decoded", [
    ("INBOX", "INBOX"),
    ("Entw&APw-rfe", "Entwürfe"),
    ("&ZeVnLIqe-", "日本語"),
    ("Tom &- Jerry", "Tom & Jerry"),
    ("&2DzfiQ-", "🎉"),  # a surrogate pair
    ("Gesendete Objekte", "Gesendete Objekte"),
    ("Zoë", "Zoë"),  # UTF-8 names (UTF8=ACCEPT) pass through
])
def test_modified_utf7(raw, decoded):
    assert decode_modified_utf7(raw) == decoded


@pytest.mark.parametrize("bad", ["&", "a&b", "&A-", "&!!!-", "&2D0-", "&AGEAYgBj"])
def test_invalid_modified_utf7_raises_and_displays_raw(bad):
    with pytest.raises(ValueError):
        decode_modified_utf7(bad)
    assert display_name(bad) == bad


def test_folder_display_is_inert():
    # ESC encoded inside modified UTF-7 must not survive decoding either
    folder = Folder.from_list("&ABsAWwAyAEo-x\x1b]0;t\x07", "/", ["\\HasNoChildren"])
    assert folder.display == "x"
    assert folder.name == "&ABsAWwAyAEo-x\x1b]0;t\x07"  # raw, for commands only
    assert "\x1b" not in Folder.from_list("../x\x1b[31m$(touch x)", "/", []).display


@pytest.mark.parametrize("name, flags, role", [
    ("INBOX", [], "inbox"),
    ("inbox", ["\\HasNoChildren"], "inbox"),
    ("Sent Items", ["\\HasNoChildren", "\\Sent"], "sent"),
    ("Drafts", ["\\Drafts"], "drafts"),
    ("Bin", ["\\TRASH"], "trash"),
    ("Spam", ["\\Junk"], "junk"),
    ("Archive", ["\\Archive"], "archive"),
    ("All Mail", ["\\All"], None),
    ("Sent", [], None),  # names alone do not make a role
])
def test_folder_roles(name, flags, role):
    assert folder_role(name, flags) == role
    assert Folder.from_list(name, "/", flags).role == role


def test_folder_is_frozen_and_knows_noselect():
    folder = Folder.from_list("[Gmail]", "/", ["\\Noselect", "\\HasChildren"])
    assert not folder.selectable
    assert Folder.from_list("INBOX", ".", []).selectable
    with pytest.raises(AttributeError):
        folder.name = "x"  # type: ignore[misc]
