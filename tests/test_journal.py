"""pipeline.journal: a task's journal, its identity, and the mark of a finished task."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.config import CorpusConfig
from pipeline.corpora import PreparedCorpus
from pipeline.journal import Journal, read_finished, task_identity, write_meta

FIGURES = {"translated": 2, "from_cache": 1, "resumed": 0, "seconds": 0.5, "tokens": 7, "peak_rss_mb": 300.0}


def reopened(path: Path, identity: str, total: int = 10) -> dict[int, str]:
    journal = Journal(path, identity, total)
    try:
        return journal.open()
    finally:
        journal.close()


def test_a_journal_written_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "task.partial"
    journal = Journal(path, "abc", 10)
    assert journal.open() == {}
    journal.append([(3, "três"), (0, "zero")])
    journal.append([(7, "sete")])
    journal.close()
    assert reopened(path, "abc") == {0: "zero", 3: "três", 7: "sete"}
    # Reopening leaves the file as it was, ready for the next chunk.
    before = path.read_bytes()
    journal = Journal(path, "abc", 10)
    journal.open()
    journal.append([(1, "um")])
    journal.close()
    assert path.read_bytes() == before + b'{"n": 1, "translation": "um"}\n{"end": 1}\n'
    assert reopened(path, "abc") == {0: "zero", 1: "um", 3: "três", 7: "sete"}


@pytest.mark.parametrize(
    ("identity", "total"),
    [pytest.param("other", 10, id="another identity"), pytest.param("abc", 12, id="another segment count")],
)
def test_a_journal_of_another_task_is_not_reused(tmp_path: Path, identity: str, total: int) -> None:
    path = tmp_path / "task.partial"
    journal = Journal(path, "abc", 10)
    journal.open()
    journal.append([(0, "zero"), (1, "um")])
    journal.close()
    assert reopened(path, identity, total) == {}
    # Started afresh: only the new task's header is left.
    header = json.loads(path.read_text(encoding="utf-8"))
    assert header == {"identity": identity, "segments": total, "format": Journal.FORMAT}


def test_a_line_outside_the_task_ends_the_good_part(tmp_path: Path) -> None:
    path = tmp_path / "task.partial"
    journal = Journal(path, "abc", 3)
    journal.open()
    journal.append([(0, "zero")])
    journal.close()
    with path.open("ab") as handle:  # segment 5 of a 3-segment task: damage
        handle.write(b'{"n": 5, "translation": "cinco"}\n{"end": 1}\n')
    assert reopened(path, "abc", 3) == {0: "zero"}


def corpus(segments: list[str], name: str = "c", paragraph_ids: list[int] | None = None) -> PreparedCorpus:
    return PreparedCorpus(CorpusConfig(name=name, source=None, src_lang="en"), segments, paragraph_ids, {})


def translator(**settings: Any) -> SimpleNamespace:
    # What pipeline.cache.settings_key reads from a translator without a model folder.
    values = {"beam": settings.get("beam", 1), "max_length": settings.get("max_length")}
    return SimpleNamespace(name="stub", settings=lambda: dict(values))


def test_task_identity_changes_with_what_the_outputs_depend_on() -> None:
    base = task_identity(translator(), corpus(["a", "b"]), "pt")
    assert base == task_identity(translator(), corpus(["a", "b"]), "pt")
    changed = {
        "segments": task_identity(translator(), corpus(["a", "c"]), "pt"),
        "segment boundaries": task_identity(translator(), corpus(["ab", ""]), "pt"),
        "target": task_identity(translator(), corpus(["a", "b"]), "de"),
        "beam": task_identity(translator(beam=4), corpus(["a", "b"]), "pt"),
        "corpus name": task_identity(translator(), corpus(["a", "b"], name="d"), "pt"),
        "paragraphs": task_identity(translator(), corpus(["a", "b"], paragraph_ids=[0, 1]), "pt"),
    }
    assert base not in changed.values()
    assert len(set(changed.values())) == len(changed)


def finished_task(tmp_path: Path, hypotheses: list[str]) -> tuple[Path, list[Path]]:
    output, jsonl = tmp_path / "t.txt", tmp_path / "t.jsonl"
    output.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    jsonl.write_text("".join(json.dumps({"id": f"c:{n}", "translation": h}) + "\n"
                             for n, h in enumerate(hypotheses, 1)), encoding="utf-8")
    return tmp_path / "t.meta.json", [output, jsonl]


def test_a_finished_task_is_read_back_with_its_figures(tmp_path: Path) -> None:
    meta, outputs = finished_task(tmp_path, ["um", "dois", "três"])
    write_meta(meta, "abc", FIGURES)
    finished = read_finished(meta, "abc", outputs, 3)
    assert finished is not None
    assert finished.hypotheses == ["um", "dois", "três"]
    speed = finished.speed.to_json()
    assert (speed["segments_translated"], speed["segments_from_cache"], speed["segments_resumed"]) == (2, 1, 0)
    assert speed["translation_seconds"] == 0.5 and speed["peak_rss_mb"] == 300.0


def test_a_finished_task_gives_back_the_quality_estimates_of_its_jsonl(tmp_path: Path) -> None:
    meta, outputs = finished_task(tmp_path, ["um", "dois", "três"])
    write_meta(meta, "abc", FIGURES)
    assert read_finished(meta, "abc", outputs, 3).quality is None  # run without qe
    records = [{"id": "c:1", "translation": "um", "qe": {"forward": 0.7, "qe": 0.8123}, "check": False},
               {"id": "c:2", "translation": "dois"},  # an estimate missing, or not a number: None
               {"id": "c:3", "translation": "três", "qe": {"qe": "high"}, "check": True}]
    outputs[1].write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert read_finished(meta, "abc", outputs, 3).quality == [0.8123, None, None]


def test_a_finished_task_must_match_to_be_skipped(tmp_path: Path) -> None:
    meta, outputs = finished_task(tmp_path, ["um", "dois", "três"])
    write_meta(meta, "abc", FIGURES)
    assert read_finished(meta, "other", outputs, 3) is None  # another config
    assert read_finished(meta, "abc", outputs, 4) is None  # another corpus size
    assert read_finished(meta, "abc", [*outputs, tmp_path / "t.doc.txt"], 3) is None  # an output missing
    outputs[1].write_text("not json\n", encoding="utf-8")
    assert read_finished(meta, "abc", outputs, 3) is None  # a damaged output


def test_figures_that_do_not_add_up_count_as_resumed(tmp_path: Path) -> None:
    meta, outputs = finished_task(tmp_path, ["um", "dois", "três"])
    write_meta(meta, "abc", {**FIGURES, "translated": 5})
    finished = read_finished(meta, "abc", outputs, 3)
    assert finished is not None
    speed = finished.speed.to_json()
    assert (speed["segments_translated"], speed["segments_resumed"], speed["segments_per_s"]) == (0, 3, None)
