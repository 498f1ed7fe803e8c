"""The one place that touches sacrebleu's private names, each where sacrebleu has no public hook.

Everything else in the package uses sacrebleu's public API only (metric
constructors with ``references=``, ``corpus_score``, ``sentence_score``,
``PairedTest``, signatures). Checked against sacrebleu 2.6; if an upgrade
renames one of these, this module is what breaks, and
``tests/test_evaluate.py`` / ``tests/test_significance.py`` say so.

Made on first use, so that importing this module does not import sacrebleu.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

__all__ = ["checked_ter", "seed_paired_test"]


@cache
def checked_ter() -> type:
    """sacrebleu's ``TER`` with a hook that sees every line's size before any edit distance is computed.

    Subclasses implement ``check_line_sizes(hypotheses, ref_word_counts)`` (``ref_word_counts``:
    per line, the word count of each reference) and may call ``words(text)``: the number of words
    TER aligns for a text, after its own tokenization.

    Returns:
        The class (a subclass of ``sacrebleu.metrics.TER``; scores are TER's own).
    """
    from sacrebleu.metrics import TER

    class CheckedTER(TER):
        def check_line_sizes(self, hypotheses: Sequence[str], ref_word_counts: Sequence[Sequence[int]]) -> None:
            """Raise to refuse the lines; the default accepts all."""

        def words(self, text: str) -> int:
            # No public hook: TER's tokenization is its private _preprocess_segment (the public
            # ``tokenizer`` attribute is only part of it). Calling it keeps the count equal to the
            # words TER really aligns, whatever sacrebleu's preprocessing becomes.
            return len(self._preprocess_segment(text).split())

        def _extract_corpus_statistics(self, hypotheses: Sequence[str], references: Any) -> Any:
            # No public hook: corpus_score, sentence_score and PairedTest all go through this private
            # method, and it is the last point before the edit-distance tables are filled; sacrebleu
            # has no pre-scoring callback and no size limit of its own. The references' words are in
            # its private reference cache (_cache_references / _ref_cache, with no public accessor),
            # tokenized exactly as TER will align them.
            cache = self._cache_references(references) if references else self._ref_cache
            if cache:
                self.check_line_sizes(hypotheses, [[len(words) for words in line["ref_words"]] for line in cache])
            return super()._extract_corpus_statistics(hypotheses, references)

    return CheckedTER


def seed_paired_test(test: Any, seed: int) -> None:
    """Make a ``sacrebleu.significance.PairedTest`` hand ``seed`` to its test function, 0 included.

    No public hook: PairedTest reads its seed from ``$SACREBLEU_SEED`` only, and passes its paired
    tests ``seed if seed else None``, so a seed of 0 runs them unseeded (different on every run).
    Its test function is the private ``_fn`` (``_paired_bs_test`` / ``_paired_ar_test``, which take
    the seed as their last argument); wrapping it gives them the 0 numpy takes like any other seed.

    Args:
        test: the ``PairedTest``, before it is called.
        seed: the seed its test function gets.
    """
    function = test._fn

    def run(*args: Any) -> Any:
        return function(*args[:-1], seed)

    test._fn = run
