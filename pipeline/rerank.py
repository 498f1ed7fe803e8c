"""N-best reranking and reference-free quality estimates.

A :class:`Reranker` asks the forward model for ``k`` candidates per segment
(beam search, or seeded epsilon sampling), scores every candidate with the
features of :data:`FEATURES`, and keeps the candidate whose weighted sum is
highest:

- ``forward``: the forward model's mean log-probability per token;
- ``reverse``: the reverse model's mean log-probability of the source given the
  candidate (noisy-channel reranking; the embedded models are each other's reverse);
- ``mbr``: the candidate's mean chrF against the other candidates (minimum Bayes
  risk with chrF as the utility, sacrebleu's own chrF);
- ``length``: minus the distance of log(candidate / source characters) from the
  ratio seen in tuning.

Each feature is standardised within the segment's candidates before weighting, so
weights are comparable across features. Candidates are generated one segment at a
time (sampling seeded by the segment's position-free hash), so a segment's result
does not depend on its neighbours.

:func:`quality_estimates` scores finished translations without a reference from the
forward and reverse models' token statistics, the round trip and the texts, combined
by weights fitted on FLORES (pipeline/models/qe.json) into ``qe`` on a 0-1 scale.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ConfigError
from pipeline.scoring import sequence_scores

__all__ = ["FEATURES", "METHODS", "QE_FEATURES", "TUNED", "Reranker", "RerankingTranslator", "check_spec",
           "fitted_qe", "parse_weights", "qe_model", "quality_estimates", "register_feature", "text_features",
           "tuned_weights"]

METHODS = ("beam", "sample")
"""How candidates are generated."""

Feature = Callable[["Reranker", Sequence[str], Sequence[Sequence[str]], str, str], list[list[float]]]

FEATURES: dict[str, Feature] = {}
"""The features a reranker can weigh, by name: each gives every segment's candidates a value (higher: better)."""


def register_feature(name: str) -> Callable[[Feature], Feature]:
    """Add a feature to :data:`FEATURES` (the decorated function gets the reranker, segments, candidates, langs)."""

    def decorate(function: Feature) -> Feature:
        FEATURES[name] = function
        return function

    return decorate


def _flatten(segments: Sequence[str], candidates: Sequence[Sequence[str]]) -> tuple[list[str], list[str]]:
    """Each candidate beside its segment, as two flat lists (undone by :func:`_split`)."""
    sources = [s for s, cands in zip(segments, candidates, strict=True) for _ in cands]
    return sources, [c for cands in candidates for c in cands]


def _split(values: list[float], candidates: Sequence[Sequence[str]]) -> list[list[float]]:
    out, position = [], 0
    for cands in candidates:
        out.append(values[position : position + len(cands)])
        position += len(cands)
    return out


@register_feature("forward")
def _forward(reranker: Reranker, segments: Sequence[str], candidates: Sequence[Sequence[str]], src_lang: str,
             tgt_lang: str) -> list[list[float]]:
    sources, flat = _flatten(segments, candidates)
    return _split(sequence_scores(reranker.forward, src_lang, tgt_lang, sources, flat), candidates)


@register_feature("reverse")
def _reverse(reranker: Reranker, segments: Sequence[str], candidates: Sequence[Sequence[str]], src_lang: str,
             tgt_lang: str) -> list[list[float]]:
    sources, flat = _flatten(segments, candidates)
    return _split(sequence_scores(reranker.reverse, tgt_lang, src_lang, flat, sources), candidates)


@register_feature("mbr")
def _mbr(reranker: Reranker, segments: Sequence[str], candidates: Sequence[Sequence[str]], src_lang: str,
         tgt_lang: str) -> list[list[float]]:
    return [_mbr_chrf(cands) for cands in candidates]


@register_feature("length")
def _length(reranker: Reranker, segments: Sequence[str], candidates: Sequence[Sequence[str]], src_lang: str,
            tgt_lang: str) -> list[list[float]]:
    return [[-abs(math.log((len(c) + 1) / (len(segment) + 1)) - reranker.length_ratio) for c in cands]
            for segment, cands in zip(segments, candidates, strict=True)]


TUNED = "tuned"
"""The rerank spec that means: the weights shipped for the model (pipeline/models/rerank.json)."""


def tuned_weights(model: str) -> dict[str, float]:
    """The weights fitted for a built-in model by ``benchmarks/rerank.py`` on the first 506 FLORES devtest lines.

    Raises:
        ConfigError: no weights were fitted for the model.
    """
    import json
    from pathlib import Path

    table = json.loads((Path(__file__).parent / "models" / "rerank.json").read_text(encoding="utf-8"))
    if model not in table["weights"]:
        raise ConfigError(f"no tuned rerank weights for model {model!r} (tuned: {', '.join(table['weights'])})",
                          hint='give the features and weights instead, e.g. rerank = "forward+reverse:0.5"')
    return dict(table["weights"][model])


def check_spec(spec: str, method: str, context: str = "") -> None:
    """Refuse a bad rerank spec or n-best method before any model loads."""
    where = f"{context}: " if context else ""
    if method not in METHODS:
        raise ConfigError(f"{where}nbest_method {method!r} is not one of {', '.join(METHODS)}")
    if spec != TUNED:
        try:
            parse_weights(spec)
        except ConfigError as err:
            raise ConfigError(f"{where}{err.message}", hint=err.hint) from err


def parse_weights(spec: str) -> dict[str, float]:
    """``"forward+reverse:0.5+mbr"`` as ``{"forward": 1.0, "reverse": 0.5, "mbr": 1.0}``.

    Raises:
        ConfigError: an unknown feature or a weight that is not a number.
    """
    weights: dict[str, float] = {}
    for part in spec.split("+"):
        name, _, value = part.strip().partition(":")
        if name not in FEATURES:
            raise ConfigError(f"unknown rerank feature {name!r} in {spec!r} (known: {', '.join(FEATURES)})",
                              hint='combine with + and weigh with :, e.g. "forward+reverse:0.5"')
        try:
            weights[name] = float(value) if value else 1.0
        except ValueError as err:
            raise ConfigError(f"rerank weight of {name!r} is not a number: {value!r}") from err
        if not math.isfinite(weights[name]):
            raise ConfigError(f"rerank weight of {name!r} must be finite, got {value!r}")
    return weights


@dataclass
class Reranker:
    """Pick the best of ``k`` candidates per segment by weighted features.

    Args:
        forward: the translator whose model generates and scores (transformers backend).
        weights: feature -> weight (:func:`parse_weights`).
        k: candidates per segment.
        method: ``beam`` or ``sample`` (epsilon sampling, epsilon 0.02, seeded).
        reverse: the reverse direction's translator, needed by the ``reverse`` feature.
        length_ratio: the expected log(target / source characters), for ``length``.
        seed: the sampling seed.
    """

    forward: Any
    weights: dict[str, float]
    k: int = 8
    method: str = "beam"
    reverse: Any = None
    length_ratio: float = 0.1
    seed: int = 0
    last_features: list[dict[str, list[float]]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown n-best method {self.method!r} (known: {', '.join(METHODS)})")
        if self.k < 1:
            raise ConfigError(f"nbest must be at least 1, got {self.k}")
        if self.weights.get("reverse") and self.reverse is None:
            raise ConfigError("the reverse feature needs a reverse model", hint="pass the reverse direction's model")

    def candidates(self, segments: Sequence[str], src_lang: str, tgt_lang: str) -> list[list[str]]:
        """``k`` distinct candidates per segment (fewer if the model gives fewer), the model's best first."""
        import torch

        translator = self.forward
        direction = translator.check_direction(src_lang, tgt_lang)
        loaded = translator.loaded
        translator.generator.set_direction(direction)
        out: list[list[str]] = []
        for segment in segments:
            if not segment.strip():
                out.append([""])
                continue
            encoded = loaded.tokenizer([direction.prefix + segment], return_tensors="pt", verbose=False)
            limit = translator.generator.max_new_tokens(encoded["input_ids"].shape[1])
            options: dict[str, Any] = {"num_return_sequences": self.k, "max_new_tokens": limit,
                                       **direction.generate_kwargs}
            if self.method == "beam":
                options.update(num_beams=self.k, do_sample=False)
            else:
                digest = hashlib.sha256(f"{self.seed}\0{segment}".encode()).digest()
                torch.manual_seed(int.from_bytes(digest[:8], "little"))
                options.update(num_beams=1, do_sample=True, epsilon_cutoff=0.02, top_k=0)
            with torch.inference_mode():
                rows = loaded.model.generate(**{key: value.to(loaded.model.device) for key, value in encoded.items()},
                                             **options)
            texts = [text.strip() for text in loaded.tokenizer.batch_decode(rows, skip_special_tokens=True)]
            out.append(list(dict.fromkeys(texts)))
        return out

    def features(self, segments: Sequence[str], candidates: Sequence[Sequence[str]], src_lang: str,
                 tgt_lang: str) -> list[dict[str, list[float]]]:
        """Each segment's candidates' raw feature values, for the features with a weight."""
        wanted = [name for name in FEATURES if self.weights.get(name)]
        columns = {name: FEATURES[name](self, segments, candidates, src_lang, tgt_lang) for name in wanted}
        return [{name: columns[name][n] for name in wanted} for n in range(len(segments))]

    def choose(self, features: dict[str, list[float]]) -> int:
        """The index of the candidate with the highest weighted sum of standardised features."""
        total = None
        for name, values in features.items():
            weighted = [self.weights.get(name, 0.0) * v for v in _standardised(values)]
            total = weighted if total is None else [a + b for a, b in zip(total, weighted, strict=True)]
        if not total:
            return 0
        return max(range(len(total)), key=total.__getitem__)

    def translate(self, segments: Sequence[str], src_lang: str, tgt_lang: str) -> list[str]:
        """The chosen candidate of each segment (its features kept in :attr:`last_features`)."""
        candidates = self.candidates(segments, src_lang, tgt_lang)
        self.last_features = self.features(segments, candidates, src_lang, tgt_lang)
        return [cands[self.choose(feats)] for cands, feats in zip(candidates, self.last_features, strict=True)]


def _mbr_chrf(candidates: Sequence[str]) -> list[float]:
    """Each candidate's mean sentence chrF against the others (sacrebleu's chrF)."""
    from sacrebleu.metrics import CHRF

    if len(candidates) < 2:
        return [0.0] * len(candidates)
    chrf = CHRF()
    return [sum(chrf.sentence_score(a, [b]).score for j, b in enumerate(candidates) if j != i) / (len(candidates) - 1)
            for i, a in enumerate(candidates)]


def _standardised(values: Sequence[float]) -> list[float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return [0.0] * len(values)
    mean = sum(finite) / len(finite)
    spread = math.sqrt(sum((v - mean) ** 2 for v in finite) / len(finite)) or 1.0
    low = min(finite)
    return [((v if math.isfinite(v) else low) - mean) / spread for v in values]


QE_FEATURES = ("forward", "forward_sum", "forward_std", "forward_min", "forward_entropy",
               "reverse", "reverse_sum", "reverse_std", "reverse_min", "reverse_entropy", "round_trip",
               "source_length", "length_ratio", "repeats", "copied", "source_word_length", "target_word_length",
               "target_pieces_per_char", "source_pieces_per_char")
"""The reference-free features :func:`quality_estimates` gives each translation (besides ``qe``)."""

_WORD = re.compile(r"\w+")


def qe_model(model: str) -> dict[str, Any] | None:
    """The quality-estimate combination fitted for a built-in model (pipeline/models/qe.json), or None.

    Fitted by ``benchmarks/qe.py`` on FLORES-200 devtest lines 1-506 of the model's greedy output:
    each feature's mean and standard deviation (``mean``, ``sd``), the weights of the standardised
    features (``weights``) and the spread of the weighted sum on those lines (``score_sd``).
    """
    import json
    from pathlib import Path

    table = json.loads((Path(__file__).parent / "models" / "qe.json").read_text(encoding="utf-8"))
    return table["models"].get(model)


def text_features(source: str, translation: str) -> dict[str, float]:
    """The quality features read from the texts alone (no model).

    ``source_length``: log(1 + source characters); ``length_ratio``: log of the translation's
    characters over the source's (each plus one); ``repeats``: the share of the translation's
    word bigrams that repeat an earlier one; ``copied``: the share of the source's alphabetic
    words longer than 3 letters found unchanged in the translation (case-folded);
    ``source_word_length`` and ``target_word_length``: mean characters per word.
    """
    source_words, words = _WORD.findall(source.lower()), _WORD.findall(translation.lower())
    bigrams = list(zip(words, words[1:], strict=False))
    content = [w for w in source_words if w.isalpha() and len(w) > 3]
    present = set(words)
    return {
        "source_length": math.log(len(source) + 1),
        "length_ratio": math.log((len(translation) + 1) / (len(source) + 1)),
        "repeats": 1 - len(set(bigrams)) / len(bigrams) if bigrams else 0.0,
        "copied": sum(w in present for w in content) / len(content) if content else 0.0,
        "source_word_length": sum(map(len, source_words)) / len(source_words) if source_words else 0.0,
        "target_word_length": sum(map(len, words)) / len(words) if words else 0.0,
    }


def fitted_qe(features: dict[str, float], fitted: dict[str, Any]) -> float:
    """The fitted combination on a 0-1 scale: a logistic of the standardised weighted sum.

    The weighted sum of standardised features, divided by its spread on the tuning lines, goes
    through ``1 / (1 + exp(-1.702 x))`` (close to the normal distribution function), so ``qe`` is
    about the share of the tuning lines' translations estimated to be worse: 0.5 is the median.
    A feature that is not finite counts as its tuning mean.
    """
    total = 0.0
    for name, weight in fitted["weights"].items():
        z = (features[name] - fitted["mean"][name]) / fitted["sd"][name]
        total += weight * (z if math.isfinite(z) else 0.0)
    x = max(-30.0, min(30.0, 1.702 * total / fitted["score_sd"]))
    return 1 / (1 + math.exp(-x))


def quality_estimates(forward: Any, reverse: Any, sources: Sequence[str], translations: Sequence[str],
                      src_lang: str, tgt_lang: str, *, weights: dict[str, float] | None = None,
                      back: Callable[[list[str]], list[str]] | None = None) -> list[dict[str, float]]:
    """Reference-free quality features of each translation and their combined score ``qe`` (0-1).

    Features (:data:`QE_FEATURES`), from one forced-decoding pass of each model, the round trip
    and the texts:

    - ``forward``: exp of the forward model's mean token log-probability; ``forward_sum``,
      ``forward_std``, ``forward_min``: the sum, spread and lowest of its token log-probabilities;
      ``forward_entropy``: the mean entropy of its output distribution per token;
    - ``reverse`` and ``reverse_*``: the same of the reverse model scoring the source given the translation;
    - ``round_trip``: chrF (0-1) of the translation translated back, against the source;
    - ``target_pieces_per_char`` and ``source_pieces_per_char``: subword tokens (``</s>`` included)
      per character (plus one) of the translation and of the source;
    - the text features of :func:`text_features`.

    ``qe``: with ``weights``, their weighted mean of the named features as they are; otherwise the
    combination fitted for the forward model (:func:`qe_model`, :func:`fitted_qe`), and for a model
    without one the mean of ``forward`` and ``round_trip``.
    """
    from sacrebleu.metrics import CHRF

    from pipeline.scoring import token_statistics

    fitted = None if weights else qe_model(getattr(forward, "name", ""))
    weights = weights or {"forward": 1.0, "round_trip": 1.0}
    forward_stats = token_statistics(forward, src_lang, tgt_lang, sources, translations)
    reverse_stats = token_statistics(reverse, tgt_lang, src_lang, translations, sources)
    backs = back(list(translations)) if back is not None else reverse.translate(list(translations), tgt_lang, src_lang)
    chrf = CHRF()
    out = []
    for f, r, source, translation, b in zip(forward_stats, reverse_stats, sources, translations, backs, strict=True):
        features: dict[str, float] = {}
        for prefix, stats in (("forward", f), ("reverse", r)):
            features[prefix] = math.exp(stats["mean"])
            features.update({f"{prefix}_{key}": stats[key] for key in ("sum", "std", "min", "entropy")})
        features["round_trip"] = chrf.sentence_score(b, [source]).score / 100
        features.update(text_features(source, translation))
        features["target_pieces_per_char"] = f["tokens"] / (len(translation) + 1)
        features["source_pieces_per_char"] = r["tokens"] / (len(source) + 1)
        if fitted is not None:
            features["qe"] = fitted_qe(features, fitted)
        else:
            total = sum(weights.values()) or 1.0
            features["qe"] = sum(weights.get(name, 0.0) * value for name, value in features.items()) / total
        out.append(features)
    return out


class RerankingTranslator:
    """A translator that reranks ``k`` candidates per segment; everything else is the forward translator's.

    Args:
        forward: the transformers-backend translator of the system.
        spec: :data:`TUNED` or a :func:`parse_weights` spec.
        k: candidates per segment.
        method: ``beam`` or ``sample``.
        reverse_model: the reverse direction's model (default: the built-in model of that direction).
    """

    def __init__(self, forward: Any, spec: str, *, k: int = 8, method: str = "beam",
                 reverse_model: str | None = None) -> None:
        self.forward, self.spec, self.k, self.method = forward, spec, k, method
        self.reverse_model = reverse_model
        self._reverse: Any = None
        check_spec(spec, method)

    def __getattr__(self, name: str) -> Any:  # info, loaded, generator, check_direction... are the forward model's
        if name in ("translate_iterable", "translate_groups"):  # they would translate without reranking
            raise AttributeError(name)
        return getattr(self.forward, name)

    @property
    def weights(self) -> dict[str, float]:
        return tuned_weights(self.forward.name) if self.spec == TUNED else parse_weights(self.spec)

    def settings(self) -> dict[str, Any]:
        """The forward settings plus the reranking's: all of it changes the output (the cache key)."""
        return {**self.forward.settings(), "rerank": self.weights, "nbest": self.k, "nbest_method": self.method,
                "reverse_model": self.reverse_model}

    def reverse(self, src_lang: str, tgt_lang: str) -> Any:
        """The reverse direction's translator (made on first use)."""
        if self._reverse is None:
            from pipeline.models.defaults import default_model
            from pipeline.translate import Translator

            self._reverse = Translator(self.reverse_model or default_model(tgt_lang, src_lang), workers=1,
                                       device=self.forward.device, dtype=self.forward.dtype)
        return self._reverse

    def translate(self, segments: Sequence[str], src_lang: str, tgt_lang: str) -> list[str]:
        """The best of ``k`` candidates of each segment."""
        weights = self.weights
        reverse = self.reverse(src_lang, tgt_lang) if weights.get("reverse") else None
        reranker = Reranker(self.forward, weights, k=self.k, method=self.method, reverse=reverse)
        return reranker.translate(segments, src_lang, tgt_lang)
