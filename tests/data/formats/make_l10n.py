"""Write the localisation fixtures with translate-toolkit: strings.xlf (XLIFF 1.2), strings20.xlf (XLIFF 2.0),
messages.po and memory.tmx.

Run from the repository root: ``python tests/data/formats/make_l10n.py``. The files are committed; this
script says how they were made, and makes them again byte for byte.

translate-toolkit builds the stores, units, notes, targets, PO comments, flags, contexts and plurals. The
inline elements of XLIFF 1.2 come from its placeables (``translate.storage.placeables.xliff``); those of
XLIFF 2.0 and TMX, which its placeables do not write, are put into its units' lxml elements with lxml.
XLIFF 2.0 notes are put at unit level with lxml: translate-toolkit 3.20's ``addnote`` puts ``<notes>``
inside the ``<segment>``, where the 2.0 schema does not allow it.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from translate.misc.multistring import multistring
from translate.storage import pypo, tmx, xliff, xliff2
from translate.storage.placeables import StringElem
from translate.storage.placeables import xliff as placeables

HERE = Path(__file__).parent
XLIFF_1_2 = "urn:oasis:names:tc:xliff:document:1.2"
XLIFF_2_0 = "urn:oasis:names:tc:xliff:document:2.0"


def xliff12() -> bytes:
    skeleton = (f'<?xml version="1.0" encoding="UTF-8"?>\n<xliff xmlns="{XLIFF_1_2}" version="1.2">'
                '<file original="app/ui.html" source-language="en" datatype="html"><body/></file></xliff>')
    store = xliff.Xliff1File.parsestring(skeleton.encode())

    def add(ident: str, rich: list, target: str | None = None, note: str | None = None) -> xliff.Xliff1Unit:
        unit = store.addsourceunit("", filename="app/ui.html")
        unit.setid(ident)
        unit.rich_source = [StringElem(rich)]
        if target is not None:
            unit.settarget(target)
        if note:
            unit.addnote(note, origin="developer")
        return unit

    add("welcome", ["Welcome to ", placeables.G(id="1", sub=["mtpipe"]), "!"], note="The start page's heading.")
    add("open", ["Click ", placeables.G(id="1", sub=["here ", placeables.G(id="2", sub=["now"])]),
                 " to open ", placeables.Ph(id="3", sub=["%s"]), "."],
        note="%s is a file name; <g> is a link around <g> in bold.")
    add("lines", ["First line", placeables.X(id="1"), "second line for {name}."])
    add("bold", ["Press ", placeables.Bpt(id="1", sub=["<b>"]), "Save", placeables.Ept(id="1", sub=["</b>"]),
                 " before %1$d minutes pass."])
    add("count", ["You have {{count}} new messages."])
    add("done", ["Cancel"], target="Cancelar")
    empty = add("retry", ["Try again"], target="")
    empty.target_dom.set("state", "new")
    add("brand", ["mtpipe"]).marktranslatable(False)
    etree.cleanup_namespaces(store.document)
    return bytes(store)


def xliff20() -> bytes:
    store = xliff2.Xliff2File(sourcelanguage="en")
    ns = f"{{{XLIFF_2_0}}}"
    units = [
        ("welcome", f'<source xmlns="{XLIFF_2_0}">Welcome to <pc id="1">mtpipe</pc>!</source>', None,
         "The start page's heading."),
        ("open", f'<source xmlns="{XLIFF_2_0}">Click <pc id="1">here <pc id="2">now</pc></pc> to open '
                 f'<ph id="3" equiv="%s"/>.</source>', None, "Opens the file named by ph 3."),
        ("lines", f'<source xmlns="{XLIFF_2_0}">First line<ph id="1"/>second line for {{name}}.</source>',
         None, None),
        ("bold", f'<source xmlns="{XLIFF_2_0}">Press <sc id="1"/>Save<ec startRef="1"/> before %1$d minutes '
                 'pass.</source>', None, None),
        ("done", f'<source xmlns="{XLIFF_2_0}">Cancel</source>', "Cancelar", None),
    ]
    for ident, source, target, note in units:
        unit = store.addsourceunit("")
        unit.setid(ident)
        segment = unit.xmlelement
        segment.replace(segment.find(f"{ns}source"), etree.fromstring(source))
        if target is not None:
            unit.settarget(target)
            unit.marktranslated()
        if note:
            notes = etree.Element(f"{ns}notes")
            etree.SubElement(notes, f"{ns}note").text = note
            segment.getparent().insert(0, notes)
    etree.cleanup_namespaces(store.document)
    return bytes(store)


def po() -> bytes:
    store = pypo.pofile()
    store.updateheader(add=True, Project_Id_Version="mtpipe-demo 1.0", Language="",
                       Plural_Forms="nplurals=2; plural=(n != 1);", Report_Msgid_Bugs_To="team@example.org",
                       POT_Creation_Date="2025-01-15 10:00+0000")

    def add(source, target="", context="", locations=(), comment="", flags=()) -> pypo.pounit:
        unit = store.addsourceunit(source)
        if context:
            unit.setcontext(context)
        for location in locations:
            unit.addlocation(location)
        if comment:
            unit.addnote(comment, origin="developer")
        for flag in flags:
            unit.settypecomment(flag)
        if target:
            unit.target = target
        return unit

    add("Hello %(name)s, welcome back!", locations=["app/views.py:12"], comment="Shown after login.",
        flags=["python-format"])
    plural = add(multistring(["%d file was removed.", "%d files were removed."]), locations=["app/files.py:40"],
                 flags=["python-format"])
    plural.target = multistring(["", ""])
    add("Open", context="menu", locations=["app/menu.py:3"], target="Abrir")
    add("Open", context="verb", locations=["app/menu.py:9"])
    add("{count} new messages in {folder}", locations=["app/mail.js:77"], flags=["javascript-format"])
    add("Cancel", target="Cancelar", locations=["app/dialogs.py:5"])
    add("You have {{count}} tasks and 100% done.", locations=["app/tasks.html:8"]).addnote(
        "Checked by the Portuguese team.", origin="translator")
    add("Old greeting", target="Saudação antiga").makeobsolete()
    return bytes(store)


def tmx_file() -> bytes:
    store = tmx.tmxfile(sourcelanguage="en")
    store.addtranslation("Good morning", "en", "Bom dia", "pt", comment="Greeting")
    store.addtranslation("Save the file", "en", "Datei speichern", "de")
    unit = store.addsourceunit("", "en-US")
    unit.xmlelement.set("tuid", "press-save")
    seg = unit.getlanguageNodes()[0].find("seg")
    seg.text = "Press "
    for tag, attributes, text, tail in [("bpt", {"i": "1"}, "<b>", "Save"), ("ept", {"i": "1"}, "</b>", " now, "),
                                        ("ph", {}, "%s", " files left.")]:
        element = etree.SubElement(seg, tag, attributes)
        element.text, element.tail = text, tail
    store.addsourceunit("You have %d new messages.", "en").addnote("Mail counter")
    store.addsourceunit("Eine nur deutsche Einheit", "de")
    return bytes(store)


def main() -> None:
    for name, make in [("strings.xlf", xliff12), ("strings20.xlf", xliff20), ("messages.po", po),
                       ("memory.tmx", tmx_file)]:
        (HERE / name).write_bytes(make())
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
