"""Tests for pipeline.report: golden report.md / report.json, and report.html in a real headless Chromium.

Golden files: ``tests/golden/report.md`` and ``tests/golden/report.json`` are compared
byte for byte with the reports of :func:`small_comparison`. After an intended change
of the output, regenerate them, then read the diff before committing it:

    MTPIPE_UPDATE_GOLDEN=1 pytest tests/test_report.py

The browser tests need Chromium (Debian/Ubuntu: ``apt-get install -y chromium``) and
are skipped, saying so, without it. They leave their screenshots in the test's tmp
folder (pytest prints its path with ``-v --basetemp=DIR``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import markupsafe
import pytest

from pipeline.errors import ConfigError
from pipeline.report import SCHEMA_VERSION, build_json, render_html, render_markdown, write_reports
from pipeline.results import Comparison, Speed, SystemInfo, TestSetResult
from pipeline.significance import SystemStat, compare_systems
from tests.helpers.headless import Chromium, find_chromium

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("MTPIPE_UPDATE_GOLDEN") == "1"
FLORES = Path(__file__).resolve().parent.parent / "corpora" / "flores200-devtest"

TITLE_PAYLOAD = "<script>document.title='pwned'</script>"
ALERT_PAYLOAD = "<script>alert(1)</script>"
IMG_PAYLOAD = "<img src=x onerror=\"document.title='pwned';alert(2)\">"

SIGNATURES = {
    "bleu": "nrefs:1|bs:1000|seed:12345|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    "chrf": "nrefs:1|bs:1000|seed:12345|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
    "chrf++": "nrefs:1|bs:1000|seed:12345|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0",
    "ter": "nrefs:1|bs:1000|seed:12345|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0",
}


def _stat(metric: str, score: float, ci: float, p: float | None = None, delta: float | None = None) -> SystemStat:
    return SystemStat(score, round(score + 0.05, 4), ci, p, p is not None and p <= 0.05 and delta != 0,
                      SIGNATURES[metric], delta)


def _stats(values: dict[str, tuple]) -> dict[str, SystemStat]:
    return {metric: _stat(metric, *args) for metric, args in values.items()}


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
            "base": _stats({"bleu": (45.97, 1.2), "chrf": (68.41, 0.9), "chrf++": (66.02, 0.95), "ter": (41.3, 1.5)}),
            "big": _stats({"bleu": (48.12, 1.15, 0.001, 2.15), "chrf": (69.0, 0.88, 0.08, 0.59),
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
            "base": _stats({"bleu": (30.5, 1.8), "chrf": (58.2, 1.1), "chrf++": (55.7, 1.1), "ter": (55.0, 2.0)}),
            "big": _stats({"bleu": (31.0, 1.75, 0.3, 0.5), "chrf": (58.9, 1.05, 0.2, 0.7),
                           "chrf++": (56.1, 1.08, 0.25, 0.4), "ter": (54.1, 1.9, 0.12, -0.9)}),
            "tiny": _stats({"bleu": (22.4, 1.6, 0.001, -8.1), "chrf": (51.3, 1.2, 0.001, -6.9),
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


# --------------------------------------------------------------------------
# Golden files
# --------------------------------------------------------------------------


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.read_bytes() == text.encode("utf-8"), (
        f"{path} differs from the output; if the change is intended: MTPIPE_UPDATE_GOLDEN=1 pytest {__file__}"
    )


def test_markdown_matches_the_golden_file():
    _check_golden("report.md", render_markdown(small_comparison()))


def test_json_matches_the_golden_file(tmp_path):
    paths = write_reports(small_comparison(), tmp_path)
    _check_golden("report.json", paths[0].read_text(encoding="utf-8"))


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
    assert flores["results"]["tiny"] == {"error": "stopped at segment 2 of 3: out of memory", "scores": {}, "speed": None}
    assert news["results"]["ghost"]["error"].startswith("model not found")
    assert broken["error"].startswith("line counts differ")
    assert all(result["error"].startswith("test set 'broken' cannot be used") for result in broken["results"].values())
    assert flores["results"]["big"]["scores"]["bleu"]["ci_low"] == 47.02 and news["results"]["big"]["speed"]["peak_rss_mb"] is None


def test_json_writes_non_finite_numbers_as_null():
    comparison = small_comparison()
    comparison.testsets[1].speed["base"] = Speed(2, 0, 0, 0.0, float("inf"), float("nan"), 1.0)
    report = build_json(comparison)
    assert report["testsets"][1]["results"]["base"]["speed"] == {
        "segments_translated": 2, "segments_from_cache": 0, "segments_resumed": 0, "translation_seconds": 0.0,
        "segments_per_s": None, "tokens_per_s": None, "peak_rss_mb": 1.0,
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
        "segments_per_s": None, "tokens_per_s": None, "peak_rss_mb": 300.0,
    }
    assert results["big"]["speed"]["segments_resumed"] == 2 and results["big"]["speed"]["segments_per_s"] is None


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
            "| translated | from cache | resumed | peak memory (MiB) |") in speed
    assert "| base | news (en→de) | —, all from cache | — | 0 | 2 | 0 | 300 |" in speed
    assert "| big | news (en→de) | —, all resumed | — | 0 | 0 | 2 | — |" in speed
    assert "| base | flores (en→pt) | 14.2 | 402.5 | 3 | 0 | 0 | 1210 |" in speed


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
        pytest.param({"baseline": "nope"}, r"baseline 'nope' is not one of the systems \(systems: a, b\)", id="baseline"),
        pytest.param({"systems": [SystemInfo("a", "m"), SystemInfo("a", "n")]}, r"system names must be unique, got 'a'", id="duplicate"),
        pytest.param({"metrics": ("bleu", "comet")}, r"unknown metric 'comet' \(known: bleu, chrf, chrf\+\+, ter\)", id="metric"),
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


def test_a_rendering_error_writes_nothing(tmp_path, monkeypatch):
    from pipeline import report

    def fail(comparison):
        raise RuntimeError("boom")

    monkeypatch.setattr(report, "render_html", fail)
    with pytest.raises(RuntimeError):
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
            '<td data-value="300">300</td></tr>') in section
    assert '<td data-value="">—, all resumed</td>' in section
    # The chart: a bar for each figure, scaled to the fastest; none, but the reason, for the others.
    bars = re.findall(r'<rect x="300" y="[\d.]+" width="([\d.]+)"', section)
    assert sorted(map(float, bars)) == [round(360 * rate / 40.5, 1) for rate in (3.1, 14.2, 40.5)]
    assert '<text class="speed-none" x="306" y="67">—, all from cache</text>' in section
    assert '<text class="speed-value" x="666.0" y="111">40.5 (1 of 2 translated)</text>' in section
    assert "<title>big on news (en→de): no segments/s (all resumed); 0 translated, 0 from cache, 2 resumed</title>" in section


def test_html_sentence_scores_are_sentence_chrf():
    from pipeline.evaluate import score_sentences

    comparison = small_comparison()
    news = comparison.testsets[1]
    data = _script_data(render_html(comparison))
    tiny = next(s for s in data["testsets"][1]["systems"] if s["name"] == "tiny")
    assert tiny["chrf"] == [round(x, 2) for x in score_sentences(news.hypotheses["tiny"], news.references, "de")]


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
    hyps = {"base": _degrade(refs, 1), "better": refs[:50] + _degrade(refs, 1)[50:], "worse": _degrade(_degrade(refs, 2), 3)}
    hyps["worse"][5] = ALERT_PAYLOAD
    flores = TestSetResult(
        "flores", "en", "pt", sources, [refs], hyps, compare_systems(hyps, [refs], "pt", n=200),
        {"base": Speed.measured(translated=120, seconds=8.45, tokens=3401, peak_rss_mb=1210.0),
         "better": Speed.measured(translated=70, from_cache=50, seconds=22.6, tokens=1990, peak_rss_mb=2890.4),
         "worse": Speed.measured(translated=0, from_cache=120, peak_rss_mb=450.0)},
    )
    small = small_comparison().testsets[1]
    news = TestSetResult("news", "en", "de", small.sources, small.references,
                         {"base": small.hypotheses["base"], "better": small.hypotheses["big"]},
                         compare_systems({"base": small.hypotheses["base"], "better": small.hypotheses["big"]},
                                         small.references, "de", n=200))
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
    browser.evaluate("{ const f = document.getElementById('b-filter'); f.value = ''; f.dispatchEvent(new Event('input'));"
                     " const b = document.getElementById('b-b'); b.value = '2'; b.dispatchEvent(new Event('change'));"
                     " const d = document.getElementById('b-differ'); d.checked = true; d.dispatchEvent(new Event('change')) }")
    assert browser.evaluate("document.querySelector('#b-table .line.b .who').textContent") == "B: worse"
    assert browser.evaluate(f"{rows}.every(r => r.querySelector('.line.a .text').textContent !="
                            " r.querySelector('.line.b .text').textContent)")

    # Another test set: its systems; the failed ones listed.
    browser.evaluate("{ const t = document.getElementById('b-testset'); t.value = '1'; t.dispatchEvent(new Event('change')) }")
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
