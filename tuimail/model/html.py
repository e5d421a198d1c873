"""HTML mail as plain text: html2text with size caps; nothing is ever fetched or rendered."""
from __future__ import annotations

import html as htmllib
import re

MAX_HTML_CHARS = 1_000_000  # html2text is linear-ish but slow; beyond this, strip tags instead
_TAG = re.compile(r"<[^>]{0,4096}>")
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def _converter():
    import html2text  # loaded with the first HTML body, not at start-up

    conv = html2text.HTML2Text()
    conv.body_width = 0  # the UI wraps
    conv.images_to_alt = True  # an image is its alt text, never a URL to fetch
    conv.ignore_emphasis = False
    conv.inline_links = True  # the real target stays visible next to its text
    conv.protect_links = True
    conv.unicode_snob = True
    return conv


def _strip_tags(html: str) -> str:
    text = _SCRIPT.sub(" ", html)
    text = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>", "\n", text)
    return htmllib.unescape(_TAG.sub("", text))


def html_to_text(html: str) -> tuple[str, list[str]]:
    """Readable text for an HTML body, plus any problems met. Never raises."""
    problems: list[str] = []
    if len(html) > MAX_HTML_CHARS:
        problems.append(f"HTML over {MAX_HTML_CHARS} characters: tags stripped instead of converted")
        return _strip_tags(html[: MAX_HTML_CHARS * 4]), problems
    try:
        return _converter().handle(html), problems
    except (RecursionError, ValueError, AssertionError, IndexError, KeyError, TypeError) as exc:
        problems.append(f"HTML could not be converted ({type(exc).__name__}); tags stripped")
        return _strip_tags(html), problems
