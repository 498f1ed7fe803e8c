"""Tests for pipeline.reports: golden report.md / report.json, and report.html in a real headless Chromium.

Golden files: ``tests/golden/report.md`` and ``tests/golden/report.json`` are compared
byte for byte with the reports of :func:`small_comparison`; the tests never write them.
After an intended change of the output, regenerate them, then read the diff before
committing it:

    python -m tests.helpers.golden && git diff tests/golden

The browser tests need Chromium (Debian/Ubuntu: ``apt-get install -y chromium``) and
are skipped, saying so, without it. They leave their screenshots in the test's tmp
folder (pytest prints its path with ``-v --basetemp=DIR``).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import markupsafe
import pytest
import sacrebleu

from pipeline.compare import build_comparison
from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.evaluate import score_sentences
from pipeline.jobs import JobResult, TaskResult, prepare_corpus
from pipeline.reports import (
    FORMATS,
    SCHEMA_VERSION,
    SCORE_FORMATS,
    build_json,
    render_html,
    render_json,
    render_markdown,
    render_scores,
    report_format,
    write_reports,
)
from pipeline.reports.formats import register_format
from pipeline.results import Comparison, Speed, SystemInfo, TestSetResult
from pipeline.significance import compare_systems
from tests.helpers.golden import ALERT_PAYLOAD, GOLDEN, IMG_PAYLOAD, TITLE_PAYLOAD, qe_comparison, small_comparison
from tests.helpers.headless import Chromium, find_chromium

FLORES = Path(__file__).resolve().parent.parent / "corpora" / "flores200-devtest"

# --------------------------------------------------------------------------
# Golden files
# --------------------------------------------------------------------------


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    assert path.read_bytes() == text.encode("utf-8"), (
        f"{path} differs from the output; if the change is intended: python -m tests.helpers.golden, then read the diff"
    )


def test_markdown_matches_the_golden_file():
    _check_golden("report.md", render_markdown(small_comparison()))


def test_json_matches_the_golden_file(tmp_path):
    paths = write_reports(small_comparison(), tmp_path)
    _check_golden("report.json", paths[0].read_text(encoding="utf-8"))


def test_qe_reports_match_their_golden_files():
    _check_golden("report-qe.md", render_markdown(qe_comparison()))
    _check_golden("report-qe.json", render_json(qe_comparison()))


# --------------------------------------------------------------------------
# report.json
# --------------------------------------------------------------------------


def test_json_has_a_schema_version_and_marks_every_failure():
    report = build_json(small_comparison())
    assert report["schema_version"] == SCHEMA_VERSION == 2
    flores, news, broken = report["testsets"]
    assert flores["results"]["big"]["scores"]["bleu"]["outcome"] == "better"
    assert flores["results"]["big"]["scores"]["chrf"]["outcome"] == "not significant"
    assert flores["results"]["base"]["scores"]["bleu"]["outcome"] is None
    assert news["results"]["tiny"]["scores"]["ter"]["outcome"] == "worse"  # TER went up
    assert flores["results"]["tiny"] == {
        "error": "stopped at segment 2 of 3: out of memory", "scores": {}, "speed": None,
    }
    assert news["results"]["ghost"]["error"].startswith("model not found")
    assert broken["error"].startswith("line counts differ")
    assert all(result["error"].startswith("test set 'broken' cannot be used") for result in broken["results"].values())
    assert flores["results"]["big"]["scores"]["bleu"]["ci_low"] == 47.02
    assert news["results"]["big"]["speed"]["peak_rss_mb"] is None


def test_json_writes_non_finite_numbers_as_null():
    comparison = small_comparison()
    comparison.testsets[1].speed["base"] = Speed(2, 0, 0, 0.0, float("inf"), float("nan"), 1.0)
    report = build_json(comparison)
    assert report["testsets"][1]["results"]["base"]["speed"] == {
        "segments_translated": 2, "segments_from_cache": 0, "segments_resumed": 0, "translation_seconds": 0.0,
        "segments_per_s": None, "tokens_per_s": None, "peak_rss_mb": 1.0, "time_vs_baseline": None,
    }
    json.dumps(report, allow_nan=False)


def null_speed_comparison() -> Comparison:
    """The small comparison where base took news from the cache and big resumed all of it."""
    comparison = small_comparison()
    news = comparison.testsets[1]
    news.speed["base"] = Speed.measured(translated=0, from_cache=2, seconds=0.0004, peak_rss_mb=300.0)
    news.speed["big"] = Speed.measured(translated=0, resumed=2)
    return comparison


def test_json_speed_is_null_when_nothing_was_translated():
    results = build_json(null_speed_comparison())["testsets"][1]["results"]
    assert results["base"]["speed"] == {
        "segments_translated": 0, "segments_from_cache": 2, "segments_resumed": 0, "translation_seconds": 0.0,
        "segments_per_s": None, "tokens_per_s": None, "peak_rss_mb": 300.0, "time_vs_baseline": None,
    }
    assert results["big"]["speed"]["segments_resumed"] == 2 and results["big"]["speed"]["segments_per_s"] is None
    # Without the baseline's rate there is no factor, for any system on that test set.
    assert results["tiny"]["speed"]["time_vs_baseline"] is None


def test_json_gives_each_systems_time_as_a_multiple_of_the_baselines():
    flores, news = (testset["results"] for testset in build_json(small_comparison())["testsets"][:2])
    # The fixture's rates (segments/s): flores base 14.2, big 3.1 (tiny failed); news 15.0, 3.4, 40.5.
    assert flores["base"]["speed"]["time_vs_baseline"] == 1.0
    assert flores["big"]["speed"]["time_vs_baseline"] == pytest.approx(14.2 / 3.1)
    assert flores["tiny"]["speed"] is None
    assert news["big"]["speed"]["time_vs_baseline"] == pytest.approx(15.0 / 3.4)
    assert news["tiny"]["speed"]["time_vs_baseline"] == pytest.approx(15.0 / 40.5)


def test_json_has_each_systems_quality_estimates_and_the_segments_to_check():
    flores, news, _ = build_json(qe_comparison())["testsets"]
    assert flores["results"]["base"]["quality"] == {
        "threshold": 0.5, "to_check": 1, "estimates": [0.8123, 0.4999, 0.5], "check": [False, True, False],
    }
    # A segment without an estimate is null and not marked; an estimate at the threshold is not below it.
    assert flores["results"]["big"]["quality"] == {
        "threshold": 0.6, "to_check": 1, "estimates": [0.9, None, 0.55], "check": [False, False, True],
    }
    assert news["results"]["big"]["quality"]["check"] == [False, False]
    # Systems without estimates, or failed, have no "quality" at all: their results are as before.
    assert "quality" not in news["results"]["tiny"] and "quality" not in flores["results"]["tiny"]
    assert all("quality" not in result for testset in build_json(small_comparison())["testsets"]
               for result in testset["results"].values())


def test_json_quality_estimates_of_a_failed_run_are_left_out():
    comparison = qe_comparison()
    comparison.testsets[1].errors["big"] = "stopped at segment 2 of 2"
    assert "quality" not in build_json(comparison)["testsets"][1]["results"]["big"]


# --------------------------------------------------------------------------
# report.md
# --------------------------------------------------------------------------


def test_markdown_marks_wins_losses_and_failures():
    text = render_markdown(small_comparison())
    assert "| big | 48.12 ± 1.15 † | 31.00 ± 1.75 | ✗ bad test set |" in text
    assert "| tiny | ✗ failed | 63.20 ± 2.10 ‡ | ✗ bad test set |" in text  # TER
    assert "| ghost | ✗ failed | ✗ failed | ✗ bad test set |" in text
    assert "- ✗ system tiny on flores (en→pt): `stopped at segment 2 of 3: out of memory`" in text


def test_markdown_says_what_a_speed_covers_and_why_one_is_missing():
    text = render_markdown(null_speed_comparison())
    speed = text[text.index("## Speed"):text.index("## Signatures")]
    assert "cover only the segments the model translated" in speed
    assert ("| System | Test set | segments/s (translated segments only) | tokens/s (translated segments only) "
            "| translated | from cache | resumed | peak memory (MiB) | time vs baseline |") in speed
    assert "| base | news (en→de) | —, all from cache | — | 0 | 2 | 0 | 300 | — |" in speed
    assert "| big | news (en→de) | —, all resumed | — | 0 | 0 | 2 | — | — |" in speed
    assert "| base | flores (en→pt) | 14.2 | 402.5 | 3 | 0 | 0 | 1210 | 1.0x |" in speed
    assert "| big | flores (en→pt) | 3.1 | 88.0 | 3 | 0 | 0 | 2890 | 4.6x |" in speed  # 14.2 / 3.1


def test_markdown_counts_the_segments_to_check_per_system_with_the_threshold():
    text = render_markdown(qe_comparison())
    section = text[text.index("## Quality estimates"):text.index("## Signatures")]
    assert "| System | Test set | threshold | marked “check” |" in section
    assert "| base | flores (en→pt) | 0.5 | 1 of 3 |" in section
    assert "| base | news (en→de) | 0.5 | 1 of 2 |" in section
    assert "| big | flores (en→pt) | 0.6 | 1 of 2 estimated (3 segments) |" in section
    assert "| big | news (en→de) | 0.6 | 0 of 2 |" in section
    assert "tiny" not in section
    assert "## Quality estimates" not in render_markdown(small_comparison())


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        pytest.param("a|b", r"a\|b", id="pipe"),
        pytest.param("<b>x</b>", r"\<b\>x\</b\>", id="html"),
        pytest.param("big_model*", r"big\_model\*", id="emphasis"),
        pytest.param("two\nlines", "two lines", id="newline"),
    ],
)
def test_markdown_escapes_names(name, shown):
    comparison = small_comparison()
    systems = [SystemInfo(name, "m"), *comparison.systems[1:]]
    comparison = Comparison("job", name, systems, comparison.testsets)
    assert f"| {shown} (baseline) | m | — | ok |" in render_markdown(comparison)


# --------------------------------------------------------------------------
# The data model
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"baseline": "nope"}, r"baseline 'nope' is not one of the systems \(systems: a, b\)", id="baseline"
        ),
        pytest.param(
            {"systems": [SystemInfo("a", "m"), SystemInfo("a", "n")]}, r"system names must be unique, got 'a'",
            id="duplicate",
        ),
        pytest.param(
            {"metrics": ("bleu", "bleurt")}, r"unknown metric 'bleurt' \(known: bleu, chrf, chrf\+\+, ter, comet\)",
            id="metric",
        ),
    ],
)
def test_bad_comparisons_are_named(kwargs, message):
    arguments = {"job": "j", "baseline": "a", "systems": [SystemInfo("a", "m"), SystemInfo("b", "m")], "testsets": []}
    with pytest.raises(ConfigError, match=message):
        Comparison(**{**arguments, **kwargs})


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


def test_write_reports_writes_three_files_and_nothing_else(tmp_path):
    paths = write_reports(small_comparison(), tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.md", "report.html"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "report.json", "report.md"]
    assert json.loads(paths[0].read_text(encoding="utf-8"))["schema_version"] == 2


def test_formats_registry():
    assert {name: fmt.filename for name, fmt in FORMATS.items()} == {
        "json": "report.json", "markdown": "report.md", "html": "report.html",
    }
    assert report_format("markdown").render(small_comparison()) == render_markdown(small_comparison())
    with pytest.raises(ConfigError, match=r"unknown report format 'pdf' \(known: json, markdown, html\)"):
        report_format("pdf")
    with pytest.raises(ConfigError, match=r"unknown score format 'xml' \(known: text, json\)"):
        render_scores("xml", {})
    with pytest.raises(ValueError, match="already registered"):
        register_format("html2", filename="report.html")(render_html)


def test_evaluate_format_choices_come_from_the_registry(capsys):
    from pipeline.cli import build_parser

    assert list(SCORE_FORMATS) == ["text", "json"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["evaluate", "--tgt", "pt", "--refs", "r.txt", "--format", "xml"])
    assert "invalid choice: 'xml' (choose from 'text', 'json')" in capsys.readouterr().err


def test_a_rendering_error_writes_nothing(tmp_path, monkeypatch):
    def fail(comparison):
        raise RuntimeError("boom")

    monkeypatch.setitem(FORMATS, "html", dataclasses.replace(FORMATS["html"], render=fail))
    with pytest.raises(RuntimeError, match="boom"):
        write_reports(small_comparison(), tmp_path)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# report.html, read as text
# --------------------------------------------------------------------------


def hostile_comparison() -> Comparison:
    """The small comparison with script-injection payloads wherever corpus or user text goes."""
    comparison = small_comparison()
    flores, news, broken = comparison.testsets
    flores.sources[0] = TITLE_PAYLOAD
    flores.sources[1] = IMG_PAYLOAD
    news.hypotheses["big"][1] = "</script><script>alert(3)</script>"
    news.references[0][0] = "&lt;b&gt; stays as typed"
    systems = [*comparison.systems[:3], SystemInfo(IMG_PAYLOAD, "m", {"x": TITLE_PAYLOAD}, error=ALERT_PAYLOAD)]
    return Comparison(TITLE_PAYLOAD, "base", systems, [flores, news, broken])


def _script_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.DOTALL)
    return json.loads(match[1])


def test_html_escapes_every_corpus_string():
    page = render_html(hostile_comparison())
    for payload in (TITLE_PAYLOAD, ALERT_PAYLOAD, IMG_PAYLOAD, "alert(3)</script>"):
        assert payload not in page
    assert str(markupsafe.escape(TITLE_PAYLOAD)) in page  # in <title>, <h1> ...
    # In the embedded JSON, <, > and & are \u003c, \u003e, \u0026: no string can end the <script>.
    data_text = re.search(r'id="report-data">(.*?)</script>', page, re.DOTALL)[1]
    assert not set("<>&") & set(data_text)
    data = _script_data(page)
    assert data["testsets"][0]["sources"][:2] == [TITLE_PAYLOAD, IMG_PAYLOAD]
    assert data["testsets"][1]["references"][0][0] == "&lt;b&gt; stays as typed"
    assert len(re.findall(r"<script\b", page)) == 2


def test_html_requests_nothing_from_the_network():
    page = render_html(small_comparison())
    assert not re.search(r"""(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:https?:|//)""", page, re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:|//)|@import|<link\b|<iframe\b|<img\b", page, re.IGNORECASE)
    # The only absolute URL is the SVG namespace, which is a name, not a request.
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}


def test_html_allows_only_its_own_script():
    page = render_html(small_comparison())
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)[1]
    assert policy.startswith("default-src 'none'; ")
    script = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(script) == 1
    digest = base64.b64encode(hashlib.sha256(script[0].encode("utf-8")).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy


def test_html_marks_failures():
    page = render_html(small_comparison())
    assert page.count("✗ bad test set") >= 4  # a cell per system in each metric's table, and the charts
    assert '<td class="failed" data-value="" title="stopped at segment 2 of 3: out of memory">✗ failed</td>' in page
    data = _script_data(page)
    assert [ts["label"] for ts in data["testsets"]] == ["flores (en→pt)", "news (en→de)"]
    assert [s["name"] for s in data["testsets"][0]["systems"]] == ["base", "big"]
    assert data["testsets"][0]["notes"] == [
        "tiny: ✗ failed: stopped at segment 2 of 3: out of memory",
        "ghost: ✗ failed: model not found: ./models/missing (no config.json)",
    ]


def test_html_speed_table_and_chart_say_what_they_cover():
    page = render_html(null_speed_comparison())
    section = page[page.index('<section id="speed">'):page.index('<section id="signatures">')]
    assert "cover only the segments the model translated" in section
    assert section.count("segments/s (translated segments only)") == 3  # column, chart caption, chart label
    # A row without a figure says why, and sorts last (no data-value).
    assert ('<tr><td>base</td><td>news (en→de)</td><td data-value="">—, all from cache</td><td data-value="">—</td>'
            '<td data-value="0">0</td><td data-value="2">2</td><td data-value="0">0</td>'
            '<td data-value="300">300</td><td data-value="">—</td></tr>') in section
    assert '<td data-value="">—, all resumed</td>' in section
    # The chart: a bar for each figure, scaled to the fastest; none, but the reason, for the others.
    bars = re.findall(r'<rect x="300" y="[\d.]+" width="([\d.]+)"', section)
    assert sorted(map(float, bars)) == [round(360 * rate / 40.5, 1) for rate in (3.1, 14.2, 40.5)]
    assert '<text class="speed-none" x="306" y="67">—, all from cache</text>' in section
    assert '<text class="speed-value" x="666.0" y="111">40.5 (1 of 2 translated)</text>' in section
    assert ("<title>big on news (en→de): no segments/s (all resumed); 0 translated, 0 from cache, 2 resumed</title>"
            in section)


def test_html_shows_the_sentence_chrf_it_is_given():
    # The renderer computes nothing: it shows the comparison's figures, rounded, and nothing where there are none.
    comparison = small_comparison()
    comparison.testsets[1].sentence_chrf.update(base=[11.1111, 22.2271], big=[100.0, 0.0])
    data = _script_data(render_html(comparison))
    shown = {system["name"]: system["chrf"] for system in data["testsets"][1]["systems"]}
    assert shown == {"base": [11.11, 22.23], "big": [100.0, 0.0], "tiny": None}


def test_html_without_estimates_has_no_trace_of_them():
    # Byte for byte the page of before: the QE parts of the template, script and style are left out.
    page = render_html(small_comparison())
    for trace in ("⚑", "b-check", "qe", "quality estimate"):
        assert trace not in page, trace


def test_html_shows_the_quality_estimates_it_is_given():
    page = render_html(qe_comparison())
    assert '<option value="qe">lowest quality estimate first</option>' in page
    assert '<input id="b-check" type="checkbox"> only segments to check' in page
    data = _script_data(page)
    flores = {system["name"]: system for system in data["testsets"][0]["systems"]}
    assert flores["base"]["qe"] == [0.8123, 0.4999, 0.5] and flores["base"]["check"] == [False, True, False]
    assert flores["big"]["threshold"] == 0.6 and flores["big"]["check"] == [False, False, True]
    # The CSP still allows exactly the one (now longer) script.
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)[1]
    script = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(script) == 1 and "function addQuality" in script[0]
    digest = base64.b64encode(hashlib.sha256(script[0].encode("utf-8")).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy


SOURCES = ["He built a WiFi door bell.", "Prices rose 5% in May.", "The cat sat on the mat.", "It rained all day."]
REFERENCES = ["Ele construiu uma campainha WiFi.", "Os preços subiram 5% em maio.", "O gato sentou-se no tapete.",
              "Choveu o dia todo."]
OUTPUTS = {
    "base": ["Ele construiu uma campainha de WiFi.", "Preços subiram 5% em Maio.", "O gato sentou no tapete.",
             "Choveu o dia inteiro."],
    "other": ["Ele fez uma campainha.", "Os preços subiram 5 % em maio.", "Gato no tapete.", "Choveu o dia todo."],
}


def _compared_job(tmp_path: Path) -> Comparison:
    """``build_comparison`` on a finished two-system job, as ``compare_job`` calls it after ``run_job``."""
    (tmp_path / "src.en").write_text("\n".join(SOURCES) + "\n", encoding="utf-8")
    (tmp_path / "ref.pt").write_text("\n".join(REFERENCES) + "\n", encoding="utf-8")
    (tmp_path / "job.toml").write_text(
        '[[corpora]]\nname = "c"\nsource = "src.en"\nsrc_lang = "en"\nreferences = { "pt" = "ref.pt" }\n'
        '[[systems]]\nname = "base"\nmodel = "m1"\n[[systems]]\nname = "other"\nmodel = "m2"\n',
        encoding="utf-8",
    )
    config = load_config(tmp_path / "job.toml")
    tasks = [
        TaskResult("c", system, "m", "en", "pt", len(SOURCES), hypotheses=hyps) for system, hyps in OUTPUTS.items()
    ]
    job = JobResult(config.name, tmp_path, tmp_path / "scores.json", tasks, corpora=[prepare_corpus(config.corpora[0])])
    return build_comparison(config, job, n=20)


def test_sentence_chrf_is_sacrebleus_sentence_chrf(tmp_path):
    comparison = _compared_job(tmp_path)
    testset = comparison.testsets[0]
    expected = {
        system: [sacrebleu.sentence_chrf(hyp, [ref]).score for hyp, ref in zip(hyps, REFERENCES, strict=True)]
        for system, hyps in OUTPUTS.items()
    }
    assert testset.sentence_chrf.keys() == expected.keys()
    for system, scores in expected.items():
        assert testset.sentence_chrf[system] == pytest.approx(scores, abs=1e-9), system
    assert 0 < min(expected["other"]) < max(expected["other"]) == 100  # neither constant nor trivial
    # The page shows those figures, rounded to two decimals.
    data = _script_data(render_html(comparison))
    shown = {system["name"]: system["chrf"] for system in data["testsets"][0]["systems"]}
    assert shown == {system: [round(score, 2) for score in scores] for system, scores in expected.items()}


# --------------------------------------------------------------------------
# report.html in a real browser
# --------------------------------------------------------------------------

CHROMIUM = find_chromium()


def needs_chromium(test: Callable) -> Callable:
    """A test in a headless Chromium: marked ``browser`` (not in the quick tier), skipped where there is none."""
    skip = pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (Debian/Ubuntu: apt-get install -y chromium)"
    )
    return pytest.mark.browser(skip(test))


def _degrade(lines: list[str], seed: int) -> list[str]:
    out = []
    for n, line in enumerate(lines):
        tokens = line.split()
        if (n + seed) % 3 and len(tokens) > 4:
            del tokens[(n * 7 + seed) % len(tokens)]
            k = (n + seed) % (len(tokens) - 1)
            tokens[k], tokens[k + 1] = tokens[k + 1], tokens[k]
        out.append(" ".join(tokens))
    return out


@pytest.fixture(scope="module")
def real_report(tmp_path_factory) -> Path:
    """A report of three systems scored for real on 120 FLORES lines, with the payloads in it."""
    sources = (FLORES / "eng_Latn.devtest").read_text(encoding="utf-8").splitlines()[:120]
    refs = (FLORES / "por_Latn.devtest").read_text(encoding="utf-8").splitlines()[:120]
    sources[3], sources[4] = TITLE_PAYLOAD, IMG_PAYLOAD
    hyps = {"base": _degrade(refs, 1), "better": refs[:50] + _degrade(refs, 1)[50:],
            "worse": _degrade(_degrade(refs, 2), 3)}
    hyps["worse"][5] = ALERT_PAYLOAD
    flores = TestSetResult(
        "flores", "en", "pt", sources, [refs], hyps, compare_systems(hyps, [refs], "pt", n=200),
        {"base": Speed.measured(translated=120, seconds=8.45, tokens=3401, peak_rss_mb=1210.0),
         "better": Speed.measured(translated=70, from_cache=50, seconds=22.6, tokens=1990, peak_rss_mb=2890.4),
         "worse": Speed.measured(translated=0, from_cache=120, peak_rss_mb=450.0)},
        sentence_chrf={system: score_sentences(lines, [refs], "pt") for system, lines in hyps.items()},
    )
    small = small_comparison().testsets[1]
    news = TestSetResult("news", "en", "de", small.sources, small.references,
                         {"base": small.hypotheses["base"], "better": small.hypotheses["big"]},
                         compare_systems({"base": small.hypotheses["base"], "better": small.hypotheses["big"]},
                                         small.references, "de", n=200),
                         sentence_chrf={"base": score_sentences(small.hypotheses["base"], small.references, "de"),
                                        "better": score_sentences(small.hypotheses["big"], small.references, "de")})
    systems = [SystemInfo("base", "opus-mt"), SystemInfo("better", "nllb"), SystemInfo("worse", "tiny"),
               SystemInfo("ghost", "missing", error="model not found: missing")]
    comparison = Comparison("FLORES " + TITLE_PAYLOAD, "base", systems, [flores, news])
    out = tmp_path_factory.mktemp("report")
    write_reports(comparison, out)
    return out / "report.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian/Ubuntu: apt-get install -y chromium)")
    with Chromium(CHROMIUM, tmp_path_factory.mktemp("profile")) as chromium:
        yield chromium


@needs_chromium
def test_dump_dom_and_screenshot_after_the_script_ran(real_report, tmp_path):
    """The plain command-line way: --dump-dom and --screenshot."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND"]
    dom = subprocess.run([*command, "--dump-dom", real_report.as_uri()], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert 'data-ready="true"' in dom  # the script ran to its end
    assert dom.count('<table class="scores sortable">') == 4
    assert dom.count('<svg class="metric-chart"') == 4
    assert dom.count('<svg class="speed-chart"') == 1 and "—, all from cache" in dom
    assert len(re.findall(r'<tr data-index="\d+">', dom)) == 100  # the first page of the sentence browser
    assert "Showing 100 of 120 segments." in dom
    shot = tmp_path / "report.png"
    subprocess.run([*command, f"--screenshot={shot}", "--window-size=1400,2000", real_report.as_uri()],
                   capture_output=True, timeout=60, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


@needs_chromium
def test_the_page_fetches_nothing_and_runs_no_injected_script(real_report, browser, tmp_path):
    # First without the page's Content-Security-Policy: the escaping alone must hold, and the page alone
    # must ask for nothing. Then with it: it must let our own script run and report no violation.
    for bypass_csp in (True, False):
        browser.open(real_report, bypass_csp=bypass_csp)
        assert browser.evaluate("document.body.dataset.ready") == "true"
        assert browser.requests == [real_report.as_uri()]
        assert browser.dialogs == []
        assert browser.exceptions == []
        assert browser.console == []
        assert browser.evaluate("document.title") == "Comparison: FLORES " + TITLE_PAYLOAD
        assert browser.evaluate("document.scripts.length") == 2
        assert browser.evaluate("document.querySelectorAll('img').length") == 0
        browser.evaluate("document.getElementById('b-more').click()")  # all 120 rows
        assert browser.evaluate("document.querySelectorAll('#b-table tbody tr').length") == 120
        shown = browser.evaluate("[...document.querySelectorAll('#b-table .line .text')].map(e => e.textContent)")
        assert {TITLE_PAYLOAD, IMG_PAYLOAD, ALERT_PAYLOAD} <= set(shown)
    browser.screenshot(tmp_path / "charts.png", selector="#charts")
    browser.screenshot(tmp_path / "speed.png", selector="#speed")
    browser.screenshot(tmp_path / "sentences.png", selector="#browser")


@needs_chromium
def test_the_network_check_sees_a_page_that_fetches(browser, tmp_path):
    """The control: the same checks catch a page that fetches and alerts."""
    page = tmp_path / "control.html"
    page.write_text('<img src="http://example.com/a.png"><script>alert("hi"); fetch("https://cdn.example.org/x.js")'
                    "</script>", encoding="utf-8")
    browser.open(page)
    assert browser.requests[1:] == ["http://example.com/a.png", "https://cdn.example.org/x.js"]
    assert browser.dialogs == ["hi"]


@needs_chromium
def test_the_sentence_browser_sorts_filters_and_diffs(real_report, browser):
    browser.open(real_report)
    rows = "[...document.querySelectorAll('#b-table tbody tr')]"
    column = f"(n) => {rows}.map(r => parseFloat(r.cells[n].textContent))"

    # Worst first by default: mean chrF ascending; A is the baseline, B the next system.
    means = browser.evaluate(f"({column})(1)")
    assert len(means) == 100 and means == sorted(means)
    assert browser.evaluate("[document.getElementById('b-a').selectedOptions[0].text,"
                            " document.getElementById('b-b').selectedOptions[0].text]") == ["base", "better"]
    assert browser.evaluate("document.querySelectorAll('#b-table del').length") > 0
    assert browser.evaluate("document.querySelectorAll('#b-table ins').length") > 0
    # A deletion is a word of A's output that B's lacks: the word's text is in A's line.
    assert browser.evaluate(
        "[...document.querySelectorAll('#b-table .line.a del')].every(d => d.closest('.line').classList.contains('a'))"
    )

    # Click the "#" header: segment order.
    browser.evaluate("document.querySelector('#b-table th[data-key=index]').click()")
    assert browser.evaluate(f"({column})(0)")[:5] == [1, 2, 3, 4, 5]
    browser.evaluate("document.querySelector('#b-table th[data-key=index]').click()")
    assert browser.evaluate(f"({column})(0)")[:2] == [120, 119]

    # Filter: every row shown contains the word somewhere.
    browser.evaluate("{ const f = document.getElementById('b-filter'); f.value = 'Rome';"
                     " f.dispatchEvent(new Event('input')) }")
    texts = browser.evaluate(f"{rows}.map(r => r.textContent)")
    assert 0 < len(texts) < 100 and all("rome" in t.lower() for t in texts)
    assert browser.evaluate("document.getElementById('b-status').textContent").endswith("(120 before filtering).")

    # Choose B = worse, only rows where A and B differ.
    browser.evaluate("{ const f = document.getElementById('b-filter'); f.value = '';"
                     " f.dispatchEvent(new Event('input'));"
                     " const b = document.getElementById('b-b'); b.value = '2'; b.dispatchEvent(new Event('change'));"
                     " const d = document.getElementById('b-differ'); d.checked = true;"
                     " d.dispatchEvent(new Event('change')) }")
    assert browser.evaluate("document.querySelector('#b-table .line.b .who').textContent") == "B: worse"
    assert browser.evaluate(f"{rows}.every(r => r.querySelector('.line.a .text').textContent !="
                            " r.querySelector('.line.b .text').textContent)")

    # Another test set: its systems; the failed ones listed.
    browser.evaluate("{ const t = document.getElementById('b-testset'); t.value = '1';"
                     " t.dispatchEvent(new Event('change')) }")
    assert browser.evaluate(f"{rows}.length") == 1  # still only where A and B differ
    browser.evaluate("document.getElementById('b-differ').click()")
    assert browser.evaluate(f"{rows}.length") == 2
    notes = browser.evaluate("[...document.querySelectorAll('#b-notes li')].map(e => e.textContent)")
    assert notes == ["worse: no output", "ghost: ✗ failed: model not found: missing"]


@needs_chromium
def test_score_tables_sort_by_a_column(real_report, browser):
    browser.open(real_report)
    first_table = "document.querySelector('table.scores')"
    browser.evaluate(f"{first_table}.tHead.rows[0].cells[1].click()")  # flores, ascending
    order = browser.evaluate(f"[...{first_table}.tBodies[0].rows].map(r => r.cells[0].dataset.value)")
    assert order == ["worse", "base", "better", "ghost"]  # no score last
    browser.evaluate(f"{first_table}.tHead.rows[0].cells[1].click()")
    order = browser.evaluate(f"[...{first_table}.tBodies[0].rows].map(r => r.cells[0].dataset.value)")
    assert order == ["better", "base", "worse", "ghost"]


QE_SOURCES = [f"Sentence number {n}." for n in range(6)]
QE_REFERENCES = [f"Frase número {n}." for n in range(6)]
QE_ESTIMATES = {  # base below 0.5 on 1 and 4; other below 0.4 on 4 and 5, no estimate for 2
    "base": [0.9, 0.45, 0.7, 0.61, 0.2, 0.55],
    "other": [0.8, 0.6, None, 0.95, 0.35, 0.3],
}


@pytest.fixture(scope="module")
def qe_report(tmp_path_factory) -> Path:
    """A report where base (threshold 0.5) and other (0.4) have quality estimates and plain has none."""
    hyps = {"base": [f"Frase {n}." for n in range(6)], "other": QE_REFERENCES[:3] + ["Outra."] * 3,
            "plain": list(QE_REFERENCES)}
    testset = TestSetResult(
        "qe", "en", "pt", QE_SOURCES, [QE_REFERENCES], hyps, compare_systems(hyps, [QE_REFERENCES], "pt", n=50),
        sentence_chrf={system: score_sentences(lines, [QE_REFERENCES], "pt") for system, lines in hyps.items()},
        quality=dict(QE_ESTIMATES),
    )
    systems = [SystemInfo("base", "m1", qe_threshold=0.5), SystemInfo("other", "m2", qe_threshold=0.4),
               SystemInfo("plain", "m3")]
    out = tmp_path_factory.mktemp("qe-report")
    write_reports(Comparison("qe", "base", systems, [testset]), out)
    return out / "report.html"


@needs_chromium
def test_the_sentence_browser_sorts_by_quality_estimates_and_flags_the_segments_to_check(qe_report, browser, tmp_path):
    browser.open(qe_report)
    assert browser.evaluate("document.body.dataset.ready") == "true"
    assert browser.exceptions == [] and browser.console == []
    order = "[...document.querySelectorAll('#b-table tbody tr')].map(r => Number(r.dataset.index))"

    # A QE column for each system with estimates, before the segment column; plain has none.
    headers = browser.evaluate("[...document.querySelectorAll('#b-table thead th')].map(th => th.textContent)")
    assert headers[-3:] == ["QE base", "QE other", "segment"]

    # "lowest quality estimate first": by the lowest estimate of the segment's systems.
    browser.evaluate("{ const s = document.getElementById('b-sort'); s.value = 'qe';"
                     " s.dispatchEvent(new Event('change')) }")
    lowest = [min(v for v in values if v is not None) for values in zip(*QE_ESTIMATES.values(), strict=True)]
    assert browser.evaluate(order) == sorted(range(6), key=lambda n: lowest[n])
    assert browser.evaluate("document.getElementById('b-order').textContent") == "ascending"

    # Click other's QE column: its estimates ascending, the segment without one last; again: descending.
    browser.evaluate("document.querySelector('#b-table th[data-key=qe1]').click()")
    assert browser.evaluate(order) == [5, 4, 1, 0, 3, 2]
    assert browser.evaluate("document.getElementById('b-sort').value") == "qe1"
    cells = browser.evaluate("[...document.querySelectorAll('#b-table tbody tr')].map(r => r.cells[6].textContent)")
    assert cells == ["⚑ 0.30", "⚑ 0.35", "0.60", "0.80", "0.95", "—"]
    browser.evaluate("document.querySelector('#b-table th[data-key=qe1]').click()")
    assert browser.evaluate(order) == [3, 0, 1, 4, 5, 2]

    # The flags: a row to check for each segment below a system's threshold, ⚑ in that system's cell and line.
    flagged = browser.evaluate("[...document.querySelectorAll('#b-table tr.check')].map(r => Number(r.dataset.index))")
    assert sorted(flagged) == [1, 4, 5]
    assert browser.evaluate("document.querySelectorAll('#b-table td.qe.check').length") == 4  # base 1, 4; other 4, 5
    assert browser.evaluate("[...document.querySelectorAll('#b-table td.qe.check')].every(c => "
                            "c.textContent.startsWith('⚑'))")
    assert browser.evaluate("document.querySelectorAll('#b-table .line.check .qe.flag').length") == 4

    # Only the segments to check.
    browser.evaluate("document.getElementById('b-check').click()")
    assert sorted(browser.evaluate(order)) == [1, 4, 5]
    assert browser.evaluate("document.getElementById('b-status').textContent") == (
        "Showing 3 of 3 segments (6 before filtering).")
    browser.evaluate("document.getElementById('b-check').click()")
    assert len(browser.evaluate(order)) == 6
    assert browser.exceptions == [] and browser.console == []
    browser.screenshot(tmp_path / "qe.png", selector="#browser")
