"""../shared/corpus: real-world messages from other projects' test suites (outside the repo).
Tests that walk it are skipped, with the path in the reason, only where it is absent."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NOT_MESSAGES = {".xml", ".json", ".md", ".py"}
NOT_MESSAGE_NAMES = {"README.txt", "ARTISTIC-LICENSE.txt", "LICENSE", "MANIFEST.md"}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # what the UI must never get

# Skipped only outside CI: in CI (CI set, as .ci/run runs) a missing corpus makes the tests that
# count it fail instead of quietly passing by skipping.
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir() and not os.environ.get("CI"),
                                  reason=f"the shared corpus is absent ({CORPUS})")


def corpus_messages() -> list[Path]:
    """Every message file of the corpus (licences, manifests and data files left out)."""
    if not CORPUS.is_dir():
        return []
    return [p for p in sorted(CORPUS.rglob("*"))
            if p.is_file() and p.suffix not in NOT_MESSAGES and p.name not in NOT_MESSAGE_NAMES
            and "files" not in p.relative_to(CORPUS).parts]
