from __future__ import annotations

import pytest

from tuimail.model.query import Query, QueryError


def test_fields_and_words():
    query = Query.parse('from:alice subject:"big plans" invoice Grüße')
    assert query.terms == (("FROM", "alice"), ("SUBJECT", "big plans"), ("TEXT", "invoice"), ("TEXT", "Grüße"))
    assert query.imap_criteria()[:2] == ["FROM", "alice"]
    assert Query.parse("http://x").terms == (("TEXT", "http://x"),)  # not a field: a word


@pytest.mark.parametrize("bad", ["", "   ", 'subject:"open', "\x1b"])
def test_bad_queries(bad):
    with pytest.raises(QueryError):
        Query.parse(bad)
