"""Translation batching: chunks of a stream, segments split to fit a model, batches within a token budget.

A chunk of segments is tokenized, any segment longer than the model takes is
split (into sentences first, see :func:`split_long`) and each piece becomes an
:class:`Item`; the items are sorted by length, longest first, and packed into
batches whose padded size (items x longest) stays within a token budget. Once
translated, :func:`assemble` puts each segment's pieces back together, in
input order, with empty segments left empty. Nothing here knows a model: the
tokenizer comes in as functions.
"""

from __future__ import annotations

import itertools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.errors import ConfigError
from pipeline.progress import batch_done

if TYPE_CHECKING:
    from pipeline.segment import Segmenter

__all__ = ["SENTENCE_WINDOW", "Chunk", "Item", "assemble", "chunks", "count_done", "cut_to_fit", "numbers",
           "split_long", "token_batches"]

logger = logging.getLogger(__name__)


@dataclass
class Item:
    """One piece of a segment, as the model sees it.

    Attributes:
        segment: the segment's index in its chunk.
        piece: the piece's number within the segment (0 for a segment not split).
        ids: its token ids.
    """

    segment: int
    piece: int
    ids: list[int]


@dataclass
class Chunk:
    """A chunk, tokenized and cut into batches.

    Attributes:
        size: how many segments it has (blank ones included).
        offset: the index of its first segment in the stream.
        pieces_of: for each non-blank segment, how many pieces it was split into.
        batches: the batches of items, each sorted longest first.
    """

    size: int
    offset: int
    pieces_of: dict[int, int]
    batches: list[list[Item]]


def chunks(segments: Iterator[str], size: int) -> Iterator[list[str]]:
    """``size`` segments at a time (the last chunk may be shorter)."""
    return iter(lambda: list(itertools.islice(segments, size)), [])


def cut_to_fit(
    chunk: Sequence[str], todo: list[int], encoded: list[list[int]], limit: int, offset: int, *,
    encode: Callable[[list[str]], list[list[int]]], segmenter: Callable[[], Segmenter],
) -> tuple[list[Item], dict[int, int]]:
    """The items of a chunk's non-blank segments, those over ``limit`` tokens split to fit.

    Args:
        chunk: the chunk's segments.
        todo: the indices of its non-blank segments.
        encoded: their token ids, in ``todo`` order.
        limit: the most tokens the model takes.
        offset: the chunk's first segment's index in the stream, for warnings.
        encode: the model's tokenizer for a list of texts (prefix included).
        segmenter: gives the source language's segmenter, asked only when a segment needs splitting.

    Returns:
        The items and, for each segment in ``todo``, how many pieces it has.
    """
    items: list[Item] = []
    pieces_of = {i: 1 for i in todo}
    for i, ids in zip(todo, encoded, strict=True):
        if len(ids) <= limit:
            items.append(Item(i, 0, ids))
            continue
        pieces = split_long(chunk[i], limit, lambda text: len(encode([text])[0]), segmenter=segmenter())
        logger.warning(
            "segment %d has %d tokens, more than the %d the model takes: translated in %d pieces",
            offset + i + 1, len(ids), limit, len(pieces),
        )
        pieces_of[i] = len(pieces)
        for n, piece_ids in enumerate(encode(pieces)):
            if len(piece_ids) > limit:
                # Only when one character alone is more tokens than the model takes.
                logger.warning("segment %d: piece %d of %d has %d tokens even alone; its last %d are cut",
                               offset + i + 1, n + 1, len(pieces), len(piece_ids), len(piece_ids) - limit)
                piece_ids = piece_ids[: limit - 1] + piece_ids[-1:]
            items.append(Item(i, n, piece_ids))
    return items, pieces_of


def token_batches(items: list[Item], budget: int) -> Iterator[list[Item]]:
    """Items sorted by length, longest first, in batches whose padded size stays within ``budget`` tokens.

    Longest first, so that a budget too small for the longest input shows at once; an
    item longer than the budget alone is a batch of its own.
    """
    ordered = sorted(items, key=lambda item: len(item.ids), reverse=True)
    batch: list[Item] = []
    for item in ordered:
        # The first item of a batch is its longest: the padded size is (n + 1) x that.
        if batch and (len(batch) + 1) * len(batch[0].ids) > budget:
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def assemble(chunk: Chunk, translated: dict[tuple[int, int], str], joiner: str) -> list[str]:
    """A chunk's translations in input order: each segment's pieces joined, blank segments empty.

    Args:
        chunk: the chunk.
        translated: each ``(segment, piece)``'s translation.
        joiner: what goes between a segment's pieces (a space, or nothing for unspaced scripts).
    """
    return [
        joiner.join(translated[i, n] for n in range(chunk.pieces_of[i])) if i in chunk.pieces_of else ""
        for i in range(chunk.size)
    ]


def count_done(batch: list[Item], rows: list[list[int]]) -> list[list[int]]:
    """Tell a progress listener how many segments a decoded batch finished (a split one counts once); ``rows``."""
    batch_done(sum(1 for item in batch if item.piece == 0))
    return rows


def numbers(segments: list[int], limit: int = 10) -> str:
    """Segment numbers for a log line: the first few."""
    more = f" ... ({len(segments)} in all)" if len(segments) > limit else ""
    return ", ".join(map(str, segments[:limit])) + more


# --------------------------------------------------------------------------
# Splitting a segment too long for the model
# --------------------------------------------------------------------------

# Clause boundaries, strongest first. A cut goes right after the match, so
# the punctuation stays with the clause it ends. ASCII marks only count when
# followed by a space, so "1,000", "10:30", "e-mail" and "3.14" are never cut;
# full-width CJK marks need no space. The first level holds sentence ends the
# segmenter did not take (inside quotes, after an abbreviation): packing puts
# back together whatever fits, so a wrong guess costs nothing when it does.
_CLAUSE_LEVELS: tuple[re.Pattern[str], ...] = (
    re.compile(r"[.!?\u2026\u061f\u06d4](?=\s)|[\u3002\uff01\uff1f\u0964\u0965]"),  # . ! ? … ؟ ۔ 。 ！ ？ । ॥
    re.compile(r"[;\u061b](?=\s)|\uff1b"),  # ; ؛ ；
    re.compile(r":(?=\s)|\uff1a"),  # : ：
    re.compile(r"\s[\u2013\u2014\u2015-]+(?=\s)|[\u2014\u2015]+"),  # " - ", " – ", "—"
    re.compile(r"[,\u060c](?=\s)|[\uff0c\u3001]"),  # , ، ， 、
)

# The segmenter sees at most this many characters at once: some backends
# (pysbd) slow down faster than the text grows, so a long line is segmented
# window by window, each window starting at the last sentence the previous
# one may have cut short. This keeps splitting linear in the line's length.
SENTENCE_WINDOW = 5000


def split_long(
    text: str, max_tokens: int, count_tokens: Callable[[str], int], *, segmenter: Segmenter | None = None
) -> list[str]:
    """Split a segment that is too long for a model into pieces within the budget.

    With a ``segmenter``, the text is cut into sentences first, and each
    sentence is a piece of its own: sentence-level models translate one
    sentence at a time, and stop early when given several. A sentence still
    too long is cut at clause boundaries (a sentence-final mark the segmenter
    did not take, ``;``, ``:``, dashes, ``,``, and their CJK/Arabic forms,
    strongest first), packing neighbouring clauses together while they fit;
    a clause still too long is cut at the next weaker boundary, then into runs
    of words, and as a last resort into runs of characters (the only option
    for scripts without spaces).

    Every piece is a stripped substring of ``text`` and the pieces are in
    order, so ``" ".join(pieces)`` equals ``text`` up to whitespace. The work
    grows linearly with the length of ``text`` (times a logarithm): each run of
    clauses, words or characters is found by a galloping search, so
    ``count_tokens`` sees every character a bounded number of times.

    Args:
        text: one segment.
        max_tokens: the budget, at least 1.
        count_tokens: the model's token counter for a string (it should grow with the string).
        segmenter: the source language's :class:`Segmenter`, for the sentence boundaries;
            without one, the text is cut at clause boundaries only.

    Returns:
        ``[text]`` unchanged if it fits (or has no non-space character);
        otherwise the pieces, each within ``max_tokens`` unless a single
        character alone exceeds it.

    Raises:
        ConfigError: ``max_tokens`` is smaller than 1.
    """
    if max_tokens < 1:
        raise ConfigError(f"max_tokens must be at least 1, got {max_tokens!r}")
    if not text.strip() or count_tokens(text) <= max_tokens:
        return [text]

    def fits(piece: str) -> bool:
        return count_tokens(piece) <= max_tokens

    stripped = text.strip()
    if segmenter is None:
        return _split(stripped, 0, fits)
    pieces: list[str] = []
    for start, end in _sentence_spans(stripped, segmenter):
        sentence = stripped[start:end]
        pieces.extend([sentence] if fits(sentence) else _split(sentence, 0, fits))
    return pieces


def _sentence_spans(text: str, segmenter: Segmenter) -> list[tuple[int, int]]:
    """The sentences of ``text`` as spans, found window by window (see ``SENTENCE_WINDOW``)."""
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = _window_end(text, start)
        found = [(start + s.start, start + s.end) for s in segmenter.segment(text[start:end]).segments]
        if end < len(text) and len(found) > 1:
            # The window's last sentence may go on after it: segment it again with what follows.
            start = found.pop()[0]
        else:
            start = end
        spans.extend(found)
    return spans


def _window_end(text: str, start: int) -> int:
    """Where the segmenter's window from ``start`` ends: at a space if there is one, never inside a word."""
    end = start + SENTENCE_WINDOW
    if end >= len(text):
        return len(text)
    space = max(text.rfind(" ", start + 1, end), text.rfind("\n", start + 1, end))
    if space > start:
        return space
    # No space (Chinese, Japanese, Thai...): cut anywhere but before a combining mark.
    while end > start + 1 and unicodedata.combining(text[end]):
        end -= 1
    return end


def _split(text: str, level: int, fits: Callable[[str], bool]) -> list[str]:
    """Split ``text`` (stripped, known too long) at boundaries of ``level`` or weaker."""
    if level < len(_CLAUSE_LEVELS):
        cuts = [m.end() for m in _CLAUSE_LEVELS[level].finditer(text) if 0 < m.end() < len(text)]
        if not cuts:
            return _split(text, level + 1, fits)
        bounds = [0, *cuts, len(text)]
        atoms = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    elif level == len(_CLAUSE_LEVELS):
        atoms = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        if len(atoms) < 2:
            return _split(text, level + 1, fits)
    else:
        return _split_chars(text, fits)

    pieces: list[str] = []
    for start, end in _pack(atoms, lambda first, last: fits(text[atoms[first][0] : atoms[last][1]].strip())):
        piece = text[start:end].strip()
        if not piece:
            continue
        if fits(piece):
            pieces.append(piece)
        else:
            pieces.extend(_split(piece, level + 1, fits))
    return pieces


def _pack(atoms: list[tuple[int, int]], fits: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Group consecutive atoms greedily into the longest runs that fit.

    ``fits(first, last)`` tells whether ``atoms[first..last]`` fits. An atom
    that does not fit alone is returned alone.
    """
    runs = []
    first = 0
    while first < len(atoms):
        last = _longest(first, len(atoms) - 1, lambda end: fits(first, end))  # noqa: B023 - called before the loop moves on
        runs.append((atoms[first][0], atoms[last][1]))
        first = last + 1
    return runs


def _longest(first: int, limit: int, fits: Callable[[int], bool]) -> int:
    """The largest ``end`` in ``first..limit`` with ``fits(end)``, or ``first``; ``fits`` must be monotonic.

    A galloping search: probes ``first + 1, + 2, + 4...`` until one fails, then
    bisects. The probes cost at most about twice the run found, so splitting a
    text into runs costs its length times a logarithm, where bisecting over all
    of the rest of the text each time would cost its length squared.
    """
    good, step = first, 1
    bad = limit + 1
    while good < limit:
        probe = min(good + step, limit)
        if not fits(probe):
            bad = probe
            break
        good, step = probe, step * 2
    while bad - good > 1:
        middle = (good + bad) // 2
        if fits(middle):
            good = middle
        else:
            bad = middle
    return good


def _split_chars(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Cut ``text`` into the longest runs of characters that fit (never before a combining mark)."""
    pieces = []
    start = 0
    while start < len(text):
        # text[start:end] for the largest end that fits (at least one character).
        end = _longest(start + 1, len(text), lambda stop: fits(text[start:stop].strip()))  # noqa: B023 - called before the loop moves on
        # Keep a base character with its combining marks when the run allows it.
        while start + 1 < end < len(text) and unicodedata.combining(text[end]):
            end -= 1
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        start = end
    return pieces


