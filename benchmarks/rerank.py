"""N-best reranking, MBR and quality estimates with the embedded models, on FLORES-200 devtest.

Usage: python benchmarks/rerank.py [--direction en-pt|pt-en|both] [--k 8] [--lines N] [--output FILE]

Tuning and evaluation never share a line: weights are fitted on the first 506
devtest lines and reported on the last 506. Per direction:

* greedy (the baseline), and beam k's own best;
* the k beam candidates reranked by ``forward``, ``reverse`` (noisy channel),
  ``mbr`` (chrF), ``forward+reverse``, and ``tuned``: the weights of
  forward/reverse/mbr/length (each in {0, 0.25, 0.5, 1, 2}) that give the highest
  corpus BLEU on the tuning lines;
* each against greedy on the held-out lines with sacrebleu's paired bootstrap
  (pipeline.significance), BLEU and chrF, and its time relative to greedy;
* quality estimates of the greedy output (forward score, reverse score, round-trip
  chrF and their combination): Spearman correlation with sentence chrF against the
  reference on the held-out lines (needs scipy).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLORES = ROOT / "corpora" / "flores200-devtest"
FILES = {"en": "eng_Latn.devtest", "pt": "por_Latn.devtest"}
TAGS = {"en": "en", "pt": "pt-BR"}
GRID = (0.0, 0.25, 0.5, 1.0, 2.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--direction", choices=("en-pt", "pt-en", "both"), default="both")
    parser.add_argument("--k", type=int, default=8, help="candidates per segment")
    parser.add_argument("--lines", type=int, default=506, help="lines of each half (tuning, held-out)")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "rerank.json"))
    args = parser.parse_args()
    directions = ["en-pt", "pt-en"] if args.direction == "both" else [args.direction]
    results = {d: run(d, args.k, args.lines) for d in directions}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def run(direction: str, k: int, lines: int) -> dict:
    import sacrebleu

    from pipeline.rerank import Reranker, quality_estimates
    from pipeline.significance import compare_systems
    from pipeline.translate import Translator

    src, tgt = direction.split("-")
    sources = (FLORES / FILES[src]).read_text(encoding="utf-8").splitlines()
    refs = (FLORES / FILES[tgt]).read_text(encoding="utf-8").splitlines()
    tune = slice(0, lines)
    test = slice(506, 506 + lines)
    forward = Translator(f"bergamot-{src}-{tgt}", workers=1)
    reverse = Translator(f"bergamot-{tgt}-{src}", workers=1)
    s_tag, t_tag = TAGS[src], TAGS[tgt]
    forward.translate(["warm up"], s_tag, t_tag)
    reverse.translate(["warm up"], t_tag, s_tag)

    started = time.perf_counter()
    greedy = forward.translate(sources[test], s_tag, t_tag)
    greedy_seconds = time.perf_counter() - started

    all_weights = {"forward": 1.0, "reverse": 1.0, "mbr": 1.0, "length": 1.0}
    reranker = Reranker(forward, all_weights, k=k, reverse=reverse)
    timing: dict[str, float] = {}
    feats: dict[str, list] = {}
    cands: dict[str, list] = {}
    for name, part in (("tune", tune), ("test", test)):
        started = time.perf_counter()
        cands[name] = reranker.candidates(sources[part], s_tag, t_tag)
        timing[f"{name}_candidates"] = time.perf_counter() - started
        for feature in ("forward", "reverse", "mbr", "length"):
            started = time.perf_counter()
            one = Reranker(forward, {feature: 1.0}, k=k, reverse=reverse)
            values = one.features(sources[part], cands[name], s_tag, t_tag)
            timing[f"{name}_{feature}"] = time.perf_counter() - started
            for n, row in enumerate(values):
                if len(feats.setdefault(name, [])) <= n:
                    feats[name].append({})
                feats[name][n].update(row)

    def pick(name: str, weights: dict[str, float]) -> list[str]:
        chooser = Reranker(forward, weights, k=k, reverse=reverse)
        return [c[chooser.choose({f: v for f, v in row.items() if weights.get(f)})] if any(weights.values()) else c[0]
                for c, row in zip(cands[name], feats[name], strict=True)]

    best, best_bleu = None, -1.0
    for combo in itertools.product(GRID, repeat=4):
        weights = dict(zip(("forward", "reverse", "mbr", "length"), combo, strict=True))
        if not any(combo):
            continue
        bleu = sacrebleu.corpus_bleu(pick("tune", weights), [refs[tune]]).score
        if bleu > best_bleu:
            best, best_bleu = weights, bleu
    settings = {
        f"beam{k}": ({}, ("candidates",)),
        "forward": ({"forward": 1.0}, ("candidates", "forward")),
        "reverse": ({"reverse": 1.0}, ("candidates", "reverse")),
        "mbr": ({"mbr": 1.0}, ("candidates", "mbr")),
        "forward+reverse": ({"forward": 1.0, "reverse": 1.0}, ("candidates", "forward", "reverse")),
        "tuned": (best, ("candidates", *[f for f, w in best.items() if w])),
    }
    hypotheses = {"greedy": greedy}
    cost = {"greedy": 1.0}
    for name, (weights, parts) in settings.items():
        hypotheses[name] = pick("test", weights)
        cost[name] = sum(timing[f"test_{p}"] for p in parts) / greedy_seconds
    stats = compare_systems(hypotheses, [refs[test]], t_tag, metrics=("bleu", "chrf"))
    print(f"\n{direction}: {lines} tuning lines, {lines} held-out lines, k={k}; tuned weights {best} "
          f"(tuning BLEU {best_bleu:.2f})")
    print(f"{'setting':<18}{'BLEU':>8}{'p':>8}{'chrF':>8}{'p':>8}{'x greedy time':>15}")
    table = {}
    for name in hypotheses:
        bleu, chrf = stats[name]["bleu"], stats[name]["chrf"]
        p_b = "" if bleu.p_value is None else f"{bleu.p_value:.3f}"
        p_c = "" if chrf.p_value is None else f"{chrf.p_value:.3f}"
        print(f"{name:<18}{bleu.score:8.2f}{p_b:>8}{chrf.score:8.2f}{p_c:>8}{cost[name]:15.1f}")
        table[name] = {"bleu": bleu.score, "bleu_p": bleu.p_value, "chrf": chrf.score, "chrf_p": chrf.p_value,
                       "cost": cost[name]}

    qe = quality_estimates(forward, reverse, sources[test], greedy, s_tag, t_tag)
    gold = [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(greedy, refs[test], strict=True)]
    correlations = {}
    try:
        from scipy.stats import spearmanr
    except ImportError:
        print("quality estimates: install scipy for the Spearman correlations")
    else:
        for feature in ("forward", "reverse", "round_trip", "qe"):
            correlations[feature] = float(spearmanr([row[feature] for row in qe], gold).statistic)
        print("quality estimates, Spearman with sentence chrF: "
              + ", ".join(f"{name} {value:.3f}" for name, value in correlations.items()))
    return {"tuned_weights": best, "tuning_bleu": best_bleu, "settings": table, "qe_spearman": correlations,
            "timing_seconds": timing, "greedy_seconds": greedy_seconds}


if __name__ == "__main__":
    raise SystemExit(main())
