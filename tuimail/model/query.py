"""A search query as a person types it: `from:alice subject:"big plans" invoice`.

Pure: the protocol adapters turn it into IMAP SEARCH criteria (or a local filter for POP3).
Bare words search the whole text; field prefixes narrow a term; terms are ANDed.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

FIELDS = {"from": "FROM", "to": "TO", "cc": "CC", "subject": "SUBJECT", "body": "BODY", "text": "TEXT"}
MAX_TERMS = 20
MAX_TERM_CHARS = 500


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class Query:
    terms: tuple[tuple[str, str], ...]  # (IMAP key, value), e.g. ("FROM", "alice")

    @classmethod
    def parse(cls, text: str) -> "Query":
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise QueryError(f"cannot read the query: {exc}") from None
        terms = []
        for word in words:
            field, colon, value = word.partition(":")
            key = FIELDS.get(field.lower()) if colon else None
            if key is None:
                key, value = "TEXT", word
            value = "".join(c for c in value if c.isprintable())
            if not value:
                continue
            if len(value) > MAX_TERM_CHARS:
                raise QueryError(f"a search term longer than {MAX_TERM_CHARS} characters")
            terms.append((key, value))
        if not terms:
            raise QueryError("empty query")
        if len(terms) > MAX_TERMS:
            raise QueryError(f"more than {MAX_TERMS} search terms")
        return cls(tuple(terms))

    def imap_criteria(self) -> list[str]:
        """For imapclient's search(): alternating keys and values (it quotes the values)."""
        criteria: list[str] = []
        for key, value in self.terms:
            criteria += [key, value]
        return criteria

    def __str__(self) -> str:
        return " ".join(f"{key.lower()}:{shlex.quote(value)}" for key, value in self.terms)
