"""A fixed comparison for the report tests, and the regeneration of their golden files.

    python -m tests.helpers.golden && git diff tests/golden

Writes ``tests/golden/report.md`` and ``tests/golden/report.json`` from
:func:`small_comparison`, and ``report-qe.md`` and ``report-qe.json`` from
:func:`qe_comparison`; read the diff before committing it. The tests only
compare with these files, they never write them.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from pipeline.results import Comparison, Speed, SystemInfo, TestSetResult
from pipeline.significance import SystemStat

GOLDEN = Path(__file__).resolve().parents[1] / "golden"

TITLE_PAYLOAD = "<script>document.title='pwned'</script>"
ALERT_PAYLOAD = "<script>alert(1)</script>"
IMG_PAYLOAD = "<img src=x onerror=\"document.title='pwned';alert(2)\">"

SIGNATURES = {
    "bleu": "nrefs:1|bs:1000|seed:12345|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    "chrf": "nrefs:1|bs:1000|seed:12345|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
    "chrf++": "nrefs:1|bs:1000|seed:12345|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0",
    "ter": "nrefs:1|bs:1000|seed:12345|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0",
}


def make_stat(metric: str, score: float, ci: float, p: float | None = None, delta: float | None = None) -> SystemStat:
    return SystemStat(score, round(score + 0.05, 4), ci, p, p is not None and p <= 0.05 and delta != 0,
                      SIGNATURES[metric], delta)


def make_stats(values: dict[str, tuple]) -> dict[str, SystemStat]:
    return {metric: make_stat(metric, *args) for metric, args in values.items()}


def small_comparison() -> Comparison:
    """A fixed comparison with a win, a loss, a draw, a failed system, a system failed halfway and a bad test set."""
    flores = TestSetResult(
        name="flores",
        src_lang="en",
        tgt_lang="pt",
        sources=["He built a WiFi door bell.", ALERT_PAYLOAD, "Prices | rose 5%."],
        references=[["Ele construiu uma campainha WiFi.", "<script>alert(1)</script>", "Os preços | subiram 5%."]],
        hypotheses={
            "base": ["Ele construiu uma campainha de WiFi.", "<script>alert(1)</script>", "Preços subiram 5%."],
            "big": ["Ele construiu uma campainha WiFi.", "<script>alert(1)</script>", "Os preços subiram 5%."],
            "tiny": ["Ele fez campainha."],
        },
        stats={
            "base": make_stats({"bleu": (45.97, 1.2), "chrf": (68.41, 0.9),
                                "chrf++": (66.02, 0.95), "ter": (41.3, 1.5)}),
            "big": make_stats({"bleu": (48.12, 1.15, 0.001, 2.15), "chrf": (69.0, 0.88, 0.08, 0.59),
                           "chrf++": (66.9, 0.91, 0.03, 0.88), "ter": (39.8, 1.41, 0.004, -1.5)}),
        },
        speed={"base": Speed(3, 0, 0, 0.211, 14.2, 402.5, 1210.0), "big": Speed(3, 0, 0, 0.968, 3.1, 88.0, 2890.4),
               "tiny": Speed(1, 0, 0, 0.02, 50.0, 900.0, 400.0)},
        errors={"tiny": "stopped at segment 2 of 3: out of memory"},
    )
    news = TestSetResult(
        name="news",
        src_lang="en",
        tgt_lang="de",
        sources=["The cat sat.", "It rained."],
        references=[["Die Katze saß.", "Es regnete."]],
        hypotheses={"base": ["Die Katze saß.", "Es hat geregnet."], "big": ["Die Katze saß.", "Es regnete."],
                    "tiny": ["Katze sitzt.", "Regen."]},
        stats={
            "base": make_stats({"bleu": (30.5, 1.8), "chrf": (58.2, 1.1), "chrf++": (55.7, 1.1), "ter": (55.0, 2.0)}),
            "big": make_stats({"bleu": (31.0, 1.75, 0.3, 0.5), "chrf": (58.9, 1.05, 0.2, 0.7),
                           "chrf++": (56.1, 1.08, 0.25, 0.4), "ter": (54.1, 1.9, 0.12, -0.9)}),
            "tiny": make_stats({"bleu": (22.4, 1.6, 0.001, -8.1), "chrf": (51.3, 1.2, 0.001, -6.9),
                            "chrf++": (48.9, 1.2, 0.001, -6.8), "ter": (63.2, 2.1, 0.001, 8.2)}),
        },
        # big found one segment in the cache, tiny resumed one: their figures cover the other only.
        speed={"base": Speed(2, 0, 0, 0.133, 15.0, 390.0, 1215.0), "big": Speed(1, 1, 0, 0.294, 3.4, 91.2, None),
               "tiny": Speed(1, 0, 1, 0.025, 40.5, 1100.0, 410.0)},
    )
    broken = TestSetResult(
        name="broken", src_lang="en", tgt_lang="fr", sources=[], references=[],
        error="line counts differ: broken.en has 3 lines, broken.fr has 2 lines",
    )
    systems = [
        SystemInfo("base", "Helsinki-NLP/opus-mt-tc-big-en-pt", {"beam": 4, "max_length": 256}),
        SystemInfo("big", "facebook/nllb-200-distilled-600M", {"beam": 5}),
        SystemInfo("tiny", "./models/tiny_test"),
        SystemInfo("ghost", "./models/missing", error="model not found: ./models/missing (no config.json)"),
    ]
    return Comparison(job="demo", baseline="base", systems=systems, testsets=[flores, news, broken])


def qe_comparison() -> Comparison:
    """:func:`small_comparison` where base (threshold 0.5) and big (0.6) were run with ``qe = true``.

    big has no estimate for flores' second segment; tiny has none at all (and failed on flores).
    """
    comparison = small_comparison()
    flores, news, _ = comparison.testsets
    flores.quality.update(base=[0.8123, 0.4999, 0.5], big=[0.9, None, 0.55])
    news.quality.update(base=[0.31, 0.7], big=[0.95, 0.6])
    base, big, *others = comparison.systems
    systems = [dataclasses.replace(base, qe_threshold=0.5), dataclasses.replace(big, qe_threshold=0.6), *others]
    return dataclasses.replace(comparison, systems=systems)


def main() -> int:
    from pipeline.reports import render_json, render_markdown

    GOLDEN.mkdir(exist_ok=True)
    small, qe = small_comparison(), qe_comparison()
    for name, text in (("report.md", render_markdown(small)), ("report.json", render_json(small)),
                       ("report-qe.md", render_markdown(qe)), ("report-qe.json", render_json(qe))):
        path = GOLDEN / name
        old = path.read_bytes() if path.exists() else None
        path.write_bytes(text.encode("utf-8"))
        print(f"{path}: {'unchanged' if old == text.encode('utf-8') else 'written'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
