"""HTML mail as plain text: html2text with size caps; nothing is ever fetched or rendered."""
from __future__ import annotations

import html as htmllib
import re
import time

from tuimail.model.limits import DEFAULT_LIMITS, Limits, over

# html2text is linear-ish but slow, and nested lists or quotes make it quadratic: past
# limits.html_chars of input or limits.html_seconds of work, tags are stripped instead.
MAX_HTML_OUTPUT = 4_000_000  # characters html2text may produce (each nested <li> indents deeper)
_FEED_CHUNK = 8192  # the time limit is checked between chunks of this many characters
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


class _OverLimit(Exception):
    pass


def _convert(html: str, seconds: float) -> str:
    """html2text fed in chunks, giving up once it runs past seconds or produces too much."""
    conv = _converter()
    produced = 0
    keep = conv.outtextf

    def out(text: str) -> None:
        nonlocal produced
        produced += len(text)
        if produced > MAX_HTML_OUTPUT:
            raise _OverLimit(f"HTML converts to over {MAX_HTML_OUTPUT} characters")
        keep(text)

    conv.out = out
    conv.start = True
    deadline = time.monotonic() + seconds
    for start in range(0, len(html), _FEED_CHUNK):
        conv.feed(html[start:start + _FEED_CHUNK])
        if time.monotonic() > deadline:
            raise _OverLimit(over("HTML conversion took", "html_seconds", seconds))
    conv.feed("")
    return conv.optwrap(conv.finish())


def _strip_tags(html: str) -> str:
    text = _SCRIPT.sub(" ", html)
    text = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>", "\n", text)
    return htmllib.unescape(_TAG.sub("", text))


def html_to_text(html: str, limits: Limits = DEFAULT_LIMITS) -> tuple[str, list[str]]:
    """Readable text for an HTML body, plus any problems met. Never raises."""
    problems: list[str] = []
    if len(html) > limits.html_chars:
        problems.append(over("HTML", "html_chars", limits.html_chars)
                        + ": tags stripped instead of converted")
        return _strip_tags(html[: limits.html_chars * 4]), problems
    try:
        return _convert(html, limits.html_seconds), problems
    except _OverLimit as exc:
        problems.append(f"{exc}: tags stripped instead of converted")
        return _strip_tags(html), problems
    except (RecursionError, ValueError, AssertionError, IndexError, KeyError, TypeError) as exc:
        problems.append(f"HTML could not be converted ({type(exc).__name__}); tags stripped")
        return _strip_tags(html), problems
