"""Turning untrusted strings (server names, server messages, doctor output) into inert Content.

Textual's Static, Label, notify, OptionList and Tree parse markup in plain `str`, and
Content keeps ESC; everything from the network goes through `inert` first.
"""
from __future__ import annotations

from textual.content import Content

from tuimail.model.text import strip_controls


def inert(text: str, style: str = "") -> Content:
    """text with control characters made harmless, as Content that is never parsed as markup."""
    return Content.styled(strip_controls(text), style)


def line(*parts: str | tuple[str, str]) -> Content:
    """One line assembled from untrusted pieces, each optionally paired with a style."""
    pieces: list[Content] = []
    for part in parts:
        text, style = (part, "") if isinstance(part, str) else part
        pieces.append(inert(text, style))
    return Content("").join(pieces)
