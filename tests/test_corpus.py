"""Every message in ../shared/corpus parses and yields displayable text; expectations hold."""
from __future__ import annotations

import json
import re

import pytest

from tests.corpus_support import CONTROL, CORPUS, corpus_messages, needs_corpus
from tuimail.model.message import parse_message
from tuimail.model.mime import MimePart

_messages = corpus_messages


@needs_corpus
def test_the_corpus_is_all_there():
    assert len(_messages()) >= 300


@needs_corpus
@pytest.mark.parametrize("path", _messages(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_message_parses_to_clean_text(path):
    parsed = parse_message(path.read_bytes())
    texts = [parsed.body] + [v for _, v in parsed.headers] + [p.filename or "" for p in parsed.root.walk()]
    for text in texts:
        assert not CONTROL.search(text.replace("\t", "").replace("\n", ""))
    assert parsed.body_kind in ("plain", "html", "none")
    if parsed.body_kind != "none":
        assert isinstance(parsed.body, str)


EXPECTED = CORPUS / "zbateson-mail-mime-parser" / "expectations.json"
# Where zbateson made a choice the RFCs do not make, and tuimail chooses otherwise.
DIFFERENT_BY_CHOICE = {
    "m0018": "uuencoded blocks inside text/plain are kept as text, not split into parts",
    "m0021": "uuencoded blocks inside text/plain are kept as text, not split into parts",
    "m1011": "a raw (not encoded-word) Subject is not decoded with the body's UTF-7 charset",
}


def _expectations() -> list[tuple[str, dict]]:
    if not EXPECTED.is_file():
        return []
    data = json.loads(EXPECTED.read_text())
    return [(k, v) for k, v in data.items() if not k.startswith("_") and k not in DIFFERENT_BY_CHOICE]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _tree(part: MimePart) -> dict:
    node = {"content_type": part.content_type}
    if part.is_multipart:
        node["parts"] = [_tree(child) for child in part.children]
    return node


@needs_corpus
@pytest.mark.parametrize("name,expected", _expectations(), ids=[n for n, _ in _expectations()])
def test_zbateson_expectations(name, expected):
    source = EXPECTED.parent
    raw = (source / f"{name}.txt").read_bytes()
    parsed = parse_message(raw)
    if "Subject" in expected:
        assert parsed.header("Subject") == expected["Subject"]
    for field in ("From", "To"):
        if field in expected:
            first = parsed.addresses(field)[0]
            assert first.email == expected[field]["email"]
            assert first.name == expected[field].get("name", "")
    if "Message-ID" in expected:
        assert parsed.header("Message-ID").strip().strip("<>") == expected["Message-ID"]
    if "text" in expected:
        want = (source / "files" / expected["text"]).read_bytes().decode("iso-8859-1")
        assert parsed.body_kind == "plain"
        assert _norm(parsed.body) == _norm(want)
    if "parts" in expected and expected["parts"] and "multipart/*" not in json.dumps(expected["parts"]):
        assert [_tree(parsed.root)] == expected["parts"]


def test_corpus_walk_reports_its_absence_by_name():
    """Where the corpus is absent the tests above say so in their skip reason, never silently."""
    assert str(CORPUS) in needs_corpus.kwargs["reason"]
