"""Write report.docx with python-docx (python tests/data/formats/make_docx.py).

A heading, paragraphs with bold, italic, underlined and bold-italic runs, a hyperlink (python-docx has no
API for links, so its XML is built here as Word writes it), a tab and a line break, a footnote-like
superscript, a table, an empty paragraph, a picture, and a header and a footer.
"""

from __future__ import annotations

import base64
from pathlib import Path

import docx
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches

HERE = Path(__file__).parent
# A 1x1 transparent PNG.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def add_hyperlink(paragraph, text: str, url: str) -> None:
    rel = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    style = OxmlElement("w:rStyle")
    style.set(qn("w:val"), "Hyperlink")
    props.append(style)
    run.append(props)
    t = OxmlElement("w:t")
    t.text = text
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


def main() -> None:
    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = "Annual report — confidential"
    section.footer.paragraphs[0].add_run("Prepared by the ")
    section.footer.paragraphs[0].add_run("finance").italic = True
    section.footer.paragraphs[0].add_run(" team")

    document.add_heading("Annual report 2024", level=1)
    p = document.add_paragraph("This year was ")
    p.add_run("very").bold = True
    p.add_run(" good for ")
    p.add_run("our customers").italic = True
    p.add_run(", and ")
    both = p.add_run("even better")
    both.bold = True
    both.italic = True
    p.add_run(" for us.")

    p = document.add_paragraph("Read the full results on ")
    add_hyperlink(p, "our website", "https://example.com/results")
    p.add_run(". Figures are ")
    p.add_run("unaudited").underline = True
    p.add_run(".")
    sup = p.add_run("1")
    sup.font.superscript = True

    p = document.add_paragraph("Revenue:")
    p.add_run().add_tab()
    p.add_run("12.5 million")
    p.add_run().add_break()
    p.add_run("Costs:\t8.1 million")

    document.add_paragraph("")
    document.add_paragraph("Highlights", style="List Bullet")
    document.add_paragraph("A new office in Lisbon.", style="List Bullet")

    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).text = "Growth"
    table.cell(1, 0).text = "Europe"
    cell = table.cell(1, 1).paragraphs[0]
    cell.add_run("12%").bold = True
    cell.add_run(" (best year)")

    picture = HERE / "_pixel.png"
    picture.write_bytes(PIXEL)
    try:
        p = document.add_paragraph("Our logo: ")
        p.add_run().add_picture(str(picture), width=Inches(0.2))
        p.add_run(" since 1999.")
    finally:
        picture.unlink()

    document.add_paragraph("1 Before the final audit.")
    document.save(str(HERE / "report.docx"))


if __name__ == "__main__":
    main()
