"""The Translator, on tiny real models: batching, order, empty lines, long segments, warnings."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sentencepiece as spm
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import translate as translate_module
from pipeline.backends.generation import DEFAULT_MAX_SOURCE
from pipeline.batching import split_long
from pipeline.errors import ConfigError, LanguageError, ModelError
from pipeline.languages import parse_language
from pipeline.models import ModelInfo, open_model
from pipeline.models.bergamot.family import BergamotFamily
from pipeline.models.defaults import DEFAULT_MODEL, default_model
from pipeline.models.registry import builtin_names
from pipeline.segment import Segmenter
from pipeline.translate import Translator
from tests.helpers import tinymodels

WORDS = " ".join(tinymodels.corpus_lines(per_language=20)).split()
FLORES = Path(__file__).resolve().parents[1] / "corpora" / "flores200-devtest"


@pytest.mark.parametrize(
    ("src", "tgt"), [pytest.param("en", "pt-BR", id="en-pt"), pytest.param("pt", "en-US", id="pt-en")]
)
def test_the_default_model_of_a_direction_opens_and_translates_it(src: str, tgt: str) -> None:
    info = open_model(default_model(src, tgt))
    # The model's family accepts the pair (it raises LanguageError for any other) and names it.
    direction = info.family.direction(info.config, info.tokenizer, parse_language(src), parse_language(tgt))
    assert [parse_language(code).language for code in (direction.src_code, direction.tgt_code)] == [src, tgt[:2]]


def test_the_translators_default_model_is_built_in() -> None:
    assert DEFAULT_MODEL in builtin_names()


def test_no_default_model_for_other_directions() -> None:
    with pytest.raises(LanguageError, match=r"no built-in model translates en -> de \(built-in: bergamot-en-pt "
                                            r"\(en -> pt\), bergamot-pt-en \(pt -> en\)\)") as info:
        default_model("en", "de")
    assert "--model" in info.value.hint


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"beam": 0}, "beam must be a whole number of at least 1, got 0", id="beam"),
        pytest.param({"batch_tokens": 0}, "batch_tokens must be a whole number of at least 1, got 0",
                     id="batch_tokens"),
        pytest.param({"max_length": -1}, "max_length must be a whole number of at least 1, got -1", id="max_length"),
        pytest.param({"threads": 1.5}, "threads must be a whole number of at least 1, got 1.5", id="threads"),
        pytest.param({"workers": 0}, "workers must be a whole number of at least 1, got 0", id="workers"),
        pytest.param({"dtype": "half"}, r"unknown dtype 'half' \(valid: float32, float16, bfloat16\)", id="dtype"),
        pytest.param({"device": "gpu"}, r"unknown device 'gpu'", id="device"),
        pytest.param({"quantize": "int4"}, r"unknown quantize 'int4' \(valid: int8, int8-rows, or none\)",
                     id="quantize"),
        pytest.param({"quantize": "int8", "dtype": "bfloat16"},
                     "quantize 'int8' needs device cpu and dtype float32, not cpu and bfloat16", id="quantize-dtype"),
        pytest.param({"quantize": "int8-rows", "dtype": "float16"},
                     "quantize 'int8-rows' needs device cpu and dtype float32, not cpu and float16",
                     id="int8-rows-dtype"),
    ],
)
def test_bad_options_fail_before_any_loading(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Translator("no-such-model", **options)


def test_check_direction_reads_no_weights(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("weights loaded")

    monkeypatch.setattr(ModelInfo, "load", refuse)
    translator = Translator(str(tiny_model("nllb")))
    direction = translator.check_direction("en", "pt-BR")
    assert (direction.src_code, direction.tgt_code) == ("eng_Latn", "por_Latn")
    assert "por_Latn" in translator.supported_languages()
    assert translator.max_source_tokens == tinymodels.MAX_POSITIONS
    with pytest.raises(LanguageError, match=r"cannot translate into 'tlh'"):
        translator.check_direction("en", "tlh")
    with pytest.raises(LanguageError, match=r"unknown language code 'xx-nope'"):
        translator.check_direction("xx-nope", "pt")


def test_translate_iterable_checks_the_direction_at_once(tiny_translator) -> None:
    def never() -> Iterator[str]:
        raise AssertionError("input read")
        yield ""

    with pytest.raises(LanguageError, match="cannot translate into 'fr'"):
        tiny_translator("marian").translate_iterable(never(), "en", "fr")
    with pytest.raises(ConfigError, match="chunk_size must be"):
        tiny_translator("marian").translate_iterable([], "en", "de", chunk_size=0)


def test_model_not_found_when_translating() -> None:
    with pytest.raises(ModelError, match="no such folder"):
        Translator("./no/such/model").check_direction("en", "pt")


def test_max_source_tokens(tiny_translator) -> None:
    assert tiny_translator("marian").max_source_tokens == tinymodels.MAX_POSITIONS
    # T5 has relative positions and its tokenizer names no limit: the default.
    assert tiny_translator("t5").max_source_tokens == DEFAULT_MAX_SOURCE


def test_count_tokens_is_the_sentencepiece_count(tiny_translator, tiny_model) -> None:
    processor = spm.SentencePieceProcessor(model_file=str(tiny_model("marian") / "source.spm"))
    for text in ("Hello world.", "Machine translation keeps improving, slowly.", ""):
        assert tiny_translator("marian").count_tokens(text) == len(processor.encode(text))


@pytest.mark.parametrize(
    ("kind", "tgt"),
    [
        pytest.param("marian", "de", id="marian"),
        pytest.param("marian-multi", "pt-BR", id="marian-multi"),
        pytest.param("nllb", "pt-BR", id="nllb"),
        pytest.param("m2m100", "pt-BR", id="m2m100"),
        pytest.param("mbart", "pt-BR", id="mbart"),
        pytest.param("t5", "de", id="t5"),
        pytest.param("madlad", "pt-BR", id="madlad"),
    ],
)
def test_every_family_translates_and_keeps_empty_lines(kind: str, tgt: str, tiny_translator) -> None:
    translator = tiny_translator(kind)
    segments = ["Hello world.", "", "   ", "The article is about machine translation.", "\t"]
    out = translator.translate(segments, "en", tgt)
    assert len(out) == len(segments)
    assert out[1] == out[2] == out[4] == ""
    assert out[0] == translator.translate(["Hello world."], "en", tgt)[0]
    assert out[3] == translator.translate(["The article is about machine translation."], "en", tgt)[0]
    # The forced target-language token does not lead the text (M2M100Tokenizer does not count it as special).
    assert not any(text.startswith(("__pt__", "por_Latn", "pt_XX")) for text in out)


def test_blank_lines_never_reach_the_model(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    translator = Translator(str(tiny_model("marian")), max_length=4)
    rows: list[int] = []
    generate = translator.loaded.model.generate

    def spy(**kwargs: object):
        rows.append(kwargs["input_ids"].shape[0])
        return generate(**kwargs)

    monkeypatch.setattr(translator.loaded.model, "generate", spy)
    assert translator.translate(["", " ", "\n", ""], "en", "de") == ["", "", "", ""]
    assert rows == []
    translator.translate(["a", "", "b c d", " "], "en", "de")
    assert sum(rows) == 2


texts = st.lists(
    st.one_of(
        st.just(""),
        st.just("  "),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=14).map(" ".join),
    ),
    max_size=8,
)


@pytest.mark.parametrize("kind", ["marian", "marian-multi", "nllb", "m2m100", "mbart", "t5", "madlad"])
def test_worker_threads_change_nothing_but_speed(kind: str, tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    # Batches decoded by 3 threads at once give, in order, what one thread gives.
    tgt = "de" if kind in ("marian", "t5") else "pt-BR"
    segments = WORDS[:40] + [" ".join(WORDS[i : i + 5]) for i in range(0, 60, 5)] + ["", " "]
    serial = Translator(str(tiny_model(kind)), max_length=5, batch_tokens=24, workers=1)
    parallel = Translator(str(tiny_model(kind)), max_length=5, batch_tokens=24, workers=3)
    seen: list[tuple[str, int]] = []
    generate = parallel.loaded.model.generate

    def spy(**kwargs: object):
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        return generate(**kwargs)

    monkeypatch.setattr(parallel.loaded.model, "generate", spy)
    expected = serial.translate(segments, "en", tgt)
    assert parallel.translate(segments, "en", tgt) == expected
    assert len(seen) > 3  # several batches...
    assert all(name.startswith("mtpipe-batch") for name, _ in seen)  # ...run by the workers,
    assert {threads for _, threads in seen} == {1}  # each with one torch thread


def test_default_layout_is_one_torch_thread_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(translate_module, "usable_cores", lambda: 4)
    assert Translator("no-such-model").workers == 4
    assert Translator("no-such-model").threads == 1
    assert Translator("no-such-model", threads=2).workers == 2
    assert Translator("no-such-model", threads=3).workers == 1
    assert Translator("no-such-model", workers=1).workers == 1
    monkeypatch.setattr(translate_module, "usable_cores", lambda: 1)
    assert Translator("no-such-model").workers == 1


def test_usable_cores_follows_the_affinity_mask() -> None:
    import os

    assert translate_module.usable_cores() == len(os.sched_getaffinity(0))


def test_an_error_in_a_worker_reaches_the_caller(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    translator = Translator(str(tiny_model("marian")), max_length=4, batch_tokens=8, workers=2)
    calls: list[int] = []

    def broken(**kwargs: object):
        calls.append(1)
        raise RuntimeError("out of memory in batch")

    monkeypatch.setattr(translator.loaded.model, "generate", broken)
    with pytest.raises(RuntimeError, match="out of memory in batch"):
        translator.translate(WORDS[:30], "en", "de")
    assert calls


@pytest.fixture(scope="module")
def short_translators(tiny_model) -> Callable[[str], tuple[Translator, dict[str, str]]]:
    """A Translator with short outputs per tiny model, and a cache of each segment translated alone."""
    made: dict[str, tuple[Translator, dict[str, str]]] = {}

    def get(kind: str) -> tuple[Translator, dict[str, str]]:
        if kind not in made:
            translator = Translator(str(tiny_model(kind)), max_length=6)
            # Padded batches change float32 reductions by an ulp, enough to flip a
            # random model's near-tied choice; in float64 that noise cannot flip one,
            # so any difference left would be a real ordering or batching bug.
            translator.loaded.model.to(torch.float64)
            made[kind] = (translator, {})
        return made[kind]

    return get


@pytest.mark.parametrize(("kind", "tgt"), [pytest.param("marian-multi", "pt-BR", id="marian"),
                                           pytest.param("nllb", "pt-BR", id="nllb")])
@settings(max_examples=20, deadline=None)
@given(segments=texts, batch_tokens=st.integers(min_value=1, max_value=400))
def test_batching_keeps_order_and_count(kind: str, tgt: str, segments: list[str], batch_tokens: int,
                                        short_translators) -> None:
    # Whatever the batches, each segment gets the translation it gets alone, in its place.
    translator, alone = short_translators(kind)
    translator.batch_tokens = batch_tokens
    out = translator.translate(segments, "en", tgt)
    translator.batch_tokens = 1
    for text in segments:
        if text not in alone:
            alone[text] = translator.translate([text], "en", tgt)[0]
    assert out == [alone[text] for text in segments]
    assert all(out[i] == "" for i, text in enumerate(segments) if not text.strip())


def test_default_length_limit_is_per_segment(tiny_model) -> None:
    # Without max_length each segment may grow to 3 x its input + 10 tokens,
    # whatever else is in its batch, and no forced </s> hides a cut.
    segments = ["Hello.", "The cat sat on the mat and looked at the door.", "Yes.", "A longer line about the report."]
    translator = Translator(str(tiny_model("marian-multi")), batch_tokens=1)
    alone = translator.translate(segments, "en", "pt")
    translator.batch_tokens = 10_000
    assert translator.translate(segments, "en", "pt") == alone


@pytest.mark.parametrize(("workers", "read_first"), [(1, 3), (2, 6)])
def test_translate_iterable_streams_in_chunks(workers: int, read_first: int, tiny_model) -> None:
    # One chunk is read before the first output; with several workers, one more is
    # read and queued so that the workers do not wait at the chunk boundary.
    translator = Translator(str(tiny_model("marian")), max_length=4, workers=workers)
    segments = ["Hello world.", "", "Good morning.", "The report.", "Yes.", "", "No.", "Maybe.", "Later."]
    read: list[int] = []

    def source() -> Iterator[str]:
        for number, text in enumerate(segments):
            read.append(number)
            yield text

    stream = translator.translate_iterable(source(), "en", "de", chunk_size=3)
    assert read == []
    first = next(stream)
    assert read == list(range(read_first))  # not the whole input
    assert [first, *stream] == translator.translate(segments, "en", "de")


def test_translate_groups_batches_each_group_on_its_own(tiny_model) -> None:
    translator = Translator(str(tiny_model("marian")), max_length=4, workers=2)
    groups = [WORDS[:7], [], ["", " "], WORDS[7:30], WORDS[30:31]]
    batch_sizes: list[int] = []
    generate = translator.loaded.model.generate

    def spy(**kwargs: object):
        batch_sizes.append(kwargs["input_ids"].shape[0])
        return generate(**kwargs)

    translator.loaded.model.generate = spy
    out = list(translator.translate_groups(iter(groups), "en", "de"))
    assert [len(group) for group in out] == [7, 0, 2, 23, 1]
    assert out[2] == ["", ""]
    assert sorted(batch_sizes) == [1, 7, 23]  # one batch per group: groups are never mixed
    del translator.loaded.model.generate
    assert out == [translator.translate(group, "en", "de") for group in groups]


@pytest.mark.parametrize(
    ("kind", "tgt", "joiner"),
    [pytest.param("marian", "de", " ", id="spaced"), pytest.param("nllb", "zh-Hans", "", id="unspaced-target")],
)
def test_long_segments_are_split_not_truncated(kind: str, tgt: str, joiner: str, tiny_model,
                                               caplog: pytest.LogCaptureFixture) -> None:
    translator = Translator(str(tiny_model(kind)), max_length=4)
    long = " ".join(tinymodels.corpus_lines()[:3])  # far more than 64 tokens
    direction = translator.check_direction("en", tgt)
    tokenizer = translator.loaded.tokenizer
    for attr, value in direction.tokenizer_attrs.items():
        setattr(tokenizer, attr, value)
    tokens = len(tokenizer(direction.prefix + long)["input_ids"])
    assert tokens > translator.max_source_tokens
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        out = translator.translate(["Hello.", long], "en", tgt)
    pieces = split_long(long, translator.max_source_tokens,
                        lambda text: len(tokenizer(direction.prefix + text)["input_ids"]), segmenter=Segmenter("en"))
    assert len(pieces) > 1
    assert out[1] == joiner.join(translator.translate(pieces, "en", tgt))
    assert (f"segment 2 has {tokens} tokens, more than the {tinymodels.MAX_POSITIONS} the model takes: "
            f"translated in {len(pieces)} pieces") in caplog.messages


def test_a_piece_cut_even_alone_is_reported(tiny_model, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    # Only when one character is more tokens than the model takes: here a budget of 1 (</s> alone).
    translator = Translator(str(tiny_model("marian")), max_length=4)
    monkeypatch.setattr(Translator, "max_source_tokens", property(lambda self: 1))
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        translator.translate(["Hi"], "en", "de")
    tokenizer = translator.loaded.tokenizer
    pieces = ["H", "i"]
    expected = [f"segment 1: piece {n} of 2 has {len(tokenizer(piece)['input_ids'])} tokens even alone; "
                f"its last {len(tokenizer(piece)['input_ids']) - 1} are cut" for n, piece in enumerate(pieces, 1)]
    assert [m for m in caplog.messages if "even alone" in m] == expected


def test_unknown_pieces_warning(tiny_translator, caplog: pytest.LogCaptureFixture) -> None:
    segments = ["Hello world.", "😀 🎉 😀 🎉", "", "The report. 😀", "🙂🙃 ☃ ☄"]
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        tiny_translator("nllb").translate(segments, "en", "pt")
    assert ("2 of 5 segments are mostly <unk> pieces for this model (emoji, other scripts?): 2, 5"
            in caplog.messages)


def test_length_limit_warning(tiny_model, caplog: pytest.LogCaptureFixture) -> None:
    translator = Translator(str(tiny_model("marian-multi")), max_length=1)
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        out = translator.translate(["Hello world.", "", "The report is long."], "en", "pt")
    assert len(out) == 3
    assert "2 segments stopped at the length limit and may be cut short (raise max_length?): 1, 3" in caplog.messages


@pytest.mark.filterwarnings("ignore:torch.ao.quantization is deprecated:DeprecationWarning",
                            "ignore:torch.quantize_per_tensor:UserWarning")
def test_int8_quantization(tiny_model) -> None:
    translator = Translator(str(tiny_model("marian")), quantize="int8", max_length=4)
    out = translator.translate(["Hello world.", ""], "en", "de")
    assert len(out) == 2 and out[1] == ""
    assert "quantized" in type(translator.loaded.model.model.encoder.layers[0].fc1).__module__


def test_beam_search_and_bfloat16(tiny_model) -> None:
    translator = Translator(str(tiny_model("nllb")), beam=3, max_length=5, dtype="bfloat16")
    out = translator.translate(["Hello world.", "", "Good morning."], "en", "de")
    assert len(out) == 3 and out[1] == ""


# --------------------------------------------------------------------------
# Long inputs with the embedded model
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    """bergamot-en-pt, converted into a store of this module's own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTPIPE_MODEL_STORE", str(tmp_path_factory.mktemp("store")))
        translator = Translator("bergamot-en-pt", workers=1)
        translator.translate(["Hello."], "en", "pt")  # converts the model and loads it
    return translator


def test_bergamot_takes_sentences_of_at_most_128_tokens(embedded: Translator) -> None:
    assert embedded.max_source_tokens == BergamotFamily.max_source_tokens == 128


@pytest.mark.slow
def test_a_hundred_sentences_on_one_line_translate_like_a_hundred_lines(
    embedded: Translator, caplog: pytest.LogCaptureFixture
) -> None:
    import sacrebleu

    sources = (FLORES / "eng_Latn.devtest").read_text(encoding="utf-8").splitlines()[:100]
    reference = " ".join((FLORES / "por_Latn.devtest").read_text(encoding="utf-8").splitlines()[:100])
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        [joined] = embedded.translate([" ".join(sources)], "en", "pt")
    assert re.fullmatch(r"segment 1 has \d+ tokens, more than the 128 the model takes: translated in \d+ pieces",
                        caplog.messages[0])
    assert len(caplog.messages) == 1  # nothing cut
    one_per_line = " ".join(embedded.translate(sources, "en", "pt"))
    assert len(joined.split()) >= 0.95 * len(one_per_line.split())
    bleu_joined = sacrebleu.corpus_bleu([joined], [[reference]]).score
    bleu_lines = sacrebleu.corpus_bleu([one_per_line], [[reference]]).score
    assert abs(bleu_joined - bleu_lines) <= 2, (bleu_joined, bleu_lines)


def test_the_models_own_length_limit_is_reported(embedded: Translator, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    sentences = (FLORES / "eng_Latn.devtest").read_text(encoding="utf-8").splitlines()[:20]
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        full = embedded.translate(sentences, "en", "pt")
    assert caplog.messages == []  # Marian's 2.5 x the source stops no real sentence
    # A factor of 0.5 forces </s> halfway through every translation.
    # On the model that translates: by default the torch-only greedy model (pipeline.models.bergamot.runner).
    monkeypatch.setattr(embedded.generator.runner.config, "max_length_factor", 0.5)
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        cut = embedded.translate(sentences[:3], "en", "pt")
    assert all(len(short) < len(whole) for short, whole in zip(cut, full[:3], strict=True))
    assert caplog.messages == [
        "3 segments stopped at the model's own length limit (0.5 x their source tokens) and may be cut short: 1, 2, 3"
    ]
