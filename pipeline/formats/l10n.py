"""Localisation files through translate-toolkit: XLIFF 1.2 and 2.0, gettext PO, TMX.

These files are already bilingual: a unit is a message that has no translation
yet, and writing fills in its translation and marks it for review, leaving
everything else (existing translations, notes, context, flags, headers) alone.

* XLIFF (:class:`XliffFormat`): a unit is a ``<trans-unit>`` (1.2) or a
  ``<segment>`` (2.0) whose ``<target>`` is missing or empty. Inline elements
  (1.2 ``<g>``, ``<x/>``, ``<bx/>``, ``<ex/>``, ``<ph>``, ``<bpt>``, ``<ept>``,
  ``<it>``, ``<mrk>``; 2.0 ``<pc>``, ``<mrk>``, ``<ph/>``, ``<sc/>``, ``<ec/>``,
  ``<sm/>``, ``<em/>``) become tags and come back in the target as the same
  elements with the same ids. Native code (``<ph>``, ``<bpt>``...) is a keep tag
  over its content, or over its ``equiv``/``equiv-text`` when it has none, so the
  text shows ``%s`` or ``<b>`` where a reader would see it. A filled target is marked as machine output that
  needs review: 1.2 ``<target state="needs-review-translation"
  state-qualifier="mt-suggestion">`` (both values are in the 1.2 spec's lists);
  2.0 ``<segment state="translated" subState="mtpipe:machine-translated">``
  (2.0 has only initial/translated/reviewed/final, "translated" is the state of
  a translation nobody has reviewed, and ``subState`` is the spec's place for a
  tool's own detail; "initial" would read as "not translated yet").
  ``target-language`` (1.2, per ``<file>``) or ``trgLang`` (2.0) is set to the
  target language when missing.
* PO (:class:`PoFormat`): a unit is a message with an empty ``msgstr``; a plural
  message gives two units (``msgid``, ``msgid_plural``); ``msgstr[0]`` gets the
  singular's translation and every other form the plural's. New translations
  are marked ``#, fuzzy``.
* TMX (:class:`TmxFormat`): a unit is the source-language ``<tuv>`` of a
  ``<tu>`` that has none in the target language; writing adds a ``<tuv>`` in
  the target language, with ``creationtool="mtpipe"`` and a
  ``<prop type="x-mtpipe">machine-translated</prop>``.

translate-toolkit parses the files and finds the units (its XLIFF 1.x and 2.0,
PO and TMX stores); the XML is written back from the same lxml tree with lxml
rather than with translate-toolkit's serialiser, because that one re-indents the
whole file, and a reviewer wants a diff that shows only the new targets. XML
files therefore come back equal after parsing, not byte for byte (lxml
normalises quotes and character references); a file with nothing to translate
comes back byte for byte.

Tags a translation dropped are dropped from the target (XLIFF, TMX); ``keep``
tags always write their source's text or element, whatever the translation has
in their place.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lxml import etree
from translate.misc.multistring import multistring
from translate.misc.xml_helpers import XML_NS, extract_xml_prolog, getXMLspace, parse_xml
from translate.storage import pypo, tmx, xliff, xliff2
from translate.storage.poparser import PoParseError

from pipeline.errors import InputError
from pipeline.formats.base import Document, FormatOptions, Tag, Unit, decode_utf8

__all__ = ["PoFormat", "TmxFormat", "XliffFormat", "placeholder_tags"]

PLACEHOLDER = re.compile(
    r"""
      %%                                              # a literal percent sign in a format string
    | %(?:\d+\$)?(?:\([\w.-]+\))?[-+\#0]*(?:\d+|\*)?  # printf / Python: %s %1$d %(name)s %-5.2f
      (?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|z|j|t)?[diouxXeEfFgGcrsaAp@]
    | \{\{\s*[\w.-]+\s*\}\}                           # {{count}}: i18next, Handlebars, Jinja
    | \$\{[\w.-]+\}                                   # ${name}: JavaScript, shell
    | \{[\w.-]*(?:![rsa])?(?::[^{}\s]*)?\}            # {name} {0} {} {x:>10}: Python, ICU, C#
    """,
    re.VERBOSE,
)
"""Placeholders that must come through translation as they are."""

_XML_LANG = f"{{{XML_NS}}}lang"
_PAIR = frozenset({"g", "pc", "mrk", "hi"})  # inline elements around translatable text
_CODE = frozenset({"ph", "bpt", "ept", "it", "ut"})  # native code: kept; their content is not text
_PAIRED_CODE = frozenset({"bpt", "ept", "it"})  # the halves of a code pair: empty tags, their content hidden

_1_2_STATE = {"state": "needs-review-translation", "state-qualifier": "mt-suggestion"}
_2_0_STATE = {"state": "translated", "subState": "mtpipe:machine-translated"}
_TMX_PROP = ("x-mtpipe", "machine-translated")


def placeholder_tags(text: str, start_id: int = 0, offset: int = 0) -> list[Tag]:
    """``keep`` tags over the placeholders in ``text``: ``%s``, ``%1$d``, ``%(name)s``, ``{name}``, ``{{count}}``.

    Args:
        text: the text to look in.
        start_id: the first tag's id; the others follow one by one.
        offset: added to every position (for a piece of a longer text).
    """
    return [Tag(offset + m.start(), offset + m.end(), start_id + number, "keep")
            for number, m in enumerate(PLACEHOLDER.finditer(text))]


# ---------------------------------------------------------------------------------------------------------------
# Inline XML: an element's content <-> text with tags


@dataclass(frozen=True)
class _Code:
    """The markup of one tag: ``text`` (a placeholder's own text), ``pair`` (an element's serialisation
    without its content, filled with the translation's text), ``xml`` (an inline element or comment,
    serialised whole and written back as it is) or ``entity`` (an undefined entity reference)."""

    kind: Literal["text", "pair", "xml", "entity"]
    value: str
    covers_text: bool = False  # a keep tag: the source had text under it, which the markup writes again


@dataclass
class _Flat:
    """An element's content being turned into text with tags."""

    collapse: bool
    parts: list[str] = field(default_factory=list)
    size: int = 0
    tags: list[Tag] = field(default_factory=list)
    codes: dict[int, _Code] = field(default_factory=dict)

    def text(self, piece: str | None) -> None:
        if not piece:
            return
        if self.collapse:  # xml:space="default": runs of white space are one space, none at the ends
            piece = re.sub(r"\s+", " ", piece)
            if not self.parts or self.parts[-1].endswith(" "):
                piece = piece.lstrip(" ")
        for tag in placeholder_tags(piece, len(self.codes), self.size):
            self.tags.append(tag)
            self.codes[tag.id] = _Code("text", piece[tag.start - self.size: tag.end - self.size], True)
        self._add(piece)

    def _add(self, piece: str) -> None:
        if piece:
            self.parts.append(piece)
            self.size += len(piece)

    def tag(self, kind: Literal["pair", "empty", "keep"], code: _Code) -> int:
        number = len(self.codes)
        self.codes[number] = code
        self.tags.append(Tag(self.size, self.size, number, kind))
        return len(self.tags) - 1

    def close(self, index: int) -> None:
        tag = self.tags[index]
        self.tags[index] = Tag(tag.start, self.size, tag.id, tag.kind)

    def element(self, node: Any) -> None:
        """Add ``node``'s content (its text and children, with their tails)."""
        self.text(node.text)
        for child in node:
            self.inline(child)
            self.text(child.tail)

    def inline(self, child: Any) -> None:
        if child.tag is etree.Entity:
            self.tag("empty", _Code("entity", child.name))
            return
        if not isinstance(child.tag, str):  # a comment or a processing instruction
            self.tag("empty", _Code("xml", etree.tostring(child, encoding="unicode", with_tail=False)))
            return
        name = etree.QName(child).localname
        whole = _Code("xml", etree.tostring(child, encoding="unicode", with_tail=False))
        if name in _PAIRED_CODE:
            # Half of a pair of native codes (<bpt>&lt;b&gt;</bpt>): markup, not words, so the model
            # never sees it; it stands where it stood, between the words the alignment moves.
            self.tag("empty", whole)
            return
        if name in _CODE or (name not in _PAIR and not len(child) and not child.text):
            # what a reader sees in its place: its content (1.2, TMX), else the text it stands for (2.0 equiv,
            # 1.2 equiv-text), else nothing
            inner = "".join(child.itertext()) or child.get("equiv") or child.get("equiv-text") or ""
            if not inner:
                self.tag("empty", whole)
                return
            index = self.tag("keep", _Code("xml", whole.value, True))
            self._add(inner)
            self.close(index)
            return
        shell = etree.Element(child.tag, child.attrib, nsmap=child.nsmap)
        index = self.tag("pair", _Code("pair", etree.tostring(shell, encoding="unicode")))
        self.element(child)
        self.close(index)

    def unit(self, where: str) -> Unit | None:
        text = "".join(self.parts)
        if self.collapse and text.endswith(" "):
            text = text[:-1]
        if not text.strip():
            return None
        end = len(text)
        tags = tuple(Tag(min(t.start, end), min(t.end, end), t.id, t.kind) for t in self.tags)
        return Unit(text, tags, where)


def _flatten(node: Any, where: str, default_space: str) -> tuple[Unit | None, dict[int, _Code]]:
    """``node``'s content as a unit (None if it has no text) and the markup of its tags."""
    flat = _Flat(collapse=_xml_space(node, default_space) == "default")
    flat.element(node)
    return flat.unit(where), flat.codes


def _xml_space(node: Any, default: str) -> str:
    while node is not None:
        value = getXMLspace(node)
        if value:
            return value
        node = node.getparent()
    return default


def _fill(target: Any, unit: Unit, codes: dict[int, _Code]) -> None:
    """Put ``unit`` into the (empty) element ``target``: its text, with each tag's markup rebuilt.

    Tags are placed as :func:`pipeline.formats.base.render_tags` places them, and do what their
    source tag did, whatever kind the translation gives them: a pair element gets the text under it,
    a keep tag writes its source's text or element instead of the text under it, an empty one stands
    where it starts. Tags whose ids the source did not have are ignored; tags that do not nest are
    closed where they end (with anything opened inside them).
    """
    tags = [tag for tag in unit.tags if tag.id in codes]
    events: list[tuple[int, int, int, int, str, Tag]] = []
    for seq, tag in enumerate(tags):
        code = codes[tag.id]
        if (code.kind != "pair" and not code.covers_text) or tag.end <= tag.start:
            events.append((tag.start, 1, 0, seq, "empty", tag))
        else:
            events.append((tag.end, 0, -tag.start, -seq, "close", tag))
            events.append((tag.start, 2, -tag.end, seq, "open", tag))
    events.sort(key=lambda event: event[:4])
    stack: list[tuple[Any, int | None]] = [(target, None)]
    position = skip = 0
    text = unit.text
    for offset, _, _, _, action, tag in events:
        if offset > skip:
            _append_text(stack[-1][0], text[max(position, skip):offset])
        position = max(position, offset)
        code = codes[tag.id]
        if action == "close":
            if any(tag_id == tag.id for _, tag_id in stack):
                while stack[-1][1] != tag.id:
                    stack.pop()
                stack.pop()
        elif code.kind == "pair":  # opened, or standing empty where the translation left no text under it
            element = _rebuild(code.value, target)[0]
            stack[-1][0].append(element)
            if action == "open":
                stack.append((element, tag.id))
        else:
            _append_code(stack[-1][0], code)
            if code.covers_text:
                skip = max(skip, tag.end)
    if len(text) > skip:
        _append_text(stack[-1][0], text[max(position, skip):])


def _append_text(parent: Any, piece: str) -> None:
    if not piece:
        return
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + piece
    else:
        parent.text = (parent.text or "") + piece


def _append_code(parent: Any, code: _Code) -> None:
    if code.kind == "text":
        _append_text(parent, code.value)
    elif code.kind == "entity":
        parent.append(etree.Entity(code.value))
    else:
        for node in _rebuild(code.value, parent):
            parent.append(node)


def _rebuild(xml: str, context: Any) -> list[Any]:
    """The nodes serialised in ``xml``, parsed where ``context``'s default namespace applies."""
    namespace = context.nsmap.get(None)
    declaration = f' xmlns="{namespace}"' if namespace else ""
    wrapper = etree.fromstring(f"<mtpipe-wrapper{declaration}>{xml}</mtpipe-wrapper>")
    return list(wrapper)


# ---------------------------------------------------------------------------------------------------------------
# XML files: parsing with positions in errors, and writing back around the root element


def _parse(data: bytes, name: str, root_name: str, what: str) -> Any:
    """The root of ``data``, parsed with translate-toolkit's safe parser, after checking it is ``<root_name>``.

    Raises:
        InputError: the file is not well-formed XML, or its root element is another one.
    """
    if not data.strip():
        raise InputError(f"{name}: empty file, not {what}")
    try:
        root = parse_xml(data)
    except etree.XMLSyntaxError as err:
        line, column = err.position
        message = re.sub(r", line \d+, column \d+$", "", err.msg or str(err))
        raise InputError(f"{name}:{line}:{column}: malformed XML: {message}") from err
    found = etree.QName(root).localname
    if found != root_name:
        raise InputError(f"{name}:{root.sourceline}: not {what} (the root element is <{found}>, not <{root_name}>)")
    return root


def _serialise(raw: bytes, root: Any) -> str:
    """The file with ``root`` written anew and the text around it (declaration, doctype, comments) as it was.

    The declaration names UTF-8, since the result is text that is written as UTF-8.
    """
    encoding = root.getroottree().docinfo.encoding or "utf-8"
    prolog = extract_xml_prolog(raw).decode(encoding)
    prolog = re.sub(r"""(<\?xml[^>]*encoding\s*=\s*)(["'])[^"']*\2""", r"\1\2UTF-8\2", prolog, count=1)
    local = etree.QName(root).localname
    closings = list(re.finditer(rf"</(?:[\w.-]+:)?{re.escape(local)}\s*>".encode(), raw))
    closing = closings[-1] if closings else None
    epilog = raw[closing.end():].decode(encoding) if closing else "\n"
    return prolog + etree.tostring(root, encoding="unicode") + epilog


def _unchanged(raw: bytes, root: Any) -> str:
    """A file with nothing to translate: its own text, byte for byte where it is UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _serialise(raw, root)


def _insert_after(reference: Any, new: Any) -> None:
    """Put ``new`` after ``reference``, with the layout white space that stands before ``reference`` before it too."""
    before = reference.getprevious()
    gap = before.tail if before is not None else reference.getparent().text
    new.tail = reference.tail
    reference.tail = gap if gap is not None and not gap.strip() else None
    reference.addnext(new)


def _language(node: Any) -> str:
    return (node.get(_XML_LANG) or node.get("lang") or "").replace("_", "-")


def _primary(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()


def _covers(wanted: str, language: str) -> bool:
    """Whether ``language`` is ``wanted`` or one of its variants (``pt`` covers ``pt-BR``; ``pt-BR`` not ``pt``)."""
    wanted_tags = wanted.replace("_", "-").lower().split("-")
    return language.lower().split("-")[: len(wanted_tags)] == wanted_tags


@dataclass(frozen=True)
class _Entry:
    """Where one unit is in the tree (XPaths, since writing works on a fresh parse) and its tags' markup."""

    path: str
    codes: dict[int, _Code]
    source_path: str = ""


@dataclass(frozen=True)
class _XmlData:
    raw: bytes
    entries: list[_Entry]


def _xml_document(name: str, fmt: str, units: list[Unit], raw: bytes, entries: list[_Entry]) -> Document:
    return Document(fmt, name, units, _XmlData(raw, entries))


# ---------------------------------------------------------------------------------------------------------------
# XLIFF


class XliffFormat:
    """XLIFF 1.2 and 2.0: untranslated segments are the units; inline elements come back in the targets."""

    name = "xliff"
    extensions = (".xlf", ".xliff")
    binary = False

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        root = _parse(data, name, "xliff", "an XLIFF file")
        store = self._store(data, root, name)
        version2 = isinstance(store, xliff2.Xliff2File)
        tree = store.document
        root = tree.getroot()
        units: list[Unit] = []
        entries: list[_Entry] = []
        for tu in store.units:
            element = tu.xmlelement
            if not tu.istranslatable():
                continue
            where = self._where(element, version2)
            source = tu.source_dom
            if source is None:
                raise InputError(f"{name}:{element.sourceline}: {where} has no <source>")
            target = tu.target_dom
            if target is not None and (len(target) or (target.text or "").strip()):
                continue  # already translated: kept as it is
            unit, codes = _flatten(source, where, tu._default_xml_space)
            if unit is None:
                continue
            units.append(unit)
            entries.append(_Entry(tree.getpath(element), codes))
        if units:
            self._check_language(root, entries, tree, version2, name, options)
        return _xml_document(name, self.name, units, data, entries)

    @staticmethod
    def _store(data: bytes, root: Any, name: str) -> Any:
        version = root.get("version", "")
        namespace = etree.QName(root).namespace or ""
        version2 = version.startswith("2.") or (not version and ":2." in namespace)
        store = xliff2.Xliff2File() if version2 else xliff.Xliff1File()
        try:
            store.parse(data)
        except (ValueError, StopIteration) as err:  # translate-toolkit finds no <file>, or a wrong version
            raise InputError(f"{name}: not a valid XLIFF {'2' if version2 else '1.x'} file: {str(err) or 'no <file>'}",
                             hint="an XLIFF file has an <xliff> root with at least one <file>") from err
        return store

    @staticmethod
    def _where(element: Any, version2: bool) -> str:
        if version2:
            unit = element.getparent()
            segment = element.get("id")
            label = f"unit {unit.get('id')!r}" + (f" segment {segment!r}" if segment else "")
        else:
            label = f"trans-unit {element.get('id')!r}" if element.get("id") is not None else ""
        return f"line {element.sourceline}, {label}".rstrip(", ")

    @staticmethod
    def _check_language(root: Any, entries: list[_Entry], tree: Any, version2: bool, name: str,
                        options: FormatOptions) -> None:
        """A file already meant for another target language would get a translation it cannot hold."""
        namespace = etree.QName(root).namespace
        file_tag = f"{{{namespace}}}file" if namespace else "file"
        holders: list[Any] = []
        for entry in entries:
            element = tree.xpath(entry.path)[0]
            holder = root if version2 else next(element.iterancestors(file_tag), None)
            if holder is not None and holder not in holders:
                holders.append(holder)
        attribute = "trgLang" if version2 else "target-language"
        for holder in holders:
            language = holder.get(attribute)
            if language and _primary(language) != _primary(options.tgt_lang):
                raise InputError(
                    f"{name}:{holder.sourceline}: the file's {attribute} is {language!r}, "
                    f"not the target language {options.tgt_lang!r}",
                    hint=f"translate it into {language!r}, or remove {attribute} from the file",
                )

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> str:
        data: _XmlData = document.data
        root = parse_xml(data.raw)
        if not data.entries:
            return _unchanged(data.raw, root)
        namespace = etree.QName(root).namespace
        version2 = root.get("version", "").startswith("2.") or ":2." in (namespace or "")
        qualified = (lambda local: f"{{{namespace}}}{local}") if namespace else (lambda local: local)
        tree = root.getroottree()
        for entry, unit in zip(data.entries, translations, strict=True):
            element = tree.xpath(entry.path)[0]
            source = element.find(qualified("source"))
            target = element.find(qualified("target"))
            if target is None:
                target = etree.Element(qualified("target"))
                after = element.find(qualified("seg-source"))
                _insert_after(after if after is not None else source, target)
            else:
                for child in list(target):
                    target.remove(child)
                target.text = None
            _fill(target, unit, entry.codes)
            if version2:
                for key, value in _2_0_STATE.items():
                    element.set(key, value)
            else:
                for key, value in _1_2_STATE.items():
                    target.set(key, value)
                file_node = next(element.iterancestors(qualified("file")), None)
                if file_node is not None and not file_node.get("target-language"):
                    file_node.set("target-language", options.tgt_lang)
        if version2 and not root.get("trgLang"):
            root.set("trgLang", options.tgt_lang)
        return _serialise(data.raw, root)


# ---------------------------------------------------------------------------------------------------------------
# TMX


class TmxFormat:
    """TMX: the source-language variant of each translation unit without a target-language one is a unit."""

    name = "tmx"
    extensions = (".tmx",)
    binary = False

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        root = _parse(data, name, "tmx", "a TMX file")
        if root.find("body") is None:
            raise InputError(f"{name}:{root.sourceline}: not a TMX file: <tmx> has no <body>")
        try:
            store = tmx.tmxfile.parsestring(data, sourcelanguage=options.src_lang)
        except (ValueError, AssertionError) as err:
            raise InputError(f"{name}: not a valid TMX file: {err}") from err
        tree = store.document
        units: list[Unit] = []
        entries: list[_Entry] = []
        languages: set[str] = set()
        sources = 0
        for number, tu in enumerate(store.units, start=1):
            variants = tu.getlanguageNodes()
            languages.update(_language(node) for node in variants if _language(node))
            source = self._source(variants, options.src_lang)
            if source is None:
                continue
            sources += 1
            if any(_covers(options.tgt_lang, _language(node)) for node in variants if node is not source):
                continue  # already translated: kept as it is
            segment = source.find("seg")
            label = f"tu {tu.xmlelement.get('tuid')!r}" if tu.xmlelement.get("tuid") else f"tu {number}"
            where = f"line {tu.xmlelement.sourceline}, {label}"
            if segment is None:
                raise InputError(
                    f"{name}:{source.sourceline}: {where}: the <tuv> in {_language(source)!r} has no <seg>")
            unit, codes = _flatten(segment, where, "preserve")
            if unit is None:
                continue
            units.append(unit)
            entries.append(_Entry(tree.getpath(tu.xmlelement), codes, tree.getpath(source)))
        if store.units and not sources:
            raise InputError(
                f"{name}: no <tuv> in the source language {options.src_lang!r} "
                f"(the file has: {', '.join(sorted(languages)) or 'none'})",
                hint="set the source language to one of the file's languages",
            )
        return _xml_document(name, self.name, units, data, entries)

    @staticmethod
    def _source(variants: list[Any], src_lang: str) -> Any:
        """The variant in ``src_lang``: the same tag if there is one, else the first with its primary subtag."""
        for node in variants:
            if _language(node).lower() == src_lang.replace("_", "-").lower():
                return node
        return next((node for node in variants if _primary(_language(node)) == _primary(src_lang)), None)

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> str:
        data: _XmlData = document.data
        root = parse_xml(data.raw)
        if not data.entries:
            return _unchanged(data.raw, root)
        tree = root.getroottree()
        for entry, unit in zip(data.entries, translations, strict=True):
            tu = tree.xpath(entry.path)[0]
            source = tree.xpath(entry.source_path)[0]
            source_seg = source.find("seg")
            variant = etree.Element("tuv")
            variant.set(_XML_LANG if source.get(_XML_LANG) is not None else "lang", options.tgt_lang)
            variant.set("creationtool", "mtpipe")
            variant.text = source.text
            prop = etree.SubElement(variant, "prop", type=_TMX_PROP[0])
            prop.text = _TMX_PROP[1]
            prop.tail = source.text
            segment = etree.SubElement(variant, "seg", source_seg.attrib)
            segment.tail = source_seg.tail
            _fill(segment, unit, entry.codes)
            last = tu.findall("tuv")[-1]
            _insert_after(last, variant)
        return _serialise(data.raw, root)


# ---------------------------------------------------------------------------------------------------------------
# PO


@dataclass(frozen=True)
class _PoEntry:
    """One unit of a PO file: the message's index in translate-toolkit's store, and which of its msgids."""

    index: int
    plural: bool
    codes: dict[int, _Code]


@dataclass(frozen=True)
class _PoData:
    raw: bytes
    entries: list[_PoEntry]


class PoFormat:
    """Gettext PO and POT: messages with an empty ``msgstr`` are the units; placeholders are kept."""

    name = "po"
    extensions = (".po", ".pot")
    binary = False

    def read(self, data: bytes, name: str, options: FormatOptions) -> Document:
        store = self._parse(data, name)
        units: list[Unit] = []
        entries: list[_PoEntry] = []
        for index, message in enumerate(store.units):
            if message.isheader() or message.isobsolete() or not message.source:
                continue
            if any(message.target.strings if message.hasplural() else [message.target]):
                continue  # already translated: kept as it is
            texts = message.source.strings[:2] if message.hasplural() else [message.source]
            where = self._where(message)
            for plural, text in enumerate(texts):
                tags = tuple(placeholder_tags(text))
                codes = {tag.id: _Code("text", text[tag.start:tag.end]) for tag in tags}
                units.append(Unit(text, tags, where + (" (plural)" if plural else "")))
                entries.append(_PoEntry(index, bool(plural), codes))
        return Document(self.name, name, units, _PoData(data, entries))

    @staticmethod
    def _parse(data: bytes, name: str) -> Any:
        store = pypo.pofile()  # the pure-Python parser, whatever USECPO says: its errors carry line numbers
        try:
            store.parse(data)
        except PoParseError as err:
            state = err.parse_state
            what = str(err).split(" on line ")[0]
            line = state.lineno
            found = state.next_line.rstrip("\n")
            if what.startswith("Unsupported charset"):
                line, found = state.charset_lineno, state.charset_line.rstrip("\n")
            raise InputError(f"{name}:{line}: PO syntax error: {what[0].lower() + what[1:]}: {found!r}") from err
        except UnicodeDecodeError as err:
            raise InputError(f"{name}: not {store.encoding}, as its header says: {err.reason}") from err
        if codecs.lookup(store.encoding or "utf-8").name == "utf-8":
            decode_utf8(data, name)  # translate-toolkit falls back to Latin-1 quietly; a UTF-8 file must be UTF-8
        return store

    @staticmethod
    def _where(message: Any) -> str:
        line = getattr(message, "_line_number", None)
        context = message.getcontext()
        source = message.source.strings[0] if message.hasplural() else message.source
        short = source if len(source) <= 40 else source[:37] + "..."
        label = (f"msgctxt {context!r} " if context else "") + f"msgid {short!r}"
        return f"line {line}, {label}" if line else label

    def write(self, document: Document, translations: Sequence[Unit], options: FormatOptions) -> str:
        data: _PoData = document.data
        if not data.entries:
            try:
                return data.raw.decode("utf-8")
            except UnicodeDecodeError:
                pass
        store = self._parse(data.raw, document.name)
        texts: dict[int, list[str]] = {}
        for entry, unit in zip(data.entries, translations, strict=True):
            texts.setdefault(entry.index, []).append(_po_text(unit, entry.codes))
        forms = _plural_count(store)
        for index, (singular, *plural) in texts.items():
            message = store.units[index]
            if message.hasplural():
                count = forms or max(len(message.target.strings), 2)
                message.target = multistring([singular] + [plural[0] if plural else singular] * (count - 1))
            else:
                message.target = singular
            message.markfuzzy(True)
        if data.entries:
            header = store.parseheader()
            changes = {}
            if not header.get("Language"):
                changes["Language"] = options.tgt_lang
            if codecs.lookup(store.encoding or "utf-8").name != "utf-8" or "CHARSET" in header.get("Content-Type", ""):
                changes["Content_Type"] = "text/plain; charset=UTF-8"
                store.encoding = "utf-8"
            if changes and store.header() is not None:
                store.updateheader(add=True, **changes)
        return bytes(store).decode("utf-8")


def _po_text(unit: Unit, codes: dict[int, _Code]) -> str:
    """The translation's text, with each keep tag's span holding its source text again."""
    out: list[str] = []
    position = 0
    for tag in sorted((tag for tag in unit.tags if tag.id in codes and tag.kind == "keep"), key=lambda t: t.start):
        if tag.start < position:
            continue  # overlapping spans: the first one wins
        out.append(unit.text[position:tag.start])
        out.append(codes[tag.id].value)
        position = tag.end
    out.append(unit.text[position:])
    return "".join(out)


def _plural_count(store: Any) -> int | None:
    """``nplurals`` from the header's Plural-Forms, if it names a number."""
    match = re.search(r"nplurals\s*=\s*(\d+)", store.parseheader().get("Plural-Forms", ""))
    return int(match.group(1)) if match else None
