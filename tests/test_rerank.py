"""pipeline.scoring and pipeline.rerank: forced-decoding scores, n-best lists, reranking, quality estimates."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.rerank import Reranker, RerankingTranslator, check_spec, parse_weights, tuned_weights
from pipeline.scoring import sequence_scores

DIRECTIONS = {"bergamot": ("en", "pt"), "marian": ("en", "de"), "nllb": ("en", "pt"), "m2m100": ("en", "pt"),
              "mbart": ("en", "pt"), "t5": ("en", "de")}


@pytest.mark.parametrize("kind", list(DIRECTIONS))
def test_a_pairs_score_does_not_depend_on_its_batch(kind: str, tiny_translator: Callable[[str], object]) -> None:
    translator = tiny_translator(kind)
    src, tgt = DIRECTIONS[kind]
    inputs = ["The cat sleeps.", "A much longer sentence about the weather in the north today.", "Hi."]
    outputs = ["O gato dorme.", "Uma frase muito mais longa sobre o tempo no norte hoje.", "Oi."]
    together = sequence_scores(translator, src, tgt, inputs, outputs)
    alone = [sequence_scores(translator, src, tgt, [i], [o])[0] for i, o in zip(inputs, outputs, strict=True)]
    assert all(math.isfinite(s) and s <= 0 for s in together)
    assert together == pytest.approx(alone, abs=1e-4)


def test_token_statistics_describe_the_scored_tokens_whatever_the_batch(
    tiny_translator: Callable[[str], object]
) -> None:
    from pipeline.scoring import token_statistics

    translator = tiny_translator("bergamot")
    inputs = ["The cat sleeps.", "A much longer sentence about the weather in the north today.", "Hi."]
    outputs = ["O gato dorme.", "Uma frase muito mais longa sobre o tempo no norte hoje.", "Oi."]
    together = token_statistics(translator, "en", "pt", inputs, outputs)
    alone = [token_statistics(translator, "en", "pt", [i], [o])[0] for i, o in zip(inputs, outputs, strict=True)]
    means = sequence_scores(translator, "en", "pt", inputs, outputs)
    for row, single, mean in zip(together, alone, means, strict=True):
        assert set(row) == {"mean", "sum", "std", "min", "entropy", "tokens"}
        assert row == pytest.approx(single, abs=1e-4)
        assert row["mean"] == pytest.approx(mean)
        assert row["sum"] == pytest.approx(row["mean"] * row["tokens"], abs=1e-4)
        assert row["min"] <= row["mean"] <= 0 and row["std"] >= 0 and row["tokens"] >= 2  # a word and </s>
        # Entropy of a distribution over the whole vocabulary: between 0 and log(vocabulary size).
        assert 0 <= row["entropy"] <= math.log(translator.loaded.model.config.vocab_size) + 1e-4
    assert together[1]["tokens"] > together[0]["tokens"] > together[2]["tokens"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("forward", {"forward": 1.0}, id="one"),
        pytest.param("forward+reverse:0.5+mbr", {"forward": 1.0, "reverse": 0.5, "mbr": 1.0}, id="weights"),
        pytest.param(" length:-1 ", {"length": -1.0}, id="negative"),
    ],
)
def test_rerank_specs_name_features_and_weights(spec: str, expected: dict[str, float]) -> None:
    assert parse_weights(spec) == expected


@pytest.mark.parametrize(
    ("spec", "method", "message"),
    [
        pytest.param("bleu", "beam", r"unknown rerank feature 'bleu' in 'bleu' "
                     r"\(known: forward, reverse, mbr, length\)", id="feature"),
        pytest.param("forward:x", "beam", r"rerank weight of 'forward' is not a number: 'x'", id="weight"),
        pytest.param("forward:inf", "beam", r"must be finite", id="infinite"),
        pytest.param("forward", "topk", r"nbest_method 'topk' is not one of beam, sample", id="method"),
    ],
)
def test_bad_rerank_specs_are_refused_before_any_model_loads(spec: str, method: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_spec(spec, method)


def test_tuned_weights_exist_for_the_embedded_models_only() -> None:
    for model in ("bergamot-en-pt", "bergamot-pt-en"):
        weights = tuned_weights(model)
        assert set(weights) <= {"forward", "reverse", "mbr", "length"} and any(weights.values())
    with pytest.raises(ConfigError, match=r"no tuned rerank weights for model 'opus-mt-en-de'"):
        tuned_weights("opus-mt-en-de")


def test_the_choice_is_the_highest_weighted_sum_of_standardised_features() -> None:
    reranker = Reranker(forward=None, weights={"forward": 1.0, "mbr": 2.0}, k=3)
    # forward prefers 0; mbr (weighted twice) prefers 2; standardised, 2 wins.
    assert reranker.choose({"forward": [-0.1, -0.5, -0.3], "mbr": [40.0, 41.0, 60.0]}) == 2
    assert Reranker(forward=None, weights={"forward": 1.0}, k=3).choose({"forward": [-0.1, -0.5, -0.3]}) == 0
    assert reranker.choose({"forward": [-math.inf, -0.5, -0.3], "mbr": [0.0, 0.0, 0.0]}) == 2


def test_a_reverse_feature_needs_a_reverse_model() -> None:
    with pytest.raises(ConfigError, match=r"the reverse feature needs a reverse model"):
        Reranker(forward=None, weights={"reverse": 1.0})


def test_beam_candidates_are_distinct_and_sampling_is_seeded_per_segment(
    tiny_model: Callable[[str], Path]
) -> None:
    from pipeline.translate import Translator

    translator = Translator(str(tiny_model("bergamot")), max_length=6)
    beam = Reranker(translator, {"forward": 1.0}, k=4).candidates(["The cat sleeps.", ""], "en", "pt")
    assert 1 <= len(beam[0]) <= 4 and len(set(beam[0])) == len(beam[0]) and beam[1] == [""]
    sampler = Reranker(translator, {"mbr": 1.0}, k=4, method="sample", seed=7)
    alone = sampler.candidates(["The cat sleeps."], "en", "pt")
    with_neighbour = sampler.candidates(["A dog barks.", "The cat sleeps."], "en", "pt")
    assert alone[0] == with_neighbour[1]  # a segment's samples do not depend on the ones before it


def test_reranking_is_part_of_the_cache_key(tiny_model: Callable[[str], Path]) -> None:
    from pipeline.cache import settings_key
    from pipeline.translate import Translator

    translator = Translator(str(tiny_model("bergamot")), max_length=6)
    reranking = RerankingTranslator(translator, "forward+mbr:0.5", k=4)
    key = settings_key(reranking)
    assert key["rerank"] == {"forward": 1.0, "mbr": 0.5} and key["nbest"] == 4
    assert key != settings_key(translator)
    assert key["model"] == settings_key(translator)["model"]
    outputs = reranking.translate(["The cat sleeps.", "Hello there."], "en", "pt")
    assert len(outputs) == 2 and all(isinstance(text, str) for text in outputs)


def test_a_job_system_takes_rerank_keys_and_the_native_engine_refuses_them(tmp_path: Path) -> None:
    from pipeline.config import parse_config

    base = {"corpora": [{"name": "c", "source": "a.txt", "src_lang": "en", "tgt_langs": ["pt"]}]}
    config = parse_config({**base, "systems": [{"name": "s", "model": "bergamot-en-pt", "rerank": "tuned",
                                                "nbest": 4, "nbest_method": "sample"}]}, tmp_path / "job.toml")
    system = config.systems[0]
    assert (system.rerank, system.nbest, system.nbest_method) == ("tuned", 4, "sample")
    with pytest.raises(ConfigError, match=r"nothing to rerank"):
        parse_config({**base, "systems": [{"name": "s", "model": "bergamot-native", "rerank": "forward"}]},
                     tmp_path / "job.toml")
    with pytest.raises(ConfigError, match=r"unknown rerank feature 'mbrr'"):
        parse_config({**base, "systems": [{"name": "s", "model": "bergamot-en-pt", "rerank": "mbrr"}]},
                     tmp_path / "job.toml")


@pytest.mark.slow
def test_the_embedded_model_scores_its_translation_above_an_unrelated_one_and_estimates_quality() -> None:
    from pipeline.rerank import quality_estimates
    from pipeline.translate import Translator

    forward, reverse = Translator("bergamot-en-pt", workers=1), Translator("bergamot-pt-en", workers=1)
    sources = ["The cat sleeps on the mat.", "The council approved the budget on Tuesday."]
    translations = forward.translate(sources, "en", "pt-BR")
    good = sequence_scores(forward, "en", "pt-BR", sources, translations)
    bad = sequence_scores(forward, "en", "pt-BR", sources, list(reversed(translations)))
    assert all(g > b for g, b in zip(good, bad, strict=True))
    estimates = quality_estimates(forward, reverse, sources, translations + [], "en", "pt-BR")
    wrong = quality_estimates(forward, reverse, sources, list(reversed(translations)), "en", "pt-BR")
    assert all(0 <= e["qe"] <= 1 for e in estimates)
    assert all(e["qe"] > w["qe"] for e, w in zip(estimates, wrong, strict=True))


def test_a_job_with_rerank_and_quality_estimates(tmp_path: Path, tiny_model: Callable[[str], Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from pipeline.cli import main

    (tmp_path / "a.txt").write_text("The cat sleeps.\nHello there.\n", encoding="utf-8")
    model = tiny_model("nllb")  # many-to-many: its own reverse model
    (tmp_path / "job.toml").write_text(
        '[[corpora]]\nname = "c"\nsource = "a.txt"\nsrc_lang = "en"\ntgt_langs = ["pt"]\n\n'
        f'[[systems]]\nname = "r"\nmodel = "{model}"\nmax_length = 6\nrerank = "forward+mbr"\nnbest = 3\n'
        f'qe = true\nqe_threshold = 0.99\nreverse_model = "{model}"\n', encoding="utf-8")
    code = main(["-q", "run", str(tmp_path / "job.toml"), "--no-cache", "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    records = [json.loads(line) for line in (tmp_path / "out" / "c.en-pt.r.jsonl").read_text().splitlines()]
    from pipeline.rerank import QE_FEATURES

    assert [set(r["qe"]) for r in records] == [{*QE_FEATURES, "qe"}] * 2
    assert all(0 <= r["qe"]["qe"] <= 1 and r["check"] == (r["qe"]["qe"] < 0.99) for r in records)
    # The job's translations are the reranker's, not the forward model's plain ones (translate_chunks
    # must not reach the forward translator's own translate_groups).
    from pipeline.rerank import RerankingTranslator
    from pipeline.translate import Translator

    direct = RerankingTranslator(Translator(str(model), max_length=6), "forward+mbr", k=3, reverse_model=str(model))
    assert [r["translation"] for r in records] == direct.translate(["The cat sleeps.", "Hello there."], "en", "pt")
    assert not hasattr(direct, "translate_groups") and not hasattr(direct, "translate_iterable")
    meta = json.loads((tmp_path / "out" / "c.en-pt.r.meta.json").read_text())
    # Asking for estimates later changes the task: it runs again rather than keep outputs without them.
    (tmp_path / "job.toml").write_text((tmp_path / "job.toml").read_text().replace("qe = true", "qe = false"))
    assert main(["-q", "run", str(tmp_path / "job.toml"), "--no-cache", "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "c.en-pt.r.meta.json").read_text())["identity"] != meta["identity"]


def test_every_registered_feature_scores_every_candidate(tiny_translator: Callable[[str], object]) -> None:
    from pipeline.rerank import FEATURES

    translator = tiny_translator("nllb")  # many-to-many: its own reverse model
    reranker = Reranker(translator, dict.fromkeys(FEATURES, 1.0), k=3, reverse=translator)
    segments = ["The cat sleeps.", "Hello there, friend."]
    candidates = [["O gato dorme.", "O gato.", "Gato dorme"], ["Olá, amigo."]]
    features = reranker.features(segments, candidates, "en", "pt")
    assert [sorted(row) for row in features] == [sorted(FEATURES)] * 2
    assert [[len(values) for values in row.values()] for row in features] == [[3] * len(FEATURES), [1] * len(FEATURES)]
    assert all(math.isfinite(v) for row in features for values in row.values() for v in values)


def test_text_features_of_a_translation() -> None:
    from pipeline.rerank import text_features

    features = text_features("The cat sleeps on the sofa.", "O gato dorme no sofa, o gato dorme.")
    assert features["source_length"] == pytest.approx(math.log(28))
    assert features["length_ratio"] == pytest.approx(math.log(36 / 28))
    # bigrams: o gato, gato dorme, dorme no, no sofa, sofa o, o gato, gato dorme: two of seven repeat one before
    assert features["repeats"] == pytest.approx(2 / 7)
    assert features["copied"] == pytest.approx(1 / 2)  # of "sleeps" and "sofa", "sofa" is there unchanged
    assert features["source_word_length"] == pytest.approx(21 / 6)
    assert features["target_word_length"] == pytest.approx(26 / 8)
    empty = text_features("", "")
    assert empty == {"source_length": 0.0, "length_ratio": 0.0, "repeats": 0.0, "copied": 0.0,
                     "source_word_length": 0.0, "target_word_length": 0.0}


def test_the_shipped_quality_estimate_weights_match_the_features() -> None:
    import json

    from pipeline.rerank import QE_FEATURES, qe_model

    table = json.loads((Path(__file__).parent.parent / "pipeline" / "models" / "qe.json").read_text())
    assert table["features"] == list(QE_FEATURES)
    for model in ("bergamot-en-pt", "bergamot-pt-en"):
        fitted = qe_model(model)
        assert fitted is not None and fitted == table["models"][model]
        for key in ("mean", "sd", "weights"):
            assert list(fitted[key]) == list(QE_FEATURES)
        assert all(sd > 0 for sd in fitted["sd"].values()) and fitted["score_sd"] > 0
        assert any(fitted["weights"].values())
        assert fitted["held_out_spearman"] > 0  # measured on lines the weights never saw
    assert qe_model("opus-mt-en-de") is None


def test_the_fitted_estimate_is_a_logistic_of_the_standardised_weighted_sum() -> None:
    from pipeline.rerank import fitted_qe

    fitted = {"mean": {"a": 1.0, "b": 0.0}, "sd": {"a": 2.0, "b": 1.0}, "weights": {"a": 1.0, "b": -0.5},
              "score_sd": 1.0}
    assert fitted_qe({"a": 1.0, "b": 0.0}, fitted) == pytest.approx(0.5)  # the tuning means: the median
    high, low = fitted_qe({"a": 5.0, "b": 0.0}, fitted), fitted_qe({"a": 1.0, "b": 4.0}, fitted)
    assert high == pytest.approx(1 / (1 + math.exp(-1.702 * 2))) and 0.5 < high < 1
    assert 0 < low < 0.5
    assert 0 <= fitted_qe({"a": 1e300, "b": -1e300}, fitted) <= 1
    assert fitted_qe({"a": math.inf, "b": 0.0}, fitted) == pytest.approx(0.5)  # not finite: counts as the mean


def test_quality_estimates_give_every_feature_and_a_qe_between_0_and_1(
    tiny_translator: Callable[[str], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.rerank as rerank
    from pipeline.rerank import QE_FEATURES, fitted_qe, quality_estimates

    translator = tiny_translator("nllb")  # many-to-many: its own reverse model
    sources = ["The cat sleeps.", "Hello there, friend.", ""]
    translations = ["O gato dorme.", "Olá, amigo amigo amigo.", ""]
    plain = quality_estimates(translator, translator, sources, translations, "en", "pt")
    for row in plain:  # no fitted combination for this model: the mean of forward and round trip
        assert list(row) == [*QE_FEATURES, "qe"] and all(math.isfinite(v) for v in row.values())
        assert row["qe"] == pytest.approx((row["forward"] + row["round_trip"]) / 2) and 0 <= row["qe"] <= 1
        assert row["forward_min"] <= math.log(row["forward"]) <= 0 and row["forward_entropy"] >= 0
    assert plain[1]["repeats"] > 0 == plain[0]["repeats"]
    fitted = {"mean": dict.fromkeys(QE_FEATURES, 0.0), "sd": dict.fromkeys(QE_FEATURES, 1.0),
              "weights": {**dict.fromkeys(QE_FEATURES, 0.0), "forward": 3.0, "forward_entropy": -1.0},
              "score_sd": 1.0}
    monkeypatch.setattr(rerank, "qe_model", lambda model: fitted)
    estimates = quality_estimates(translator, translator, sources, translations, "en", "pt")
    for row, before in zip(estimates, plain, strict=True):
        assert {k: v for k, v in row.items() if k != "qe"} == pytest.approx({k: v for k, v in before.items()
                                                                             if k != "qe"})
        assert row["qe"] == pytest.approx(fitted_qe(row, fitted)) and 0 <= row["qe"] <= 1
