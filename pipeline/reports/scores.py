"""What ``mtpipe evaluate`` prints: corpus scores as sacrebleu's lines, or as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pipeline.evaluate import Score
from pipeline.reports.formats import register_score_format

__all__ = ["scores_json", "scores_text"]


@register_score_format("text", description="sacrebleu's lines with signatures")
def scores_text(scores: Mapping[str, Score]) -> str:
    """One line per metric, as sacrebleu's command line prints it (``BLEU|nrefs:1|... = 34.12 ...``)."""
    return "".join(f"{score.text}\n" for score in scores.values())


@register_score_format("json", description="scores and signatures by metric")
def scores_json(scores: Mapping[str, Score]) -> str:
    """``{metric: {"score", "signature", "text"}}``, indented."""
    payload = {name: {"score": s.score, "signature": s.signature, "text": s.text} for name, s in scores.items()}
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
