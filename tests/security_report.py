"""python -m tests.security_report: run the tests that tests/SECURITY_CASES.md maps to the 41
cases of ../shared/SECURITY-CASES.md (issue #8) and print one line per case with its result.

Each table row names tests as `prefix::test_name` (the prefixes are defined in the file's
header, e.g. `tls` = test_tls_hostile.py) or `test_file.py::test_name`; a parametrised name
counts every parameter. A row naming no test of its own ("same as 1") takes the tests of the
row it names. Exit status 1 when any named test failed, was skipped, or was not found.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

TESTS = Path(__file__).resolve().parent
TABLE = TESTS / "SECURITY_CASES.md"
PREFIX = re.compile(r"`(\w+)` =\s*(test_\w+\.py)")
NAMED = re.compile(r"(?<![\w.])(\w+(?:\.py)?)::(test_\w+)")
SAME_AS = re.compile(r"same as (\d+)")


def cases() -> tuple[dict[str, str], list[tuple[int, str, list[tuple[str, str]], str]]]:
    text = TABLE.read_text()
    header, _, table = text.partition("| # |")
    prefixes = dict(PREFIX.findall(" ".join(header.split())))
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].isdigit():
            continue
        named = []
        for prefix, name in NAMED.findall(cells[2]):
            module = prefix if prefix.endswith(".py") else prefixes.get(prefix)
            if module:
                named.append((module, name))
        rows.append((int(cells[0]), cells[1], named, cells[2]))
    by_number = {n: named for n, _, named, _ in rows}
    for i, (number, title, named, cell) in enumerate(rows):
        same = SAME_AS.search(cell)
        if same and not named:
            rows[i] = (number, title, by_number.get(int(same.group(1)), []), cell)
    return prefixes, rows


def run(modules: list[str]) -> dict[tuple[str, str], list[str]]:
    """(module, test function) -> the outcome of each of its runs (parameters included)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        f"--junitxml={report}", *[str(TESTS / m) for m in modules]],
                       cwd=TESTS.parent, check=False)
        outcomes: dict[tuple[str, str], list[str]] = {}
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            module = case.get("classname", "").rpartition(".")[2] + ".py"
            function = case.get("name", "").partition("[")[0]
            status = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    status = child.tag
            outcomes.setdefault((module, function), []).append(status)
    return outcomes


def main() -> int:
    _, rows = cases()
    modules = sorted({m for _, _, named, _ in rows for m, _ in named})
    outcomes = run(modules)
    bad = 0
    print(f"\n{len(rows)} cases, tests from {len(modules)} files")
    for number, title, named, _ in rows:
        results = [s for key in named for s in outcomes.get(key, ["missing"])]
        failed = [f"{m}::{n}" for m, n in named
                  if any(s != "passed" for s in outcomes.get((m, n), ["missing"]))]
        ok = bool(results) and not failed
        bad += not ok
        what = f"{results.count('passed')}/{len(results)} passed" if results else "no test named"
        print(f"{number:>2} {'PASS' if ok else 'FAIL'}  {title}: {what}"
              + (f"; not passed: {', '.join(failed)}" if failed else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
