"""Inline markup through translation: tags, protected text and glossary terms put back in place.

Two ways are implemented, measured on tests/data/tags (benchmarks/tags.py, docs/formats.md):

- ``align`` (the default): the model translates the plain sentence; its own
  cross-attention (:mod:`pipeline.wordalign`) then says which target words
  came from the words a tag wrapped, and the tag wraps those. The model never
  sees markup, so the translation is the same as for the plain sentence.
- ``placeholder``: the tags are written into the sentence as XML-like markers
  (``<g1>...</g1>``, ``<x2/>``) and read back from the output. A marker the
  model drops or mangles loses its tag.

Either way, text that must come through unchanged (a ``keep`` tag: code, a
placeholder, a URL, an e-mail address, a number) is checked in the output: if
the model changed it, the words aligned with it are replaced by the original.
Glossary terms (:mod:`pipeline.glossary`) work the same way with their target
term.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.formats.base import Tag, Unit
from pipeline.wordalign import WordAlignment, words

__all__ = ["Constraint", "STRATEGIES", "auto_keep", "from_placeholders", "project", "to_placeholders"]

STRATEGIES = ("align", "placeholder")
"""How inline tags cross translation (see the module docstring)."""

AUTO_ID = 1 << 30
"""Ids from here on are the pipeline's own keep spans (URLs, numbers...), never passed to a format."""

_PROTECTED = re.compile(
    r"(?:https?|ftp)://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]"  # URLs, without trailing punctuation
    r"|www\.[^\s<>\"']+[^\s<>\"'.,;:!?)\]]"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses
    r"|(?<![\w%])%(?:\d+\$|\(\w+\))?[-+#0]*\d*(?:\.\d+)?[sdifuxXeEgGcr](?!\w)"  # printf placeholders (not "100% done")
    r"|\{\{?\s*[\w.]*\s*\}\}?"  # {name}, {{count}}, {}
    r"|\d+(?:[.,:/]\d+)*"  # numbers, times, dates
)


def auto_keep(text: str, tags: Sequence[Tag]) -> tuple[Tag, ...]:
    """Keep tags for the URLs, e-mail addresses, placeholders and numbers in ``text`` not already protected."""
    covered = [(tag.start, tag.end) for tag in tags if tag.kind == "keep"]
    out = []
    for n, match in enumerate(_PROTECTED.finditer(text)):
        start, end = match.span()
        if not any(a <= start and end <= b for a, b in covered):
            out.append(Tag(start, end, AUTO_ID + n, "keep"))
    return tuple(out)


@dataclass(frozen=True)
class Constraint:
    """Text that must appear in the translation where its source span went.

    Attributes:
        start, end: the span in the source.
        target: what the translation must say there (the source text itself for a keep span).
        tag: the keep tag it comes from, if any (its new place is recorded on it).
        term: the glossary entry it comes from, for the report.
    """

    start: int
    end: int
    target: str
    tag: Tag | None = None
    term: str | None = None


@dataclass
class Projected:
    """A translated sentence with its tags, and what happened to its constraints."""

    text: str
    tags: list[Tag]
    kept: list[Constraint] = field(default_factory=list)  # already right in the model's output
    fixed: list[Constraint] = field(default_factory=list)  # put right by replacing the aligned words
    failed: list[Constraint] = field(default_factory=list)  # no aligned words to replace


def project(source: str, tags: Sequence[Tag], target: str, alignment: WordAlignment,
            constraints: Sequence[Constraint] = ()) -> Projected:
    """Carry ``tags`` and ``constraints`` from ``source`` onto its translation ``target``.

    Pair tags wrap the target words aligned with the words they wrapped (outer
    tags first, inner ones kept inside them, siblings kept apart); empty tags
    follow the word before them; keep tags and other constraints make sure their
    text appears and then wrap it. Every tag comes out, properly nested.
    """
    spans: dict[int, tuple[int, int]] = {}
    order = sorted(range(len(tags)), key=lambda i: (tags[i].start, -tags[i].end))
    for i in order:
        tag = tags[i]
        parent = _parent(tags, i, spans)
        if tag.kind == "empty":
            at = _empty_place(source, tag.start, target, alignment)
            spans[i] = _clip((at, at), parent)
        else:
            spans[i] = _clip(_pair_place(tag, target, alignment), parent)
        for j in spans:
            if j != i and tags[j].kind != "empty" and not _nests(tags, i, j):
                spans[i] = _apart(spans[i], spans[j])
    text, result = target, Projected(target, [])
    done: list[tuple[int, int]] = []  # spans of constraints already in place (in the current text)
    keep_spans: dict[int, tuple[int, int]] = {}
    # Constraints right to left, so that a replacement does not move the places still to do.
    todo = [(c, _keep_place(c.start, c.end, c.target, alignment)) for c in constraints]
    for constraint, place in sorted(todo, key=lambda item: -item[1][0]):
        found = _nearest(text, constraint.target, place[0], avoid=done)
        if found is not None:
            new = (found, found + len(constraint.target))
            result.kept.append(constraint)
        elif alignment.target_words and (place[1] > place[0] or constraint.target.strip()):
            for a, b in done:  # never over a constraint already in place: next to it instead
                if place[0] < b and a < place[1] or a < place[0] < b:
                    place = (a, a) if place[0] <= a else (b, b)
            insert = constraint.target
            if place[1] == place[0]:  # an insertion: spaces around it as the words need
                before, after = text[: place[0]], text[place[0] :]
                lead = " " if before and not before[-1].isspace() else ""
                trail = " " if after[:1].isalnum() else ""
                insert = lead + insert + trail
            text = text[: place[0]] + insert + text[place[1] :]
            shift = len(insert) - (place[1] - place[0])
            spans = {i: _shifted(span, place, shift) for i, span in spans.items()}
            # Constraints already in place lie wholly before or after this one: they move as wholes.
            done = [_moved(span, place, shift) for span in done]
            keep_spans = {i: _moved(span, place, shift) for i, span in keep_spans.items()}
            start = place[0] + insert.index(constraint.target)
            new = (start, start + len(constraint.target))
            result.fixed.append(constraint)
        else:
            result.failed.append(constraint)
            continue
        done.append(new)
        if constraint.tag is not None:
            index = next(i for i, tag in enumerate(tags) if tag is constraint.tag)
            keep_spans[index] = new
    spans.update(keep_spans)
    # Protected text is whole: no other tag starts or ends inside it.
    for i, tag in enumerate(tags):
        if i in keep_spans:
            continue
        start, end = spans[i]
        for a, b in done:
            if a < start < b:
                start = b if tag.kind == "empty" else a
            if a < end < b:
                end = b
        spans[i] = (start, max(start, end))
    result.text = text
    result.tags = _well_nested([Tag(spans[i][0], spans[i][1], tag.id, tag.kind) for i, tag in enumerate(tags)])
    return result


def _well_nested(tags: list[Tag]) -> list[Tag]:
    """``tags`` with any tag that crosses the edge of an enclosing one cut back inside it (a last guard)."""
    order = sorted(range(len(tags)), key=lambda i: (tags[i].start, -tags[i].end, tags[i].kind == "empty"))
    out = list(tags)
    stack: list[Tag] = []
    for i in order:
        tag = out[i]
        while stack and tag.start >= stack[-1].end and not (tag.start == stack[-1].end == stack[-1].start):
            stack.pop()
        if stack and tag.end > stack[-1].end:
            tag = Tag(tag.start, stack[-1].end, tag.id, tag.kind)
            out[i] = tag
        if tag.kind != "empty" and tag.end > tag.start:
            stack.append(tag)
    return out


def _pair_place(tag: Tag, target: str, alignment: WordAlignment) -> tuple[int, int]:
    src, tgt = alignment.source_words, alignment.target_words
    inside = {s for s, (start, end) in enumerate(src) if start < tag.end and end > tag.start}
    if not tgt:
        return 0, 0
    if not inside:  # wraps no word (only spaces): after the word before it
        at = _empty_place_words(tag.start, alignment)
        return at, at
    hits = [t for t in range(len(tgt)) if alignment.source_of(t) in inside]
    if not hits:
        hits = [t for s in inside if (t := alignment.target_of(s)) is not None]
    # Punctuation at the edges of the span stays outside, unless the source tag wrapped punctuation there.
    first, last = min(hits), max(hits)
    return tgt[first][0], tgt[last][1]


def _keep_place(start: int, end: int, text: str, alignment: WordAlignment) -> tuple[int, int]:
    """The target words to replace with a constraint's text: one contiguous run, never the whole sentence.

    The run starts at the target word that attends most to the source span and grows
    while its neighbours come from the span too, so a stray link elsewhere (the full
    stop attending to a brace) cannot widen it.
    """
    src, tgt = alignment.source_words, alignment.target_words
    inside = [s for s, (a, b) in enumerate(src) if a < end and b > start]
    if not inside or not tgt:
        return (0, 0)
    best = max(range(len(tgt)), key=lambda t: sum(alignment.weights[t][s] for s in inside))
    first = last = best
    most = len(words(text)) + 2  # a run longer than the text it stands for is a stray alignment
    while first > 0 and alignment.source_of(first - 1) in inside and last - first + 1 < most:
        first -= 1
    while last + 1 < len(tgt) and alignment.source_of(last + 1) in inside and last - first + 1 < most:
        last += 1
    run = alignment_text(alignment, first, last)
    if not any(ch.isalnum() for ch in run) and any(ch.isalnum() for ch in text):
        # The model dropped it: what attends to it most is punctuation. Insert it after the
        # translation of the word before it instead of replacing a full stop.
        at = _empty_place_words(start, alignment)
        return at, at
    return tgt[first][0], tgt[last][1]


def alignment_text(alignment: WordAlignment, first: int, last: int) -> str:
    """The characters of target words ``first..last`` (the words only, for a quick look at their kind)."""
    return "".join(alignment.target_text[a:b] for a, b in alignment.target_words[first : last + 1])


def _empty_place(source: str, at: int, target: str, alignment: WordAlignment) -> int:
    """Where an empty tag goes: after the translation of the word before it, or, when it opens a
    word (a space before it, a word right after), before the translation of that word."""
    if not alignment.target_words:
        return len(target) if at else 0
    opens_word = (at == 0 or source[at - 1].isspace()) and at < len(source) and source[at].isalnum()
    if opens_word:
        following = [s for s, (start, _) in enumerate(alignment.source_words) if start >= at]
        t = alignment.target_of(following[0]) if following else None
        if t is not None:
            return alignment.target_words[t][0]
    return _empty_place_words(at, alignment)


def _empty_place_words(at: int, alignment: WordAlignment) -> int:
    before = [s for s, (_, end) in enumerate(alignment.source_words) if end <= at]
    if not before:
        return 0
    if len(before) == len(alignment.source_words):
        return alignment.target_words[-1][1]
    t = alignment.target_of(before[-1])
    return alignment.target_words[t][1] if t is not None else 0


def _parent(tags: Sequence[Tag], i: int, spans: dict[int, tuple[int, int]]) -> tuple[int, int] | None:
    """The target span of the innermost tag already placed that contains tag ``i`` in the source."""
    best = None
    for j in spans:
        outer = tags[j]
        if outer.kind == "pair" and _nests(tags, i, j) and (best is None or outer.start >= tags[best].start):
            best = j
    return spans[best] if best is not None else None


def _nests(tags: Sequence[Tag], inner: int, outer: int) -> bool:
    a, b = tags[inner], tags[outer]
    return b.kind == "pair" and b.start <= a.start and a.end <= b.end and (b.start, -b.end) < (a.start, -a.end)


def _clip(span: tuple[int, int], parent: tuple[int, int] | None) -> tuple[int, int]:
    if parent is None:
        return span
    start = min(max(span[0], parent[0]), parent[1])
    end = min(max(span[1], start), parent[1])
    return start, end


def _apart(span: tuple[int, int], other: tuple[int, int]) -> tuple[int, int]:
    """``span`` trimmed so that it neither overlaps ``other`` nor crosses its edges."""
    start, end = span
    if end <= other[0] or start >= other[1] or (start <= other[0] and other[1] <= end):
        return span
    if other[0] <= start and end <= other[1]:  # inside a non-parent: put it after
        return other[1], other[1]
    if start < other[0]:
        return start, other[0]
    return other[1], max(other[1], end)


def _shifted(span: tuple[int, int], place: tuple[int, int], shift: int) -> tuple[int, int]:
    def move(offset: int, is_end: bool) -> int:
        if offset > place[1] or (offset == place[1] and (is_end or place[1] > place[0])):
            return offset + shift
        return min(offset, place[0] + max(0, place[1] - place[0] + shift)) if offset > place[0] else offset

    return move(span[0], False), move(span[1], True)


def _moved(span: tuple[int, int], place: tuple[int, int], shift: int) -> tuple[int, int]:
    return (span[0] + shift, span[1] + shift) if span[0] >= place[1] else span


def _nearest(text: str, needle: str, near: int, avoid: Sequence[tuple[int, int]] = ()) -> int | None:
    hits = [m.start() for m in re.finditer(re.escape(needle), text)] if needle else []
    hits = [at for at in hits if not any(a < at + len(needle) and at < b for a, b in avoid)]
    return min(hits, key=lambda at: abs(at - near)) if hits else None


# --------------------------------------------------------------------------
# The placeholder strategy
# --------------------------------------------------------------------------

_MARK = re.compile(r"<(/?)([gx])(\d+)(/?)>")


def to_placeholders(unit: Unit) -> str:
    """``unit.text`` with pair tags as ``<gN>...</gN>`` and empty tags as ``<xN/>`` (N: the tag's index)."""
    events = []
    for n, tag in enumerate(unit.tags):
        if tag.kind == "empty":
            events.append((tag.start, 1, 0, f"<x{n}/>"))
        elif tag.kind == "pair":
            events.append((tag.end, 0, -tag.start, f"</g{n}>"))
            events.append((tag.start, 2, -tag.end, f"<g{n}>"))
    out, position = [], 0
    for offset, _, _, mark in sorted(events):
        out.append(unit.text[position:offset])
        out.append(mark)
        position = offset
    out.append(unit.text[position:])
    return "".join(out)


def from_placeholders(output: str, source: Unit) -> tuple[str, list[Tag], int]:
    """The plain text of a translated marked sentence, the tags found in it, and how many were lost.

    A marker that is missing, repeated or badly nested loses its tag (keep tags are not markers).
    """
    text: list[str] = []
    length, opened, found = 0, {}, {}
    stack: list[int] = []
    position = 0
    for match in _MARK.finditer(output):
        chunk = output[position : match.start()]
        text.append(chunk)
        length += len(chunk)
        position = match.end()
        closing, kind, number, void = match.group(1) == "/", match.group(2), int(match.group(3)), match.group(4)
        if number >= len(source.tags) or number in found:
            continue
        expected = source.tags[number].kind
        if kind == "x" and void and expected == "empty":
            found[number] = (length, length)
        elif kind == "g" and not closing and not void and expected == "pair" and number not in opened:
            opened[number] = length
            stack.append(number)
        elif kind == "g" and closing and stack and stack[-1] == number:
            stack.pop()
            found[number] = (opened.pop(number), length)
    text.append(output[position:])
    plain, moved = _collapse_spaces("".join(text))
    found = {n: (moved(a), moved(b)) for n, (a, b) in found.items()}
    tags = [Tag(start, end, source.tags[n].id, source.tags[n].kind) for n, (start, end) in sorted(found.items())]
    lost = sum(1 for tag in source.tags if tag.kind != "keep") - len(tags)
    return plain, tags, lost


def _collapse_spaces(text: str):  # noqa: ANN202 - returns the text and an offset map
    """``text`` with runs of spaces made one and the ends stripped, and a function mapping old offsets to new."""
    keep = [i for i, ch in enumerate(text) if not (ch == " " and (i == 0 or text[i - 1] == " "))]
    out = "".join(text[i] for i in keep)
    lead = len(out) - len(out.lstrip())
    out_stripped = out.strip()

    def moved(offset: int) -> int:
        import bisect

        new = bisect.bisect_left(keep, offset) - lead
        return min(max(new, 0), len(out_stripped))

    return out_stripped, moved
