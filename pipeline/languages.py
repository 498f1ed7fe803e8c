"""One language-code layer: users write ``en``, ``pt-BR``, ``por_Latn``, ``zh-Hans`` or ``deu``.

Every code is parsed once into a :class:`Language` (backed by ``langcodes``),
and each model family turns that into its own codes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import langcodes

from pipeline.errors import LanguageError

__all__ = [
    "HAN_SCRIPTS",
    "JAPANESE_SCRIPTS",
    "KOREAN_SCRIPTS",
    "UNSPACED_SCRIPTS",
    "Language",
    "best_code",
    "format_codes",
    "is_unspaced",
    "looks_unspaced",
    "parse_language",
    "require_code",
    "variant_warning",
]

# ISO 15924 script codes, as :attr:`Language.script` gives them.
HAN_SCRIPTS = frozenset({"Hans", "Hant", "Hani"})
"""Chinese characters: simplified, traditional, either."""
JAPANESE_SCRIPTS = frozenset({"Jpan", "Hira", "Kana"})
KOREAN_SCRIPTS = frozenset({"Kore", "Hang"})
UNSPACED_SCRIPTS = HAN_SCRIPTS | JAPANESE_SCRIPTS | frozenset({"Thai", "Laoo", "Khmr", "Mymr", "Tibt"})
"""Scripts written without spaces between words (and between sentences). Korean is spaced."""

# The Unicode character-name prefixes of those scripts' letters, for guessing from text.
_UNSPACED_LETTERS = ("CJK ", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


@dataclass(frozen=True)
class Language:
    """A parsed language code.

    Attributes:
        tag: the normalised BCP-47 tag, as the user meant it (``pt-BR``, ``zh-Hans``).
        language: the ISO 639 language subtag as langcodes normalises it (``pt``, ``zh``).
        alpha3: the ISO 639-3/T code (``por``, ``zho``).
        script: the explicit or most likely script (``Latn``, ``Hans``).
        region: the explicit region, or ``None`` (``BR`` for ``pt-BR``).
    """

    tag: str
    language: str
    alpha3: str
    script: str
    region: str | None

    @cached_property
    def name(self) -> str:
        """An English display name (``Portuguese (Brazil)``).

        Made on first use: langcodes' table of names takes ~50 ms to import, and most
        commands (a one-line translation) never show a name.
        """
        return langcodes.Language.get(self.tag).display_name()

    @property
    def base_name(self) -> str:
        """The English name of the language alone (``Portuguese``)."""
        return langcodes.Language.get(self.language).display_name()

    @property
    def macrolanguage(self) -> str:
        """The ISO 639-3 code that models may use for this language (``zho`` for ``cmn``, ``ara`` for ``arb``)."""
        return _MACROLANGUAGE.get(self.alpha3, self.alpha3)

    def __str__(self) -> str:
        return self.tag


@lru_cache(maxsize=512)
def parse_language(code: str) -> Language:
    """Parse a user's language code.

    Args:
        code: ``en``, ``pt-BR``, ``pt_BR``, ``por_Latn``, ``zh-Hans``, ``deu``...

    Returns:
        The parsed :class:`Language`.

    Raises:
        LanguageError: the code is not a known language.
    """
    raw = (code or "").strip()
    if not raw:
        raise LanguageError("empty language code", hint="use a code such as en, pt-BR, por_Latn or zh-Hans")
    try:
        parsed = langcodes.Language.get(raw.replace("_", "-"))
        if not parsed.language or not parsed.is_valid():
            raise ValueError(raw)
        alpha3 = parsed.to_alpha3()
    except (ValueError, LookupError, langcodes.tag_parser.LanguageTagError) as err:
        raise LanguageError(
            f"unknown language code {code!r}",
            hint="use an ISO 639 / BCP-47 code such as en, pt-BR, por_Latn, zh-Hans or deu",
        ) from err
    maximal = parsed.maximize()
    return Language(
        tag=str(parsed),
        language=parsed.language,
        alpha3=alpha3,
        script=parsed.script or maximal.script or "Zyyy",
        region=parsed.territory,
    )


# Individual languages that models name in place of their macrolanguage (NLLB's
# ``arb_Arab``, ``zsm_Latn``, ``pes_Arab``; Tatoeba Marian's ``cmn``), mapped to
# it, so that a user's ``ar`` finds ``arb_Arab`` and a user's ``arb`` finds ``ar``.
_MACROLANGUAGE = {
    "als": "sqi", "arb": "ara", "azj": "aze", "cmn": "zho", "ekk": "est", "gaz": "orm",
    "khk": "mon", "kmr": "kur", "lvs": "lav", "nob": "nor", "npi": "nep", "ory": "ori",
    "pbt": "pus", "pes": "fas", "plt": "mlg", "quy": "que", "swh": "swa", "uzn": "uzb",
    "ydd": "yid", "zsm": "msa",
}  # fmt: skip


def best_code(lang: Language, codes: Mapping[str, str]) -> str | None:
    """The model code that names ``lang`` best, or ``None``.

    A code matches when it names the same language (a macrolanguage and the
    individual language models use for it count as one: ``zh``/``cmn``,
    ``ar``/``arb``) written in the same script (explicit, or the most likely
    one: ``zh`` is Hans, ``zh-TW`` is Hant, ``sr`` is Cyrl). Among matches, one
    for the user's region wins, then one without a region, then one for another
    region if the user gave none; a code for a different region never matches.
    Ties go to the exact language code, then to the order of ``codes``.

    Args:
        lang: the user's language.
        codes: the model's own codes, each mapped to the tag it stands for
            (``{"pt_br": "pt_br", "pt_XX": "pt", "zh_CN": "zh-CN"}``).

    Returns:
        A key of ``codes``, or ``None`` when no code names ``lang``.
    """
    best: tuple[tuple[int, int], str] | None = None
    for code, tag in codes.items():
        try:
            other = parse_language(tag)
        except LanguageError:
            continue  # collective or private codes (``mul``, ``xx``) name no single language
        if other.macrolanguage != lang.macrolanguage or other.script != lang.script:
            continue
        if other.region == lang.region:
            region_rank = 0
        elif other.region is None:
            region_rank = 1
        elif lang.region is None:
            region_rank = 2
        else:
            continue
        rank = (region_rank, 0 if other.alpha3 == lang.alpha3 else 1)
        if best is None or rank < best[0]:
            best = (rank, code)
    return best[1] if best else None


def format_codes(codes: Sequence[str], limit: int = 20) -> str:
    """``codes`` joined for an error message, the first ``limit`` only when there are more.

    >>> format_codes(["a", "b", "c"], limit=2)
    'a, b ... (3 in all)'
    """
    if len(codes) <= limit:
        return ", ".join(codes)
    return f"{', '.join(codes[:limit])} ... ({len(codes)} in all)"


def require_code(lang: Language, codes: Mapping[str, str], *, side: str, model: str) -> str:
    """:func:`best_code`, or a ``LanguageError`` that lists the model's codes.

    Args:
        lang: the user's language.
        codes: the model's own codes, each mapped to the tag it stands for.
        side: ``"from"`` (source) or ``"into"`` (target), for the message.
        model: what to call the model in the message (``"nllb model 'facebook/nllb-200-distilled-600M'"``).

    Raises:
        LanguageError: no code names ``lang``; the message lists the codes (the first 20 of a long list).
    """
    code = best_code(lang, codes)
    if code is None:
        supported = f"supported: {format_codes(sorted(codes))}" if codes else "it names no languages"
        raise LanguageError(
            f"{model} cannot translate {side} {lang.tag!r} ({lang.name}); {supported}",
            hint="use one of the supported codes (in any BCP-47 or ISO 639 form), or choose another model",
        )
    return code


def variant_warning(model: str, asked: Language, writes: str) -> str | None:
    """A warning for a target that the model writes in another variant (``pt-PT`` asked, ``pt-BR`` written).

    Args:
        model: the model's name, for the message.
        asked: the target language the user asked for.
        writes: the tag of what the model really writes (``pt-BR``).

    Returns:
        The message, or ``None`` when ``asked`` is what the model writes, or says no more than the
        language (``pt`` for ``pt-BR``).
    """
    written = parse_language(writes)
    if written.macrolanguage != asked.macrolanguage:
        return None
    if (asked.region is None or asked.region == written.region) and asked.script == written.script:
        return None
    return (f"model {model} writes {written.tag} ({written.name}), not the {asked.tag} ({asked.name}) asked for: "
            f"the output will be {written.tag}")


def is_unspaced(lang: str | Language) -> bool:
    """Tell whether a language is written without spaces between words (zh, ja, th...).

    Args:
        lang: a language code (``zh-Hans``, ``ja``) or a parsed :class:`Language`.

    Raises:
        LanguageError: the code is not a known language.
    """
    language = lang if isinstance(lang, Language) else parse_language(lang)
    return language.script in UNSPACED_SCRIPTS


def looks_unspaced(texts: Iterable[Sequence[str]]) -> bool:
    """Guess from the text, when no language is given: mostly Han/kana/Thai-like letters means unspaced.

    Args:
        texts: streams of lines (e.g. one per reference).

    Returns:
        ``True`` when more than half of the letters belong to :data:`UNSPACED_SCRIPTS`.
    """
    unspaced = letters = 0
    for stream in texts:
        for line in stream:
            for char in line:
                if char.isalpha():
                    letters += 1
                    unspaced += unicodedata.name(char, "").startswith(_UNSPACED_LETTERS)
    return letters > 0 and unspaced * 2 > letters
