"""The plain-text summary of a job that ``mtpipe run`` and ``mtpipe compare`` print: one row per task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.metrics import METRIC_NAMES, METRICS

if TYPE_CHECKING:
    from pipeline.jobs import JobResult

__all__ = ["format_summary"]


def format_summary(result: JobResult) -> str:
    """A plain-text table: one row per corpus, direction and system, with what its speed covers."""
    scored = {name for task in result.tasks for name in task.scores}
    metrics = [name for name in METRICS if name in scored] or list(METRIC_NAMES)  # the job's, in report order
    header = ["corpus", "direction", "system", "segs", "seg/s", "translated", "cached", "resumed", "MiB",
              *(METRICS[name].label for name in metrics)]
    rows = [header]
    for task in result.tasks:
        first = [task.corpus, f"{task.src_lang}->{task.tgt_lang}", task.system, str(task.segments)]
        if task.error or task.speed is None:
            rows.append([*first, "FAILED", *["-"] * (len(header) - len(first) - 1)])
            continue
        speed = task.speed
        rate = f"{speed.segments_per_s:.1f}" if speed.segments_per_s is not None else f"—, {speed.no_rate_reason}"
        memory = f"{speed.peak_rss_mb:.0f}" if speed.peak_rss_mb is not None else "-"
        cells = [f"{task.scores[m].score:.2f}" if m in task.scores else "-" for m in metrics]
        rows.append([*first, rate, str(speed.segments_translated), str(speed.segments_from_cache),
                     str(speed.segments_resumed), memory, *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True))) for row in rows]
    notes = [f"note: {t.corpus} {t.system}: {t.note}" for t in result.tasks if t.note and t.level == "paragraph"]
    notes += [_inline_note(t.corpus, t.system, t.inline) for t in result.tasks
              if t.inline and (t.inline.get("tags") or t.inline.get("protected") or t.inline.get("terms_matched"))]
    legend = ("seg/s: segments the model translated per second of its time for them; cached and resumed "
              "segments took none and are not in it. MiB: peak memory.")
    return "\n".join(lines + notes + [legend]) + "\n"


def _inline_note(corpus: str, system: str, inline: dict) -> str:
    """One line on a document's markup and glossary terms."""
    parts = [f"{inline.get('tags', 0)} tags placed ({inline.get('aligner', '?')} alignment)",
             f"{inline.get('protected', 0)} protected spans ({inline.get('protected_fixed', 0)} put back, "
             f"{inline.get('protected_failed', 0)} not)"]
    if inline.get("terms_matched"):
        parts.append(f"glossary: {inline['terms_matched']} terms matched, {inline.get('terms_fixed', 0)} put in, "
                     f"{inline.get('terms_violated', 0)} violated")
    return f"note: {corpus} {system}: " + "; ".join(parts)
