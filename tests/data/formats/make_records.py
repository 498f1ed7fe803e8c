"""Write data.jsonl with the json module and data.tsv with the csv module (python tests/data/formats/make_records.py).

The JSONL records have other fields to keep, nested metadata (for --field meta.title), a line written with
ensure_ascii (\\u escapes), a compact line, an empty text and a blank line. The TSV has a header with a
"source" column, quotes and non-ASCII text, and an empty cell.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).parent

RECORDS = [
    {"id": 1, "text": "The meeting starts at 10:00.", "meta": {"title": "Agenda", "tags": ["work"]}},
    {"id": 2, "text": "Café prices rose by 5% — again.", "meta": {"title": "Prices", "score": 0.75}},
    {"id": 3, "text": "She said \"no\" twice.", "meta": {"title": "Quotes", "draft": True}},
    {"id": 4, "text": "", "meta": {"title": "Empty text", "draft": None}},
    {"id": 5, "text": "Naïve résumé, ASCII-escaped.", "meta": {"title": "Escapes"}},
]


def make_jsonl() -> None:
    lines = [json.dumps(RECORDS[0], ensure_ascii=False),
             json.dumps(RECORDS[1], ensure_ascii=False, separators=(",", ":")),
             json.dumps(RECORDS[2], ensure_ascii=False),
             "",
             json.dumps(RECORDS[3], ensure_ascii=False),
             json.dumps(RECORDS[4])]
    (HERE / "data.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_tsv() -> None:
    rows = [
        ["id", "source", "note"],
        ["1", "Good morning, everyone.", "greeting"],
        ["2", 'The "best" café in town.', "quotes stay as they are"],
        ["3", "", "no text"],
        ["4", "Prices rose by 5%.", ""],
    ]
    with open(HERE / "data.tsv", "w", encoding="utf-8", newline="") as out:
        csv.writer(out, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator="\n").writerows(rows)


if __name__ == "__main__":
    make_jsonl()
    make_tsv()
