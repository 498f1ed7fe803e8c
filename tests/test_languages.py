"""Language codes: parsing users' codes and matching them to a model's own codes."""

from __future__ import annotations

import pytest

from pipeline.errors import LanguageError
from pipeline.languages import best_code, format_codes, is_unspaced, looks_unspaced, parse_language, require_code


@pytest.mark.parametrize(
    ("code", "tag", "alpha3", "script", "region"),
    [
        pytest.param("en", "en", "eng", "Latn", None, id="alpha2"),
        pytest.param("pt-BR", "pt-BR", "por", "Latn", "BR", id="region"),
        pytest.param("pt_BR", "pt-BR", "por", "Latn", "BR", id="underscore"),
        pytest.param("por_Latn", "pt-Latn", "por", "Latn", None, id="flores-style"),
        pytest.param("deu", "de", "deu", "Latn", None, id="alpha3"),
        pytest.param("zh-Hans", "zh-Hans", "zho", "Hans", None, id="script"),
        pytest.param("zh-TW", "zh-TW", "zho", "Hant", "TW", id="region-implies-script"),
        pytest.param("sr", "sr", "srp", "Cyrl", None, id="likely-script"),
    ],
)
def test_parse_language(code: str, tag: str, alpha3: str, script: str, region: str | None) -> None:
    lang = parse_language(code)
    assert (lang.tag, lang.alpha3, lang.script, lang.region) == (tag, alpha3, script, region)


@pytest.mark.parametrize("code", [pytest.param("", id="empty"), pytest.param("xx-nope", id="unknown")])
def test_parse_language_rejects(code: str) -> None:
    with pytest.raises(LanguageError, match="language code"):
        parse_language(code)


@pytest.mark.parametrize(
    ("code", "macrolanguage"),
    [
        pytest.param("ar", "ara", id="ar"),
        pytest.param("arb", "ara", id="arb"),
        pytest.param("cmn", "zho", id="cmn"),
        pytest.param("nb", "nor", id="nb"),
        pytest.param("pt", "por", id="plain"),
    ],
)
def test_macrolanguage(code: str, macrolanguage: str) -> None:
    assert parse_language(code).macrolanguage == macrolanguage


NLLB_LIKE = {code: code for code in ["eng_Latn", "por_Latn", "zho_Hans", "zho_Hant", "arb_Arab", "pes_Arab",
                                     "prs_Arab", "srp_Cyrl", "nob_Latn", "nno_Latn", "yue_Hant"]}
MARIAN_LIKE = {">>por<<": "por", ">>pt_br<<": "pt_br", ">>cmn_Hans<<": "cmn_Hans", ">>srp_Latn<<": "srp_Latn"}
MBART_LIKE = {"en_XX": "en", "pt_XX": "pt", "zh_CN": "zh-CN", "fa_IR": "fa-IR"}


@pytest.mark.parametrize(
    ("codes", "user", "expected"),
    [
        pytest.param(NLLB_LIKE, "pt-BR", "por_Latn", id="region-falls-back-to-language"),
        pytest.param(NLLB_LIKE, "zh", "zho_Hans", id="likely-script"),
        pytest.param(NLLB_LIKE, "zh-TW", "zho_Hant", id="region-implies-script"),
        pytest.param(NLLB_LIKE, "ar", "arb_Arab", id="macrolanguage-to-individual"),
        pytest.param(NLLB_LIKE, "fa", "pes_Arab", id="no-region-prefers-code-without-region"),
        pytest.param(NLLB_LIKE, "prs", "prs_Arab", id="dari"),
        pytest.param(NLLB_LIKE, "no", "nob_Latn", id="norwegian"),
        pytest.param(NLLB_LIKE, "nn", "nno_Latn", id="nynorsk"),
        pytest.param(NLLB_LIKE, "yue", "yue_Hant", id="cantonese-is-not-chinese"),
        pytest.param(NLLB_LIKE, "sr-Latn", None, id="other-script"),
        pytest.param(MARIAN_LIKE, "pt-BR", ">>pt_br<<", id="region-first"),
        pytest.param(MARIAN_LIKE, "pt-PT", ">>por<<", id="other-region-takes-plain"),
        pytest.param(MARIAN_LIKE, "zh-Hans", ">>cmn_Hans<<", id="individual-for-macrolanguage"),
        pytest.param(MARIAN_LIKE, "sr-Latn", ">>srp_Latn<<", id="explicit-script"),
        pytest.param(MARIAN_LIKE, "sr", None, id="default-script-missing"),
        pytest.param(MBART_LIKE, "zh-Hans", "zh_CN", id="region-code-for-script"),
        pytest.param(MBART_LIKE, "zh-Hant", None, id="no-traditional"),
        pytest.param(MBART_LIKE, "en-GB", "en_XX", id="any-english"),
        pytest.param(MBART_LIKE, "fa", "fa_IR", id="language-with-region-code"),
    ],
)
def test_best_code(codes: dict[str, str], user: str, expected: str | None) -> None:
    assert best_code(parse_language(user), codes) == expected


def test_best_code_skips_codes_that_name_no_language() -> None:
    assert best_code(parse_language("en"), {"xx": "xx", "en_XX": "en"}) == "en_XX"


def test_format_codes_shortens_long_lists() -> None:
    assert format_codes(["a", "b"]) == "a, b"
    codes = [f"c{i:02d}" for i in range(30)]
    assert format_codes(codes) == ", ".join(codes[:20]) + " ... (30 in all)"


def test_require_code_names_the_language_and_lists_the_codes() -> None:
    with pytest.raises(LanguageError) as info:
        require_code(parse_language("zh-Hant"), MBART_LIKE, side="into", model="mbart model 'x'")
    assert str(info.value) == (
        "mbart model 'x' cannot translate into 'zh-Hant' (Chinese (Traditional)); supported: en_XX, fa_IR, pt_XX, zh_CN"
    )
    assert info.value.hint


@pytest.mark.parametrize(
    ("code", "expected"),
    [("zh-Hans", True), ("zho_Hant", True), ("ja", True), ("th", True), ("en", False), ("pt-BR", False), ("ko", False)],
)
def test_is_unspaced(code: str, expected: bool) -> None:
    assert is_unspaced(code) is expected


@pytest.mark.parametrize(
    ("streams", "expected"),
    [
        pytest.param([["你好。世界！"]], True, id="chinese"),
        pytest.param([["こんにちは。"], ["สวัสดีครับ"]], True, id="kana-and-thai"),
        pytest.param([["Olá, mundo."]], False, id="latin"),
        pytest.param([["안녕하세요."]], False, id="hangul-is-spaced"),
        pytest.param([["你好 hello world"]], False, id="mostly-latin"),
        pytest.param([["123 ..."], []], False, id="no-letters"),
    ],
)
def test_looks_unspaced(streams: list[list[str]], expected: bool) -> None:
    assert looks_unspaced(streams) is expected
