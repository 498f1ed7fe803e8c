"""One language-code layer: users write ``en``, ``pt-BR``, ``por_Latn``, ``zh-Hans`` or ``deu``.

Every code is parsed once into a :class:`Language` (backed by ``langcodes``),
and each model family turns that into its own codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import langcodes

from pipeline.errors import LanguageError

__all__ = ["Language", "parse_language"]


@dataclass(frozen=True)
class Language:
    """A parsed language code.

    Attributes:
        tag: the normalised BCP-47 tag, as the user meant it (``pt-BR``, ``zh-Hans``).
        language: the ISO 639 language subtag as langcodes normalises it (``pt``, ``zh``).
        alpha3: the ISO 639-3/T code (``por``, ``zho``).
        script: the explicit or most likely script (``Latn``, ``Hans``).
        region: the explicit region, or ``None`` (``BR`` for ``pt-BR``).
        name: an English display name (``Portuguese (Brazil)``).
    """

    tag: str
    language: str
    alpha3: str
    script: str
    region: str | None
    name: str

    @property
    def base_name(self) -> str:
        """The English name of the language alone (``Portuguese``)."""
        return langcodes.Language.get(self.language).display_name()

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
        name=parsed.display_name(),
    )
