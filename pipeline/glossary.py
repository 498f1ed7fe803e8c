"""A glossary: source terms with the target term they must become, or terms to keep as they are.

The file is UTF-8 TSV, one entry a line: ``source<TAB>target``, or a lone ``term``
that is never translated (a product name, "Perseverance"). Blank lines and lines
starting with ``#`` are skipped. Terms match whole words, case-insensitively,
longest first. After translation each match must appear in the output: if the
model did not write it, the words aligned with the source term are replaced by
it (:func:`pipeline.inline.project`), and the report counts terms matched, put
in, and still missing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import InputError
from pipeline.inline import Constraint

__all__ = ["Glossary", "read_glossary"]


@dataclass(frozen=True)
class Glossary:
    """Terms to enforce.

    Attributes:
        entries: ``(source term, target term)``; the target is ``None`` for a term kept as it is.
        name: the file it came from, for messages and reports.
    """

    entries: tuple[tuple[str, str | None], ...]
    name: str = "glossary"

    def constraints(self, text: str) -> list[Constraint]:
        """The glossary's terms found in ``text`` (whole words, not overlapping), with what each must become."""
        found: list[Constraint] = []
        taken: list[tuple[int, int]] = []
        for source, target in sorted(self.entries, key=lambda entry: -len(entry[0])):
            for match in re.finditer(rf"(?<!\w){re.escape(source)}(?!\w)", text, flags=re.IGNORECASE):
                start, end = match.span()
                if any(a < end and start < b for a, b in taken):
                    continue
                taken.append((start, end))
                found.append(Constraint(start, end, target if target is not None else match.group(0), term=source))
        return sorted(found, key=lambda c: c.start)


def read_glossary(path: str | os.PathLike[str]) -> Glossary:
    """Read a glossary file.

    Raises:
        InputError: the file is missing or not UTF-8, a line has more than two columns or an
            empty term, or a term is given two different targets.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise InputError(f"glossary {name}: no such file") from err
    except UnicodeDecodeError as err:
        raise InputError(f"glossary {name}: not UTF-8 (byte {err.start})") from err
    except OSError as err:
        raise InputError(f"glossary {name}: cannot read: {err.strerror or err}") from err
    entries: dict[str, tuple[str, str | None]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        columns = [column.strip() for column in line.split("\t")]
        if len(columns) > 2:
            raise InputError(f"glossary {name}:{number}: {len(columns)} columns; expected 'source<TAB>target' "
                             "or a lone term to keep")
        source, target = columns[0], (columns[1] if len(columns) == 2 and columns[1] else None)
        if not source:
            raise InputError(f"glossary {name}:{number}: the source term is empty")
        key = source.casefold()
        if key in entries and entries[key][1] != target:
            raise InputError(f"glossary {name}:{number}: {source!r} is given twice, as {entries[key][1]!r} "
                             f"and {target!r}")
        entries[key] = (source, target)
    if not entries:
        raise InputError(f"glossary {name}: no terms", hint="one 'source<TAB>target' or term to keep per line")
    return Glossary(tuple(entries.values()), name)
