"""Pair hypotheses with their references: line counts checked, documents scored by segment or by paragraph.

A segmented document's translations line up with a reference that has one line
per segment; when the reference was laid out otherwise (one line per
paragraph, or paragraphs separated by blank lines) :func:`align_document`
joins the segments of each paragraph and scores paragraphs instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.errors import InputError
from pipeline.languages import is_unspaced, looks_unspaced

__all__ = ["Alignment", "align_document", "check_alignment"]


@dataclass(frozen=True)
class Alignment:
    """Hypotheses and references paired at one level, ready for :func:`pipeline.evaluate.score_corpus`.

    Attributes:
        hypotheses: one string per scored unit (segment or paragraph).
        references: one stream per reference, each as long as ``hypotheses``.
        level: ``"segment"`` or ``"paragraph"``.
        note: why this level was chosen; empty at segment level.
    """

    hypotheses: list[str]
    references: list[list[str]]
    level: Literal["segment", "paragraph"]
    note: str = ""


def check_alignment(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    names: Sequence[str] | None = None,
) -> None:
    """Check that there are references and every stream has one line per hypothesis.

    Cheap: call it before a model loads or a metric runs.

    Args:
        hypotheses: one string per segment.
        references: one stream per reference.
        names: display names: the hypotheses' file, then one per reference stream.

    Raises:
        InputError: no hypotheses, no references, or a line count differs (naming the files and both counts).
    """
    if isinstance(references, str) or (references and isinstance(references[0], str)):
        raise InputError(
            "references must be a list of streams (one list of lines per reference), got a list of strings",
            hint="wrap a single reference: [reference_lines]",
        )
    hyp_name = names[0] if names else "the hypotheses"
    ref_names = list(names[1:]) if names else []
    if len(ref_names) < len(references):
        ref_names += [f"reference {i + 1}" for i in range(len(ref_names), len(references))]
    if not hypotheses:
        raise InputError(f"{hyp_name} has no lines to score")
    if not references:
        raise InputError(f"no references to score {hyp_name} against", hint="give at least one reference file")
    for ref_name, stream in zip(ref_names, references, strict=False):
        if len(stream) != len(hypotheses):
            raise InputError(
                f"line counts differ: {hyp_name} has {_count(len(hypotheses))}, {ref_name} has {_count(len(stream))}",
                hint="each reference needs exactly one line per hypothesis line, in the same order",
            )


def align_document(
    hypotheses: Sequence[str],
    paragraph_ids: Sequence[int],
    references: Sequence[Sequence[str]],
    *,
    tgt_lang: str | None = None,
) -> Alignment:
    """Pair a segmented document's translations with its references.

    Rules, in order:

    1. One reference line per segment: score segments.
    2. Otherwise, score paragraphs. Each reference stream is read as
       paragraphs: blank-line-separated blocks if it has blank lines (lines
       inside a block are its segments), else one paragraph per line, which
       needs as many lines as the source has paragraphs (a stream with one
       line per segment, next to one without, is joined by paragraph). A paragraph's
       segments are joined with a space, or with nothing for Chinese and
       Japanese (``tgt_lang``, or guessed from the reference text).
    3. Anything else cannot be aligned: :class:`InputError` with the counts.

    Args:
        hypotheses: one translation per source segment.
        paragraph_ids: the source paragraph of each segment (``Document.paragraph_ids``).
        references: one stream per reference, as read from the files.
        tgt_lang: the target language, to choose the paragraph joiner.

    Returns:
        The :class:`Alignment`.

    Raises:
        InputError: the counts cannot be reconciled, or there are no references.
    """
    if len(paragraph_ids) != len(hypotheses):
        raise InputError(
            f"got {len(hypotheses)} hypotheses but {len(paragraph_ids)} paragraph ids; they must be one per segment"
        )
    if not references or (references and isinstance(references[0], str)):
        raise InputError(
            "no reference streams to align with" if not references else
            "references must be a list of streams (one list of lines per reference), got a list of strings"
        )
    if all(len(stream) == len(hypotheses) for stream in references):
        return Alignment(list(hypotheses), [list(stream) for stream in references], "segment")

    groups = _group(paragraph_ids)
    n_paragraphs = len(groups)
    unspaced = is_unspaced(tgt_lang) if tgt_lang else looks_unspaced(references)
    joiner = "" if unspaced else " "

    aligned_refs: list[list[str]] = []
    how: list[str] = []
    for number, stream in enumerate(references, 1):
        label = f"reference {number}" if len(references) > 1 else "the reference"
        if any(not line.strip() for line in stream):
            blocks = _blocks(stream)
            if len(blocks) != n_paragraphs:
                raise InputError(
                    f"cannot align the document with {label}: {_count(len(hypotheses), 'segment')} in "
                    f"{_count(n_paragraphs, 'paragraph')}, "
                    f"but {label} has {_count(len(stream))} in {_count(len(blocks), 'blank-line-separated paragraph')}",
                    hint="the reference needs one line per segment, or the same paragraphs as the source",
                )
            aligned_refs.append([_join(block, joiner) for block in blocks])
            how.append(f"{label}: {len(blocks)} blank-line-separated paragraphs")
        elif len(stream) == n_paragraphs:
            aligned_refs.append([line.strip() for line in stream])
            how.append(f"{label}: one line per paragraph")
        elif len(stream) == len(hypotheses):
            # This stream does match the segments; another one does not, so all go to paragraphs.
            aligned_refs.append([_join([stream[i] for i in group], joiner) for group in groups])
            how.append(f"{label}: one line per segment, joined by paragraph")
        else:
            raise InputError(
                f"cannot align the document with {label}: {_count(len(hypotheses), 'segment')} in "
                f"{_count(n_paragraphs, 'paragraph')}, but {label} has {_count(len(stream))}",
                hint=(
                    f"give a reference with {_count(len(hypotheses))} (one per segment), "
                    f"{_count(n_paragraphs)} (one per paragraph), or paragraphs separated by blank lines"
                ),
            )
    hyps = [_join([hypotheses[i] for i in group], joiner) for group in groups]
    note = (
        f"scored at paragraph level ({_count(n_paragraphs, 'paragraph')}): the document was cut into "
        f"{_count(len(hypotheses), 'segment')} "
        f"but the reference lines do not match them one to one ({'; '.join(how)})"
    )
    return Alignment(hyps, aligned_refs, "paragraph", note)


def _group(paragraph_ids: Sequence[int]) -> list[list[int]]:
    """Segment indexes grouped by paragraph, in document order (a paragraph is a run of equal ids)."""
    groups: list[list[int]] = []
    previous = object()
    for index, paragraph in enumerate(paragraph_ids):
        if paragraph != previous:
            groups.append([])
            previous = paragraph
        groups[-1].append(index)
    return groups


def _blocks(lines: Sequence[str]) -> list[list[str]]:
    """Blank-line-separated blocks of non-blank lines."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def _join(pieces: Sequence[str], joiner: str) -> str:
    return joiner.join(piece.strip() for piece in pieces if piece.strip())


def _count(number: int, thing: str = "line") -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"
