"""Reference-free quality estimates of the embedded models' greedy output: fitted on one half, measured on the other.

Usage: python benchmarks/qe.py [--lines 506]

For each direction, the greedy translations of FLORES-200 devtest lines 1-506 (tuning)
and 507-1012 (held-out) get the features of pipeline.rerank.quality_estimates: forward
log-probability, reverse log-probability, round-trip chrF. The combination's weights
(each in {0, 0.25, 0.5, 1, 2}, features standardised on the tuning half) are those with
the highest Spearman correlation with sentence chrF against the reference on the tuning
lines; the script prints each feature's and the fitted combination's correlation on the
held-out lines. Needs scipy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLORES = ROOT / "corpora" / "flores200-devtest"
FILES = {"en": "eng_Latn.devtest", "pt": "por_Latn.devtest"}
TAGS = {"en": "en", "pt": "pt-BR"}
FEATURES = ("forward", "reverse", "round_trip")
GRID = (0.0, 0.25, 0.5, 1.0, 2.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=506)
    args = parser.parse_args()
    out = {d: run(d, args.lines) for d in ("en-pt", "pt-en")}
    path = ROOT / "benchmarks" / "results" / "qe.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


def run(direction: str, lines: int) -> dict:
    import sacrebleu
    from scipy.stats import spearmanr

    from pipeline.rerank import quality_estimates
    from pipeline.translate import Translator

    src, tgt = direction.split("-")
    sources = (FLORES / FILES[src]).read_text(encoding="utf-8").splitlines()
    refs = (FLORES / FILES[tgt]).read_text(encoding="utf-8").splitlines()
    forward = Translator(f"bergamot-{src}-{tgt}", workers=1)
    reverse = Translator(f"bergamot-{tgt}-{src}", workers=1)
    halves = {"tune": slice(0, lines), "test": slice(506, 506 + lines)}
    data = {}
    for name, part in halves.items():
        hyps = forward.translate(sources[part], TAGS[src], TAGS[tgt])
        features = quality_estimates(forward, reverse, sources[part], hyps, TAGS[src], TAGS[tgt])
        gold = [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(hyps, refs[part], strict=True)]
        data[name] = (features, gold)
    stats = {f: _moments([row[f] for row in data["tune"][0]]) for f in FEATURES}

    def combined(rows: list[dict], weights: dict[str, float]) -> list[float]:
        return [sum(w * (row[f] - stats[f][0]) / stats[f][1] for f, w in weights.items()) for row in rows]

    best, best_rho = None, -2.0
    for combo in itertools.product(GRID, repeat=len(FEATURES)):
        if not any(combo):
            continue
        weights = dict(zip(FEATURES, combo, strict=True))
        rho = spearmanr(combined(data["tune"][0], weights), data["tune"][1]).statistic
        if rho > best_rho:
            best, best_rho = weights, rho
    rows, gold = data["test"]
    held = {f: float(spearmanr([row[f] for row in rows], gold).statistic) for f in FEATURES}
    held["default qe"] = float(spearmanr([row["qe"] for row in rows], gold).statistic)
    held["fitted"] = float(spearmanr(combined(rows, best), gold).statistic)
    print(f"{direction}: fitted weights {best} (tuning Spearman {best_rho:.3f}); held-out Spearman: "
          + ", ".join(f"{k} {v:.3f}" for k, v in held.items()))
    return {"weights": best, "tuning_spearman": best_rho, "held_out": held,
            "scale": {f: {"mean": stats[f][0], "sd": stats[f][1]} for f in FEATURES}}


def _moments(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 or 1.0
    return mean, sd


if __name__ == "__main__":
    raise SystemExit(main())
