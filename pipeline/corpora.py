"""A job's corpora: the source segments and their references, read and checked before any model loads.

A corpus is either files named in the job (a source, one or more references per
target language) or a sacrebleu test set, which sacrebleu downloads when needed.
A corpus marked ``segment`` is a document: it is split into sentences, and each
reference must be alignable with it by paragraph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import CorpusConfig
from pipeline.errors import ConfigError, InputError
from pipeline.textio import read_lines, read_text

__all__ = ["PreparedCorpus", "prepare_corpus"]


@dataclass(frozen=True)
class PreparedCorpus:
    """A corpus read, segmented and checked against its references."""

    config: CorpusConfig
    segments: list[str]
    paragraph_ids: list[int] | None
    references: dict[str, list[list[str]]]
    document: Any = None  # a segmented text: pipeline.segment.Document; another format: documents.PreparedDocument

    def ids(self) -> list[str]:
        """Stable segment ids: ``<corpus>:<n>`` counting from 1."""
        return [f"{self.config.name}:{n}" for n in range(1, len(self.segments) + 1)]


def prepare_corpus(corpus: CorpusConfig) -> PreparedCorpus:
    """Read a corpus and its references; segment it if asked; check the alignment.

    Raises:
        InputError: a file is missing, empty, not UTF-8, or its line count does not match.
        ConfigError: a sacrebleu test set that does not exist or lacks the corpus's direction.
    """
    from pipeline.align import align_document, check_alignment

    if corpus.sacrebleu:
        source, reference_files = _sacrebleu_files(corpus)
    else:
        source, reference_files = corpus.source, corpus.references
    fmt = corpus.document_format
    if fmt is not None:
        return _prepare_document(corpus, fmt, reference_files)
    references = {lang: [read_lines(path) for path in paths] for lang, paths in reference_files.items()}
    if corpus.segment:
        from pipeline.segment import Segmenter

        document = Segmenter(corpus.src_lang, backend=corpus.segmenter).segment(read_text(source))
        segments, paragraph_ids = list(document.texts), list(document.paragraph_ids)
        for lang, refs in references.items():
            # Fails now, before any model loads, if the reference cannot be aligned at all.
            align_document(segments, paragraph_ids, refs, tgt_lang=lang)
        return PreparedCorpus(corpus, segments, paragraph_ids, references, document)
    segments = read_lines(source)
    for lang, refs in references.items():
        check_alignment(segments, refs, names=[str(source), *map(str, reference_files[lang])])
    if corpus.lines is not None:  # a range of the lines, e.g. a held-out half of a test set
        first, last = corpus.lines
        if last > len(segments):
            raise InputError(f"corpus {corpus.name!r}: lines {first}-{last} but {source} has {len(segments)} lines")
        segments = segments[first - 1 : last]
        references = {lang: [ref[first - 1 : last] for ref in refs] for lang, refs in references.items()}
    return PreparedCorpus(corpus, segments, None, references)


def _prepare_document(corpus: CorpusConfig, fmt: str, reference_files: dict[str, tuple[Path, ...]]
                      ) -> PreparedCorpus:
    """A corpus whose source is a document in a format: its units cut into sentences, references by unit.

    A reference in the same format is read with it (one paragraph per unit); any other
    reference is plain text, one paragraph per line (or per block between blank lines).
    """
    from pipeline.align import align_document
    from pipeline.documents import prepare
    from pipeline.formats import FormatOptions, format_for, read_document
    from pipeline.glossary import read_glossary

    glossary = read_glossary(corpus.glossary) if corpus.glossary is not None else None
    options = FormatOptions(src_lang=corpus.src_lang, tgt_lang=(corpus.tgt_langs or ("und",))[0],
                            field=corpus.field, line_length=corpus.line_length)
    document = read_document(corpus.source, fmt, options)
    prepared = prepare(document, corpus.src_lang, options=options, split=fmt != "text" or corpus.segment,
                       segmenter=corpus.segmenter, glossary=glossary)
    references: dict[str, list[list[str]]] = {}
    for lang, paths in reference_files.items():
        streams = []
        for path in paths:
            ref_format = format_for(path) if fmt != "text" else "text"
            if ref_format == fmt:
                streams.append([unit.text for unit in read_document(path, fmt, options).units])
            else:
                streams.append(read_lines(path))
        references[lang] = streams
        align_document(prepared.texts, prepared.paragraph_ids, streams, tgt_lang=lang)
    return PreparedCorpus(corpus, prepared.texts, prepared.paragraph_ids, references, prepared)


def _sacrebleu_files(corpus: CorpusConfig) -> tuple[Path, dict[str, tuple[Path, ...]]]:
    """Source and reference files of a sacrebleu test set, downloaded by sacrebleu when needed."""
    from sacrebleu.dataset import DATASETS

    from pipeline.languages import parse_language

    name = corpus.sacrebleu or ""
    if name not in DATASETS:
        raise ConfigError(f"corpus {corpus.name!r}: sacrebleu has no test set {name!r}", hint="see `sacrebleu --list`")
    dataset = DATASETS[name]
    src = parse_language(corpus.src_lang).language
    sources: set[str] = set()
    references: dict[str, tuple[Path, ...]] = {}
    for tgt in corpus.tgt_langs:
        pair = f"{src}-{parse_language(tgt).language}"
        if pair not in dataset.langpairs:
            raise ConfigError(
                f"corpus {corpus.name!r}: sacrebleu test set {name} has no {pair} (has: {', '.join(dataset.langpairs)})"
            )
        try:
            sources.add(dataset.get_source_file(pair))
            references[tgt] = tuple(Path(p) for p in dataset.get_reference_files(pair))
        except Exception as err:  # sacrebleu raises plain exceptions (and exits) on download failures
            raise InputError(f"corpus {corpus.name!r}: cannot fetch sacrebleu test set {name} {pair}: {err}") from err
    if len(sources) != 1:
        raise ConfigError(f"corpus {corpus.name!r}: {name} has different sources per target; use one corpus per pair")
    return Path(sources.pop()), references
