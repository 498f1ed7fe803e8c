"""Tests for pipeline.significance, with the ``sacrebleu`` command line as the oracle.

The oracle runs ``sacrebleu REF -i BASE SYS... --paired-bs|--paired-ar`` with
``SACREBLEU_SEED`` and reads its text table (``-f json`` crashes on paired tests
in sacrebleu 2.6: "Object of type float32 is not JSON serializable"). The table
prints scores with ``-w 6`` decimals and p-values with 4; a p-value is
(c + 1) / (n + 1), so 4 decimals pin it exactly for the n used here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import ConfigError, InputError
from pipeline.significance import SystemStat, compare_systems

ROOT = Path(__file__).resolve().parent.parent
FLORES = ROOT / "corpora" / "flores200-devtest"
DATA = Path(__file__).parent / "data"

SEED = 2024
CLI_NAMES = {"BLEU": "bleu", "chrF2": "chrf", "chrF2++": "chrf++", "TER": "ter"}


def _lines(path: Path, count: int | None = None) -> list[str]:
    lines = [line.rstrip() for line in path.read_text(encoding="utf-8").split("\n")[:count]]
    return lines[:-1] if lines and not lines[-1] else lines


def _degrade(lines: list[str], seed: int, unspaced: bool = False) -> list[str]:
    """A deterministic 'system output': on most lines, drop one token and swap two others."""
    out = []
    for n, line in enumerate(lines):
        tokens = list(line) if unspaced else line.split()
        if (n + seed) % 5 and len(tokens) > 4:
            del tokens[(n * 7 + seed) % len(tokens)]
            k = (n * 3 + seed) % (len(tokens) - 1)
            tokens[k], tokens[k + 1] = tokens[k + 1], tokens[k]
        out.append(("" if unspaced else " ").join(tokens))
    return out


REF = _lines(FLORES / "por_Latn.devtest", 120)
BASE = _degrade(REF, 1)
SYSTEMS = {
    "base": BASE,
    "better": REF[:50] + BASE[50:],  # 50 lines perfect: significantly better
    "close": _degrade(REF, 2),  # as damaged as the baseline, differently
    "worse": _degrade(_degrade(REF, 3), 4),  # damaged twice: significantly worse
}


def _write(tmp_path: Path, systems: dict[str, list[str]], refs: list[list[str]]) -> tuple[list[str], list[str]]:
    ref_files = []
    for i, stream in enumerate(refs):
        ref_files.append(str(tmp_path / f"ref{i}.txt"))
        Path(ref_files[-1]).write_text("\n".join(stream) + "\n", encoding="utf-8")
    sys_files = []
    for name, lines in systems.items():
        sys_files.append(str(tmp_path / name))
        Path(sys_files[-1]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ref_files, sys_files


def _sacrebleu(tmp_path: Path, systems: dict[str, list[str]], refs: list[list[str]], *args: str) -> str:
    ref_files, sys_files = _write(tmp_path, systems, refs)
    command = [sys.executable, "-m", "sacrebleu", *ref_files, "-i", *sys_files, *args,
               "-f", "text", "-w", "6", "--no-color"]
    env = {**os.environ, "SACREBLEU_SEED": str(SEED)}
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=tmp_path).stdout


def _parse_table(text: str) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, str]]:
    """The CLI's paired-test table -> ({system: {metric: {score, mean?, ci?, p?}}}, {metric: signature})."""
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]
    header = [CLI_NAMES[cell.split(" (")[0]] for cell in rows[0][1:]]
    table: dict[str, dict[str, dict[str, float]]] = {}
    system = ""
    for row in rows[1:]:
        if row[0]:
            system = os.path.basename(row[0].removeprefix("Baseline: "))
            table[system] = {}
            for metric, cell in zip(header, row[1:], strict=True):
                match = re.fullmatch(r"([\d.]+)(?: \(([\d.]+) ± ([\d.]+)\))?", cell)
                table[system][metric] = {"score": float(match[1])}
                if match[2]:
                    table[system][metric].update(mean=float(match[2]), ci=float(match[3]))
        else:
            for metric, cell in zip(header, row[1:], strict=True):
                table[system][metric]["p"] = float(re.fullmatch(r"\(p = ([\d.]+)\)\*?", cell)[1])
    signatures = {
        CLI_NAMES[m[1]]: m[2] for m in re.finditer(r"^ - (\S+)\s+(nrefs:\S+)$", text, re.MULTILINE)
    }
    return table, signatures


def _assert_matches(ours: dict[str, dict[str, SystemStat]], cli: dict[str, dict[str, dict[str, float]]],
                    *, with_ci: bool = True) -> None:
    assert list(ours) == list(cli)
    for system, metrics in cli.items():
        for metric, expected in metrics.items():
            stat = ours[system][metric]
            assert stat.score == pytest.approx(expected["score"], abs=6e-7), (system, metric)
            if with_ci:
                assert stat.mean == pytest.approx(expected["mean"], abs=6e-7), (system, metric)
                assert stat.ci == pytest.approx(expected["ci"], abs=6e-7), (system, metric)
            if "p" in expected:
                assert stat.p_value == pytest.approx(expected["p"], abs=5e-5), (system, metric)
            else:
                assert stat.p_value is None, (system, metric)


# --------------------------------------------------------------------------
# Against the command line
# --------------------------------------------------------------------------


def test_paired_bootstrap_matches_the_command_line(tmp_path):
    ours = compare_systems(SYSTEMS, [REF], "pt", metrics=["bleu", "chrf", "ter"], method="bs", n=300, seed=SEED)
    text = _sacrebleu(tmp_path, SYSTEMS, [REF], "-m", "bleu", "chrf", "ter", "--paired-bs", "--paired-bs-n", "300")
    cli, signatures = _parse_table(text)
    _assert_matches(ours, cli)
    for metric, signature in signatures.items():
        assert {stat[metric].signature for stat in ours.values()} == {signature}
    assert "bs:300|seed:2024" in signatures["bleu"]
    # The data are what the test needs: a clear win, a clear loss, and a draw.
    assert ours["better"]["bleu"].outcome("bleu") == "better"
    assert ours["worse"]["bleu"].outcome("bleu") == "worse"
    assert ours["close"]["chrf"].outcome("chrf") == "not significant"


def test_chrf_plus_plus_matches_the_command_line(tmp_path):
    systems = {name: SYSTEMS[name] for name in ("base", "close", "worse")}
    ours = compare_systems(systems, [REF], "pt", metrics=["chrf++"], n=300, seed=SEED)
    text = _sacrebleu(
        tmp_path, systems, [REF], "-m", "chrf", "--chrf-word-order", "2", "--paired-bs", "--paired-bs-n", "300"
    )
    cli, signatures = _parse_table(text)
    _assert_matches(ours, cli)
    assert ours["base"]["chrf++"].signature == signatures["chrf++"]


def test_approximate_randomization_matches_the_command_line(tmp_path):
    systems = {name: SYSTEMS[name] for name in ("base", "better", "close")}
    ours = compare_systems(systems, [REF], "pt", metrics=["bleu", "chrf"], method="ar", n=500, ci_n=300, seed=SEED)
    text = _sacrebleu(tmp_path, systems, [REF], "-m", "bleu", "chrf", "--paired-ar", "--paired-ar-n", "500")
    cli, _ = _parse_table(text)
    _assert_matches(ours, cli, with_ci=False)  # the command line reports no interval with --paired-ar
    assert "bs:300|ar:500|seed:2024" in ours["close"]["bleu"].signature

    # The baseline's interval is sacrebleu's single-system --confidence, up to float32 noise: PairedTest
    # averages chrF's float32 resampled scores with numpy, --confidence with statistics.mean.
    single = _sacrebleu(tmp_path / "..", {"base": SYSTEMS["base"]}, [REF], "-m", "bleu", "chrf",
                        "--confidence", "--confidence-n", "300")
    for metric, label in (("bleu", "BLEU"), ("chrf", "chrF2")):
        match = re.search(rf"^\s*{re.escape(label)}\|.*? = ([\d.]+) \(μ = ([\d.]+) ± ([\d.]+)\)", single, re.MULTILINE)
        stat = ours["base"][metric]
        assert (stat.score, stat.mean, stat.ci) == pytest.approx(tuple(map(float, match.groups())), abs=2e-5)


def test_unpaired_intervals_match_the_command_lines_confidence(tmp_path):
    ours = compare_systems(SYSTEMS, [REF], "pt", metrics=["bleu"], n=300, seed=SEED, paired=False)
    text = _sacrebleu(
        tmp_path, {"worse": SYSTEMS["worse"]}, [REF], "-m", "bleu", "--confidence", "--confidence-n", "300"
    )
    match = re.search(r"^\s*BLEU\|(\S+) = ([\d.]+) .*?\(μ = ([\d.]+) ± ([\d.]+)\)", text, re.MULTILINE)
    stat = ours["worse"]["bleu"]
    assert (stat.score, stat.mean, stat.ci) == pytest.approx(tuple(map(float, match.groups()[1:])), abs=6e-7)
    assert stat.signature == match[1]
    assert all(s["bleu"].p_value is None and s["bleu"].outcome("bleu") is None for s in ours.values())


def test_chinese_uses_the_chinese_tokenizer_and_asian_ter(tmp_path):
    ref = _lines(DATA / "flores.devtest.zho_Hans.60.txt")
    systems = {"base": _degrade(ref, 1, unspaced=True), "other": _degrade(ref, 2, unspaced=True)}
    ours = compare_systems(systems, [ref], "zh-Hans", metrics=["bleu", "ter"], n=200, seed=SEED)
    text = _sacrebleu(tmp_path, systems, [ref], "-m", "bleu", "ter", "-tok", "zh", "--ter-normalized",
                      "--ter-asian-support", "--paired-bs", "--paired-bs-n", "200")
    cli, signatures = _parse_table(text)
    _assert_matches(ours, cli)
    assert "tok:zh" in ours["base"]["bleu"].signature
    assert ours["base"]["ter"].signature == signatures["ter"] and "asian:yes" in signatures["ter"]


def test_two_references(tmp_path):
    refs = [REF[:80], SYSTEMS["close"][:80]]
    systems = {name: lines[:80] for name, lines in SYSTEMS.items() if name in ("base", "worse")}
    ours = compare_systems(systems, refs, "pt", metrics=["bleu"], n=200, seed=SEED)
    cli, _ = _parse_table(_sacrebleu(tmp_path, systems, refs, "-m", "bleu", "--paired-bs", "--paired-bs-n", "200"))
    _assert_matches(ours, cli)
    assert ours["base"]["bleu"].signature.startswith("nrefs:2|")


# --------------------------------------------------------------------------
# Semantics
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> dict[str, dict[str, SystemStat]]:
    systems = {name: lines[:60] for name, lines in SYSTEMS.items()}
    systems["twin"] = list(systems["base"])
    return compare_systems(systems, [REF[:60]], "pt", n=200, seed=SEED)


def test_the_baseline_has_an_interval_and_no_test(small):
    for metric, stat in small["base"].items():
        assert stat.p_value is None and stat.delta is None and not stat.significant
        assert stat.outcome(metric) is None
        assert stat.ci_low < stat.mean < stat.ci_high
        assert stat.ci_low == pytest.approx(stat.mean - stat.ci) and stat.ci_high == pytest.approx(stat.mean + stat.ci)


def test_ter_is_better_when_lower(small):
    assert small["worse"]["ter"].delta > 0 and small["worse"]["ter"].outcome("ter") == "worse"
    assert small["better"]["ter"].delta < 0 and small["better"]["ter"].outcome("ter") == "better"
    assert small["worse"]["bleu"].delta < 0 and small["worse"]["bleu"].outcome("bleu") == "worse"


def test_a_system_identical_to_the_baseline_is_never_significant(small):
    # sacrebleu gives it p = 1/(n+1) on purpose; a tie is no win or loss.
    for metric, stat in small["twin"].items():
        assert stat.delta == 0 and stat.p_value == pytest.approx(1 / 201)
        assert not stat.significant and stat.outcome(metric) == "not significant"


def test_results_keep_the_order_of_systems_and_metrics(small):
    assert list(small) == ["base", "better", "close", "worse", "twin"]
    assert list(small["worse"]) == ["bleu", "chrf", "chrf++", "ter"]


def test_a_metric_named_twice_is_computed_once():
    stats = compare_systems({"a": ["x y z"], "b": ["x y"]}, [["x y z"]], "pt", metrics=["ter", "chrf", "ter"], n=10)
    assert list(stats["b"]) == ["ter", "chrf"]
    assert stats["b"]["ter"].signature.startswith("nrefs:1|bs:10|seed:12345|case:lc|tok:tercom")


def test_the_seed_decides_the_resamples_and_the_environment_is_restored(monkeypatch):
    systems = {name: SYSTEMS[name][:40] for name in ("base", "close")}
    monkeypatch.setenv("SACREBLEU_SEED", "99")
    first = compare_systems(systems, [REF[:40]], "pt", metrics=["chrf"], n=100, seed=5)
    assert os.environ["SACREBLEU_SEED"] == "99"
    monkeypatch.delenv("SACREBLEU_SEED")
    again = compare_systems(systems, [REF[:40]], "pt", metrics=["chrf"], n=100, seed=5)
    other = compare_systems(systems, [REF[:40]], "pt", metrics=["chrf"], n=100, seed=6)
    assert "SACREBLEU_SEED" not in os.environ
    assert first == again
    assert first["close"]["chrf"].score == other["close"]["chrf"].score
    assert first["close"]["chrf"].mean != other["close"]["chrf"].mean
    assert "seed:5" in first["base"]["chrf"].signature and "seed:6" in other["base"]["chrf"].signature


@pytest.mark.parametrize("method", ["bs", "ar"])
def test_seed_0_is_a_seed_like_any_other(method):
    # sacrebleu's PairedTest runs its paired tests unseeded when SACREBLEU_SEED is 0 (`seed if seed else None`).
    systems = {name: SYSTEMS[name][:40] for name in ("base", "close")}
    first = compare_systems(systems, [REF[:40]], "pt", metrics=["chrf"], method=method, n=200, seed=0)
    again = compare_systems(systems, [REF[:40]], "pt", metrics=["chrf"], method=method, n=200, seed=0)
    assert first == again
    assert "seed:0" in first["close"]["chrf"].signature
    assert first["close"]["chrf"].p_value is not None


@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(alphabet="abc de", min_size=1, max_size=20), min_size=2, max_size=8), st.integers(1, 10**6))
def test_intervals_hold_their_mean_and_p_values_are_probabilities(lines, seed):
    systems = {"base": lines, "other": lines[::-1]}
    stats = compare_systems(systems, [lines], "en", metrics=["chrf", "ter"], n=20, seed=seed)
    for system in stats.values():
        for stat in system.values():
            assert stat.ci_low <= stat.mean + 1e-9 <= stat.ci_high + 2e-9
    for stat in stats["other"].values():
        assert 0 < stat.p_value <= 1


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        pytest.param(
            {"method": "bootstrap"}, ConfigError, r"unknown significance method 'bootstrap' \(known: bs, ar\)",
            id="method",
        ),
        pytest.param({"n": 0}, ConfigError, r"n must be a positive number of resamples, got 0", id="n"),
        pytest.param({"ci_n": -1}, ConfigError, r"ci_n must be a positive number of resamples, got -1", id="ci_n"),
        pytest.param({"seed": -1}, ConfigError, r"seed must be a whole number of at least 0, got -1", id="seed"),
        pytest.param({"alpha": 5}, ConfigError, r"alpha must be between 0 and 1, got 5", id="alpha"),
        pytest.param(
            {"metrics": ["bleu", "meteor"]}, ConfigError,
            r"unknown metric 'meteor' \(known: bleu, chrf, chrf\+\+, ter, comet\)", id="metric",
        ),
        pytest.param({"tokenize": "moses"}, ConfigError, r"unknown BLEU tokenizer 'moses'", id="tokenizer"),
        pytest.param(
            {"metrics": []}, ConfigError, r"no metrics to compute \(known: bleu, chrf, chrf\+\+, ter, comet\)",
            id="no-metrics",
        ),
    ],
)
def test_bad_settings_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        compare_systems({"a": ["x y"], "b": ["x z"]}, [["x y"]], "pt", **kwargs)


def test_a_misaligned_system_is_named():
    with pytest.raises(InputError, match=r"line counts differ: system 'b' has 1 line, reference 1 has 2 lines"):
        compare_systems({"a": ["x", "y"], "b": ["x"]}, [["x", "y"]], "pt")


def test_no_systems():
    with pytest.raises(InputError, match="no systems to compare"):
        compare_systems({}, [["x"]], "pt")


def test_references_must_be_streams():
    with pytest.raises(InputError, match="references must be a list of streams"):
        compare_systems({"a": ["x"]}, ["x"], "pt")
