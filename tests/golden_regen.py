"""Regenerate the report golden files, after an intended change of the reports' output.

    python -m tests.golden_regen && git diff tests/golden

Writes ``tests/golden/report.md`` and ``tests/golden/report.json`` from
``test_report.small_comparison``; read the diff before committing it. The tests
only compare with these files, they never write them.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def main() -> int:
    sys.path.insert(0, str(TESTS))  # test_report and its helpers import as the tests do
    from pipeline.reports import render_json, render_markdown
    from test_report import GOLDEN, small_comparison

    comparison = small_comparison()
    GOLDEN.mkdir(exist_ok=True)
    for name, text in (("report.md", render_markdown(comparison)), ("report.json", render_json(comparison))):
        path = GOLDEN / name
        old = path.read_bytes() if path.exists() else None
        path.write_bytes(text.encode("utf-8"))
        print(f"{path}: {'unchanged' if old == text.encode('utf-8') else 'written'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
