"""Tests for pipeline.evaluate and pipeline.metrics, with the sacrebleu command line as the oracle."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import metrics
from pipeline.errors import ConfigError, InputError, LanguageError
from pipeline.evaluate import score_corpus, score_sentences
from pipeline.metrics import METRIC_NAMES, METRICS, bleu_tokenizer, metric_for

DATA = Path(__file__).parent / "data"
CORPORA = Path(__file__).parent.parent / "corpora"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _perturb(lines: list[str], seed: int, unspaced: bool = False) -> list[str]:
    """A deterministic 'system output': drop, swap and repeat tokens, differently per line."""
    out = []
    for n, line in enumerate(lines):
        tokens = list(line) if unspaced else line.split()
        for step in range(1 + (n + seed) % 4):
            if len(tokens) < 4:
                break
            k = (n * 7 + seed + step * 13) % len(tokens)
            operation = (n + step + seed) % 3
            if operation == 0:
                del tokens[k]
            elif operation == 1:
                j = (k + 1) % len(tokens)
                tokens[k], tokens[j] = tokens[j], tokens[k]
            else:
                tokens.insert(k, tokens[k - 1])
        out.append(("" if unspaced else " ").join(tokens))
    return out


POR = _lines(DATA / "flores.devtest.por_Latn.60.txt")
ZHO = _lines(DATA / "flores.devtest.zho_Hans.60.txt")
POR_HYP = _perturb(POR, 1)
ZHO_HYP = _perturb(ZHO, 1, unspaced=True)


def _cli(tmp_path: Path, hyps: list[str], refs: list[list[str]], *args: str) -> list[dict[str, str]]:
    """Run ``sacrebleu REF... -i HYP ARGS --format json -w 4`` and return its JSON."""
    hyp_file = tmp_path / "hyp.txt"
    hyp_file.write_text("\n".join(hyps) + "\n", encoding="utf-8")
    ref_files = []
    for i, stream in enumerate(refs):
        ref_files.append(tmp_path / f"ref{i}.txt")
        ref_files[-1].write_text("\n".join(stream) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "sacrebleu", *map(str, ref_files), "-i", str(hyp_file), *args,
               "--format", "json", "-w", "4"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    data = json.loads(result.stdout)
    return data if isinstance(data, list) else [data]


# --------------------------------------------------------------------------
# Corpus scores against the command line
# --------------------------------------------------------------------------

# (hypotheses, references, tgt_lang, CLI options for BLEU/chrF/TER, CLI options for TER)
ORACLE_CASES = [
    pytest.param(POR_HYP, [POR], "pt-BR", ["-m", "bleu", "chrf", "ter"], id="por"),
    pytest.param(POR_HYP, [POR, _perturb(POR, 3)], "por_Latn", ["-m", "bleu", "chrf", "ter"], id="por-2refs"),
    pytest.param(
        ZHO_HYP, [ZHO], "zh-Hans",
        ["-m", "bleu", "chrf", "ter", "-l", "en-zh", "--ter-normalized", "--ter-asian-support"],
        id="zho",
    ),
]


@pytest.mark.parametrize(("hyps", "refs", "tgt", "options"), ORACLE_CASES)
def test_corpus_scores_match_cli(
    tmp_path: Path, hyps: list[str], refs: list[list[str]], tgt: str, options: list[str]
) -> None:
    ours = score_corpus(hyps, refs, tgt)
    assert list(ours) == list(METRIC_NAMES)
    oracle = _cli(tmp_path, hyps, refs, *options)
    oracle += _cli(tmp_path, hyps, refs, "-m", "chrf", "--chrf-word-order", "2")
    by_name = {"BLEU": "bleu", "chrF2": "chrf", "chrF2++": "chrf++", "TER": "ter"}
    assert sorted(by_name[o["name"]] for o in oracle) == sorted(METRIC_NAMES)
    for entry in oracle:
        score = ours[by_name[entry["name"]]]
        assert round(score.score, 4) == pytest.approx(float(entry["score"]), abs=1e-4), entry["name"]
        assert score.signature == entry["signature"], entry["name"]
        assert score.text.startswith(f"{entry['name']}|{entry['signature']} = {score.score:.2f}")
    # The data is realistic: neither trivial nor hopeless.
    assert 30 < ours["bleu"].score < 95
    assert f"nrefs:{len(refs)}|" in ours["bleu"].signature


def test_zh_signatures() -> None:
    scores = score_corpus(ZHO_HYP[:5], [ZHO[:5]], "zh-Hans")
    assert "|tok:zh|" in scores["bleu"].signature
    assert "|norm:yes|punct:yes|asian:yes|" in scores["ter"].signature


def test_score_corpus_subset_of_metrics() -> None:
    scores = score_corpus(POR_HYP, [POR], "pt", metrics=("chrf",))
    assert list(scores) == ["chrf"]
    assert list(score_corpus(POR_HYP, [POR], "pt", metrics="ter")) == ["ter"]


# --------------------------------------------------------------------------
# Sentence scores against sacrebleu's sentence functions
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hyps", "refs", "tgt", "metric", "oracle"),
    [
        pytest.param(POR_HYP, POR, "pt", "bleu", lambda h, r: sacrebleu.sentence_bleu(h, [r]), id="por-bleu"),
        pytest.param(POR_HYP, POR, "pt", "chrf", lambda h, r: sacrebleu.sentence_chrf(h, [r]), id="por-chrf"),
        pytest.param(
            POR_HYP, POR, "pt", "chrf++", lambda h, r: sacrebleu.sentence_chrf(h, [r], word_order=2), id="por-chrf++"
        ),
        pytest.param(POR_HYP, POR, "pt", "ter", lambda h, r: sacrebleu.sentence_ter(h, [r]), id="por-ter"),
        pytest.param(
            ZHO_HYP, ZHO, "zh", "bleu", lambda h, r: sacrebleu.sentence_bleu(h, [r], tokenize="zh"), id="zho-bleu"
        ),
        pytest.param(
            ZHO_HYP, ZHO, "zh", "ter",
            lambda h, r: sacrebleu.sentence_ter(h, [r], normalized=True, asian_support=True), id="zho-ter",
        ),
    ],
)
def test_sentence_scores_match_sacrebleu(
    hyps: list[str], refs: list[str], tgt: str, metric: str, oracle: object
) -> None:
    ours = score_sentences(hyps, [refs], tgt, metric)
    expected = [oracle(h, r).score for h, r in zip(hyps, refs, strict=True)]  # type: ignore[operator]
    assert ours == pytest.approx(expected, abs=1e-9)
    assert len(set(round(s, 6) for s in ours)) > 10  # not all equal: the perturbations matter


def test_sentence_scores_multiple_references() -> None:
    second = _perturb(POR, 5)
    ours = score_sentences(POR_HYP, [POR, second], "pt", "chrf")
    expected = [sacrebleu.sentence_chrf(h, [a, b]).score for h, a, b in zip(POR_HYP, POR, second, strict=True)]
    assert ours == pytest.approx(expected)
    assert score_sentences(POR[:3], [POR[:3]], "pt", "bleu") == pytest.approx([100.0] * 3)


_WORDS = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=8)
_SENTENCE = st.lists(_WORDS, min_size=4, max_size=15).map(" ".join)


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(_SENTENCE, min_size=1, max_size=5), tgt=st.sampled_from(["en", "pt-BR", "zh-Hans", "de"]))
def test_property_bleu_of_reference_is_100(lines: list[str], tgt: str) -> None:
    # Four words in a line give at least one 4-gram, without which BLEU is 0 whatever the text.
    scores = score_corpus(lines, [lines], tgt, metrics=("bleu", "chrf", "ter"))
    assert scores["bleu"].score == pytest.approx(100.0)
    assert scores["ter"].score == pytest.approx(0.0)


# --------------------------------------------------------------------------
# Language settings
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "tokenizer"),
    [
        ("zh", "zh"), ("zh-Hans", "zh"), ("zho_Hans", "zh"), ("zh-TW", "zh"), ("yue", "zh"),
        ("th", "char"), ("en", "13a"), ("pt-BR", "13a"), ("ru", "13a"), ("ar", "13a"),
    ],
)
def test_bleu_tokenizer_for_language(code: str, tokenizer: str) -> None:
    assert bleu_tokenizer(code) == tokenizer
    assert f"|tok:{tokenizer}|" in score_corpus(["a b c d"], [["a b c d"]], code, metrics=("bleu",))["bleu"].signature


@pytest.mark.parametrize(("code", "asian"), [("zh-Hans", True), ("ja", True), ("ko", False), ("en", False)])
def test_ter_asian_support(code: str, asian: bool) -> None:
    sig = score_corpus(["a b c d"], [["a b c d"]], code, metrics=("ter",))["ter"].signature
    assert ("|norm:yes|punct:yes|asian:yes|" in sig) is asian
    assert ("|norm:no|punct:yes|asian:no|" in sig) is not asian


def test_ter_on_chinese_counts_characters() -> None:
    # Without normalisation a whole unspaced sentence is one TER word: one wrong character costs 100.
    ter = score_corpus(["我们今天去北京了"], [["我们明天去北京了"]], "zh", metrics=("ter",))["ter"]
    assert ter.score == pytest.approx(100 / 8)


@pytest.fixture()
def fresh_mecab_cache():
    metrics._mecab_or_char.cache_clear()
    yield
    metrics._mecab_or_char.cache_clear()


@pytest.mark.parametrize(("code", "module", "cls", "extra"), [
    ("ja", "tokenizer_ja_mecab", "TokenizerJaMecab", "sacrebleu[ja]"),
    ("ko", "tokenizer_ko_mecab", "TokenizerKoMecab", "sacrebleu[ko]"),
])
def test_mecab_missing_falls_back_to_char(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fresh_mecab_cache: None,
    code: str, module: str, cls: str, extra: str,
) -> None:
    import importlib

    monkeypatch.setattr(importlib.import_module(f"sacrebleu.tokenizers.{module}"), "MeCab", None)
    with caplog.at_level(logging.WARNING, logger="pipeline.metrics"):
        assert bleu_tokenizer(code) == "char"
        assert bleu_tokenizer(code) == "char"
    assert caplog.text.count("needs MeCab") == 1  # warned once, not per call
    assert f"pip install '{extra}'" in caplog.text
    bleu = score_corpus(["日本語の文です"], [["日本語の文です"]], code, metrics=("bleu",))["bleu"]
    assert "|tok:char|" in bleu.signature


def test_mecab_present_is_used(monkeypatch: pytest.MonkeyPatch, fresh_mecab_cache: None) -> None:
    import importlib

    class FakeMecab:
        def __call__(self, line: str) -> str:
            return " ".join(line)

        def signature(self) -> str:
            return "ja-mecab-fake"

    module = importlib.import_module("sacrebleu.tokenizers.tokenizer_ja_mecab")
    monkeypatch.setattr(module, "TokenizerJaMecab", FakeMecab)
    assert bleu_tokenizer("ja-JP") == "ja-mecab"


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_score_corpus_checks_alignment_first() -> None:
    with pytest.raises(InputError, match="line counts differ"):
        score_corpus(POR_HYP, [POR[:-1]], "pt")


def test_unknown_metric() -> None:
    with pytest.raises(ConfigError, match=r"unknown metric 'meteor' \(known: bleu, chrf, chrf\+\+, ter, comet\)"):
        score_corpus(POR_HYP, [POR], "pt", metrics=("bleu", "meteor"))
    with pytest.raises(ConfigError, match="unknown metric 'bleurt'"):
        metric_for("bleurt", "pt")


def test_metrics_registry() -> None:
    assert list(METRICS) == ["bleu", "chrf", "chrf++", "ter", "comet"]  # report order
    assert [spec.label for spec in METRICS.values()] == ["BLEU", "chrF", "chrF++", "TER", "COMET"]
    assert [name for name, spec in METRICS.items() if not spec.higher_is_better] == ["ter"]
    with pytest.raises(ValueError, match="metric 'bleu' is already registered"):
        metrics.register_metric("bleu", label="BLEU", higher_is_better=True)(lambda *a, **k: None)


def test_a_registered_metric_is_scored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "METRICS", dict(METRICS))  # the registry as it was, after the test

    @metrics.register_metric("chrf3", label="chrF3", higher_is_better=True)
    def _chrf3(language, *, sentence, tokenize, references):
        return sacrebleu.metrics.CHRF(beta=3, references=references)

    score = score_corpus(POR_HYP, [POR], "pt", metrics=("chrf3",))["chrf3"]
    assert score.score == pytest.approx(sacrebleu.corpus_chrf(POR_HYP, [POR], beta=3).score)
    with pytest.raises(ConfigError, match=r"unknown metric 'x' \(known: bleu, chrf, chrf\+\+, ter, comet, chrf3\)"):
        metric_for("x", "pt")


def test_unknown_tokenizer_and_language() -> None:
    with pytest.raises(ConfigError, match=r"unknown BLEU tokenizer 'moses' \(known: .*13a.*zh"):
        metric_for("bleu", "en", tokenize="moses")
    with pytest.raises(LanguageError, match="unknown language code 'xx-bogus'"):
        score_corpus(["a"], [["a"]], "xx-bogus")


def test_tokenize_override() -> None:
    assert "|tok:char|" in score_corpus(POR_HYP, [POR], "pt", metrics=("bleu",), tokenize="char")["bleu"].signature


# --------------------------------------------------------------------------
# TER on lines too long for it
# --------------------------------------------------------------------------


def _long_line(words: int, lang: str = "por_Latn") -> str:
    corpus = (CORPORA / "flores200-devtest" / f"{lang}.devtest").read_text(encoding="utf-8").split()
    return " ".join((corpus * (words // len(corpus) + 1))[:words])


def test_ter_refuses_a_line_too_long_before_any_work() -> None:
    # 17,000 x 17,000 words took 6.7 GB in sacrebleu; refused at once, naming the line and its length.
    long = _long_line(17_000)
    with pytest.raises(InputError) as caught:
        score_corpus(["Olá.", long[::-1], "Tchau."], [["Olá.", long, "Tchau."]], "pt")
    assert str(caught.value) == (
        "TER cannot score line 2: its hypothesis has 17,000 words and its reference 17,000: 289,000,000 word pairs, "
        "over the limit of 4,000,000 (TER's memory and time grow with that product)"
    )
    assert caught.value.hint == ("split the line into sentences, or raise the limit: MTPIPE_TER_MAX_CELLS=N "
                                 "(4,000,000 took 0.3 GB and 80 s per line)")


def test_ter_limit_counts_ters_own_words() -> None:
    # Chinese TER (normalized, Asian support) aligns characters: a 2,001-character line is 2,001 words.
    line = "我们今天去北京了" * 250 + "。"
    with pytest.raises(InputError, match=r"line 1: its hypothesis has 2,001 words and its reference 2,001"):
        score_corpus([line], [[line]], "zh", metrics=("ter",))


def test_ter_limit_is_on_the_product() -> None:
    # A runaway hypothesis against a short reference costs little: it is scored, as sacrebleu scores it.
    hypothesis, reference = _long_line(5000), "Isto é uma frase curta de referência ."
    ours = score_corpus([hypothesis], [[reference]], "pt", metrics=("ter",))["ter"].score
    assert ours == pytest.approx(sacrebleu.corpus_ter([hypothesis], [[reference]]).score)


def test_ter_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.significance import compare_systems

    monkeypatch.setenv("MTPIPE_TER_MAX_CELLS", "100")
    hyps = ["um dois três", "a b c d e f g h i j k", "fim"]
    refs = [["um dois três", "a b c d e f g h i j l", "fim"]]
    message = (r"TER cannot score line 2: its hypothesis has 11 words and its reference 11: 121 word pairs, "
               r"over the limit of 100")
    with pytest.raises(InputError, match=message):
        score_corpus(hyps, refs, "pt", metrics=("ter",))
    with pytest.raises(InputError, match=message):  # every line numbered as in the file
        score_sentences(hyps, refs, "pt", "ter")
    with pytest.raises(InputError, match=message):  # sacrebleu's paired tests go through the same check
        compare_systems({"a": hyps, "b": hyps}, refs, "pt", metrics=("ter",), n=10)
    monkeypatch.setenv("MTPIPE_TER_MAX_CELLS", "121")
    assert score_sentences(hyps, refs, "pt", "ter")[1] == pytest.approx(100 / 11)


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5"])
def test_ter_limit_must_be_a_number(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MTPIPE_TER_MAX_CELLS", value)
    with pytest.raises(ConfigError, match=rf"MTPIPE_TER_MAX_CELLS must be a whole number of at least 1, got '{value}'"):
        score_corpus(["a"], [["a"]], "pt", metrics=("ter",))


def test_evaluate_command_names_the_long_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.cli import main

    monkeypatch.setenv("MTPIPE_TER_MAX_CELLS", "100")
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("um dois\na b c d e f g h i j k\n", encoding="utf-8")
    ref.write_text("um dois\na b c d e f g h i j l\n", encoding="utf-8")
    assert main(["evaluate", "--tgt", "pt", str(hyp), "--refs", str(ref)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: TER cannot score line 2: its hypothesis has 11 words")
    assert "hint: split the line into sentences, or raise the limit: MTPIPE_TER_MAX_CELLS=N" in err
