"""Reference-free quality estimates of the embedded models' greedy output: fitted on one half, measured on the other.

Usage: python benchmarks/qe.py [--lines 506] [--no-write]

For each direction, the greedy translations of FLORES-200 devtest lines 1-506 (tuning)
and 507-1012 (held-out) get the features of pipeline.rerank.quality_estimates
(QE_FEATURES: the forward and reverse models' token statistics, round-trip chrF, length,
word-length, repetition and copy features). On the tuning lines only:

- each feature is standardised (its mean and standard deviation there);
- the ranks of sentence chrF against the reference, standardised, are regressed on the
  standardised features by ridge regression; the ridge strength (lambda, times the number
  of lines, in RIDGES) is the one with the highest Spearman correlation of the 5-fold
  cross-validated predictions with sentence chrF (folds: line number mod 5);
- the weights refitted on all 506 lines, the standardisation constants and the weighted
  sum's spread are written to pipeline/models/qe.json (unless --no-write), which
  quality_estimates uses for the built-in models.

It prints each feature's Spearman correlation with sentence chrF on the held-out lines,
the old default (mean of forward and round trip) and the fitted combination's, and writes
everything to benchmarks/results/qe.json. Needs numpy and scipy (the pipeline does not).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLORES = ROOT / "corpora" / "flores200-devtest"
FILES = {"en": "eng_Latn.devtest", "pt": "por_Latn.devtest"}
TAGS = {"en": "en", "pt": "pt-BR"}
RIDGES = (0.0, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0)
FOLDS = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=506)
    parser.add_argument("--no-write", action="store_true", help="do not rewrite pipeline/models/qe.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    out = {d: run(d, args.lines) for d in ("en-pt", "pt-en")}
    path = ROOT / "benchmarks" / "results" / "qe.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    if not args.no_write:
        from pipeline.rerank import QE_FEATURES

        table = {
            "about": "Quality-estimate combinations for the built-in models (pipeline.rerank.quality_estimates), "
                     f"fitted by `python benchmarks/qe.py` on FLORES-200 devtest lines 1-{args.lines} of the model's "
                     "greedy output (never the lines reported on): ridge regression of the standardised ranks of "
                     "sentence chrF against the reference on the standardised features, the ridge strength chosen "
                     f"by {FOLDS}-fold cross-validated Spearman on those lines. qe = 1 / (1 + exp(-1.702 * "
                     "sum(weight * (value - mean) / sd) / score_sd)): about the share of the tuning lines' "
                     f"translations estimated to be worse, 0.5 their median. {datetime.date.today().isoformat()}.",
            "features": list(QE_FEATURES),
            "models": {f"bergamot-{d}": result["fitted"] for d, result in out.items()},
        }
        target = ROOT / "pipeline" / "models" / "qe.json"
        target.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


def run(direction: str, lines: int) -> dict:
    import numpy as np
    import sacrebleu
    from scipy.stats import rankdata, spearmanr

    from pipeline.rerank import QE_FEATURES, fitted_qe, quality_estimates
    from pipeline.translate import Translator

    src, tgt = direction.split("-")
    sources = (FLORES / FILES[src]).read_text(encoding="utf-8").splitlines()
    refs = (FLORES / FILES[tgt]).read_text(encoding="utf-8").splitlines()
    forward = Translator(f"bergamot-{src}-{tgt}", workers=1, threads=1)
    reverse = Translator(f"bergamot-{tgt}-{src}", workers=1, threads=1)
    halves = {"tune": slice(0, lines), "test": slice(506, 506 + lines)}
    data = {}
    for name, part in halves.items():
        hyps = forward.translate(sources[part], TAGS[src], TAGS[tgt])
        rows = quality_estimates(forward, reverse, sources[part], hyps, TAGS[src], TAGS[tgt],
                                 weights={"forward": 1.0, "round_trip": 1.0})  # qe: the old default
        gold = np.array([sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(hyps, refs[part], strict=True)])
        data[name] = (rows, np.array([[row[f] for f in QE_FEATURES] for row in rows]), gold)
    rows, x, gold = data["tune"]
    mean, sd = x.mean(0), x.std(0)
    sd[sd == 0] = 1.0

    def fit(x_fit: np.ndarray, gold_fit: np.ndarray, ridge: float) -> np.ndarray:
        z = (x_fit - mean) / sd
        z = z - z.mean(0)
        y = rankdata(gold_fit)
        y = (y - y.mean()) / y.std()
        return np.linalg.solve(z.T @ z + ridge * len(z) * np.eye(z.shape[1]), z.T @ y)

    folds = np.arange(len(gold)) % FOLDS
    cv = {}
    for ridge in RIDGES:
        predicted = np.zeros(len(gold))
        for k in range(FOLDS):
            train, held = folds != k, folds == k
            predicted[held] = ((x[held] - mean) / sd) @ fit(x[train], gold[train], ridge)
        cv[ridge] = float(spearmanr(predicted, gold).statistic)
    ridge = max(RIDGES, key=lambda r: (cv[r], r))
    weights = fit(x, gold, ridge)
    score_sd = float((((x - mean) / sd) @ weights).std()) or 1.0
    fitted = {"ridge": ridge, "mean": dict(zip(QE_FEATURES, mean.tolist(), strict=True)),
              "sd": dict(zip(QE_FEATURES, sd.tolist(), strict=True)),
              "weights": dict(zip(QE_FEATURES, weights.round(6).tolist(), strict=True)), "score_sd": score_sd}

    def spearman(half: str, values: list[float]) -> float:
        return round(float(spearmanr(values, data[half][2]).statistic), 4)

    figures = {}
    for half in ("tune", "test"):
        rows = data[half][0]
        figures[half] = {f: spearman(half, [row[f] for row in rows]) for f in QE_FEATURES}
        figures[half]["default qe (forward + round trip)"] = spearman(half, [row["qe"] for row in rows])
        figures[half]["fitted qe"] = spearman(half, [fitted_qe(row, fitted) for row in rows])
    fitted["tuning_spearman"] = figures["tune"]["fitted qe"]
    fitted["held_out_spearman"] = figures["test"]["fitted qe"]
    print(f"{direction}: ridge {ridge} (cross-validated Spearman by ridge: "
          + ", ".join(f"{r:g} {v:.3f}" for r, v in cv.items()) + ")")
    print(f"  {'feature':36s} {'tuning':>7s} {'held-out':>8s}")
    for name in figures["test"]:
        print(f"  {name:36s} {figures['tune'][name]:7.3f} {figures['test'][name]:8.3f}")
    return {"fitted": fitted, "cross_validated": cv, "spearman": figures}


if __name__ == "__main__":
    raise SystemExit(main())
