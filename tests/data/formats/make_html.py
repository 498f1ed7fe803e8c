"""Write the HTML fixtures with lxml: a page built with ``lxml.html.builder`` and an XHTML page with ``lxml.etree``.

Run it from anywhere (it writes next to itself); it writes the same bytes each time.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from lxml.html import builder as E
from lxml.html import tostring

HERE = Path(__file__).resolve().parent
XHTML = "http://www.w3.org/1999/xhtml"


def page() -> bytes:
    doc = E.HTML(
        E.HEAD(
            E.META(charset="utf-8"),
            E.TITLE("mtpipe — translate documents & keep their markup"),
            E.META(name="description", content='Translate Markdown, HTML and subtitles with "mtpipe".'),
            E.META(property="og:title", content="mtpipe documentation"),
            E.LINK(rel="stylesheet", href="style.css"),
            E.STYLE("body { font-family: sans-serif; } p > b { color: #333; }"),
            E.SCRIPT('document.title = "<b>not</b> translated";'),
        ),
        E.BODY(
            E.DIV(
                E.A(E.IMG(src="logo.png", alt="The mtpipe logo", width="64"), href="/", title="Home page"),
                " Documentation ",
                E.SPAN("v0.1", {"class": "notranslate"}),
                {"class": "header"},
            ),
            E.H1("Translate documents, ", E.EM("not markup")),
            E.P(
                "mtpipe reads a file, sends each ", E.STRONG("paragraph"), " to the model and puts the ",
                E.A("translation", E.SUP("1"), href="#notes", title="Read the notes"),
                " back where the text was. Inline tags such as ", E.B("bold ", E.I("and nested italics")),
                " stay around the words they marked; ", E.CODE("code & <tags>"), " and ",
                E.KBD("Ctrl+C"), " come through unchanged.", E.BR(), "A line break stays a line break.",
            ),
            E.UL(
                E.LI("Markdown, with ", E.A("CommonMark", href="https://commonmark.org"), " tables"),
                E.LI("HTML and XHTML", E.UL(E.LI("attributes: ", E.CODE("alt"), ", ", E.CODE("title")),
                                           E.LI("the ", E.ABBR("lang", title="language"), " attribute"))),
                E.LI(E.IMG(src="warn.svg", alt="Warning:"), " subtitles keep their timings"),
            ),
            E.TABLE(
                E.CAPTION("Supported formats"),
                E.TR(E.TH("Format"), E.TH("Extensions")),
                E.TR(E.TD("Markdown"), E.TD(E.CODE(".md"), ", ", E.CODE(".markdown"))),
                E.TR(E.TD("HTML"), E.TD(E.CODE(".html"), " & ", E.CODE(".htm"))),
            ),
            E.PRE("$ mtpipe translate --src en --tgt pt page.html\n  <p>kept as it is</p>"),
            E.P("Brand names such as ", E.SPAN("Firefox Translations", translate="no"),
                " are never translated."),
            E.FORM(
                E.LABEL("Your e-mail ", E.INPUT(type="email", placeholder="name@example.org")),
                E.BUTTON("Subscribe", {"aria-label": "Subscribe to the newsletter"}),
                E.SELECT(E.OPTION("Weekly"), E.OPTION("Monthly")),
            ),
            E.DIV("Text straight in a div, ", E.P("a paragraph"), "then more text.", translate="yes"),
            E.DIV(E.P("Never translated."), translate="no"),
        ),
        lang="en",
    )
    doc.insert(1, etree.Comment(" made by make_html.py "))
    return tostring(doc, doctype="<!DOCTYPE html>", pretty_print=True, encoding="utf-8")


def xhtml() -> bytes:
    def el(tag: str, *children: object, **attrs: str) -> etree._Element:
        element = etree.Element(f"{{{XHTML}}}{tag}", nsmap={None: XHTML})
        for name, value in attrs.items():
            element.set(name.replace("_", ":") if name == "xml_lang" else name, value)
        last = None
        for child in children:
            if isinstance(child, str):
                if last is None:
                    element.text = (element.text or "") + child
                else:
                    last.tail = (last.tail or "") + child
            else:
                element.append(child)
                last = child
        return element

    root = el("html",
              el("head", el("title", "An XHTML page")),
              el("body",
                 el("h1", "Hello, ", el("em", "XHTML")),
                 el("p", "Self-closing tags ", el("br"), "and an image ", el("img", src="a.png", alt="A picture"),
                    " are empty tags; ", el("a", "links", href="https://example.org", title="Example"),
                    " are pairs; ", el("code", "x < y"), " is kept.")),
              lang="en")
    root.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True,
                          doctype='<!DOCTYPE html>')


def main() -> None:
    (HERE / "page.html").write_bytes(page())
    (HERE / "page.xhtml").write_bytes(xhtml())


if __name__ == "__main__":
    main()
