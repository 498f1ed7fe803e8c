"""Inline tags through the embedded en->pt model: word alignment against placeholders, on the hand-made set.

Usage: python benchmarks/tags.py [--layer -1] [--head H] [--show]

Reads tests/data/tags/en-pt.jsonl (64 sentences, 89 tags, each with hand-written
acceptable Portuguese for the words it should wrap) and translates it with the
embedded model two ways:

* ``align``: the plain sentences are translated and the tags put back by the
  model's cross-attention (pipeline.documents + pipeline.wordalign), as mtpipe does;
* ``placeholder``: the tags written into the sentence as ``<gN>...</gN>`` / ``<xN/>``
  markers (code spans too) and read back from the output (pipeline.inline).

Prints, per strategy: tags kept (present and well nested), tags on the right words
(judged by tests/helpers/tagset.py), and the BLEU of the plain text against the
align strategy's text (how much the markers change the translation itself).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.formats import Tag, Unit  # noqa: E402
from pipeline.inline import from_placeholders, to_placeholders  # noqa: E402
from pipeline.translate import Translator  # noqa: E402
from pipeline.wordalign import AttentionAligner, aligner_for  # noqa: E402
from tests.helpers.tagset import load, score, translate_with_alignment  # noqa: E402

SRC, TGT = "en", "pt-BR"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", type=int, default=-1, help="decoder layer whose cross-attention aligns")
    parser.add_argument("--head", type=int, default=None,
                        help="one head, or -1 for the mean of all heads (default: what mtpipe picks for the model)")
    parser.add_argument("--show", action="store_true", help="print every misplaced tag")
    args = parser.parse_args()
    import sacrebleu

    from pipeline.models.defaults import default_model

    cases = load()
    translator = Translator(default_model(SRC, TGT))
    total = sum(len(case.unit.tags) for case in cases)

    # align
    aligner = aligner_for(translator, SRC, TGT)
    if isinstance(aligner, AttentionAligner):
        aligner.layer = args.layer
        if args.head is not None:
            aligner.head = None if args.head < 0 else args.head
    units = translate_with_alignment(translator, cases, SRC, TGT, aligner)
    rows = {"align": _score(cases, units, args.show)}

    # placeholder (code spans marked too: the strategy has no other way to protect them)
    marked_units = [Unit(c.unit.text, tuple(Tag(t.start, t.end, t.id, "pair" if t.kind == "keep" else t.kind)
                                            for t in c.unit.tags)) for c in cases]
    outputs = translator.translate([to_placeholders(unit) for unit in marked_units], SRC, TGT)
    placed = []
    for unit, output in zip(marked_units, outputs, strict=True):
        text, tags, _ = from_placeholders(output, unit)
        placed.append(Unit(text, tuple(tags)))
    rows["placeholder"] = _score(cases, placed, args.show)
    bleu = sacrebleu.corpus_bleu([u.text for u in placed], [[u.text for u in units]]).score

    head = getattr(aligner, "head", None)
    head = "mean" if head is None else head
    print(f"{len(cases)} sentences, {total} tags (cross-attention of decoder layer {args.layer}, head {head})")
    print(f"{'strategy':<12} {'kept':>12} {'right words':>14}")
    for name, (kept, right) in rows.items():
        print(f"{name:<12} {kept:>4}/{total} {100 * kept / total:5.1f}% {right:>4}/{total} {100 * right / total:5.1f}%")
    print(f"placeholder text vs align text: BLEU {bleu:.1f} (100: the markers do not change the words)")
    return 0


def _score(cases, units, show):  # noqa: ANN001, ANN202
    kept, right, wrong = score(cases, units)
    if show:
        for line in wrong:
            print("  ", line)
    return kept, right


if __name__ == "__main__":
    raise SystemExit(main())
