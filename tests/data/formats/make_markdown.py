"""Write the Markdown fixtures: a section of the project's README and a guide with every construct we read.

Run it from anywhere (it writes next to itself); it writes the same bytes each time. The README
section is copied from the repository's README.md; the guide is written here and checked with
markdown-it-py, the parser the Markdown format reads with, so that each construct parses as meant.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

# The README from its title to the end of "### Models" (a code fence, inline code, links, bold, a table).
README_FROM, README_TO = "# mtpipe\n", "### Long lines\n"

GUIDE = """\
---
title: Getting started
tags: [guide, mt]
---

Getting started with *mtpipe*
=============================

[![Build status](https://ci.example.org/mtpipe.svg)](https://ci.example.org/mtpipe "CI")
[![Licence: Apache-2.0](https://img.shields.io/badge/licence-Apache--2.0-blue.svg)](LICENSE)

**mtpipe** translates documents _without_ losing their markup: a **bold phrase with
an [inline link](https://example.org/docs "The docs") inside**, `code spans`, and
images such as ![the mtpipe logo](docs/logo.png "Logo") keep their place.
A line that ends in two spaces\x20\x20
breaks there, and so does one that ends in a backslash\\
like this one.

## Install it &amp; run it ##

1. Make a virtual environment:

   ```bash
   python3 -m venv .venv && . .venv/bin/activate
   ```

2. Install the package with `pip install -e .` and read the [usage notes][usage].
3. Translate a file:
   - plain text goes through *as it is*;
   - Markdown keeps its ~~old~~ **structure**, see <https://commonmark.org>;
   - HTML keeps its tags.

> **Note:** models are downloaded once, then cached.
> Set `HF_HOME` to move the cache, or read [the FAQ].

> Quoted lists work too:
> - first point
> - second point with *emphasis*

| Format | Extensions | Notes |
|:-------|:----------:|------:|
| Markdown | `.md`, `.markdown` | tables, *emphasis*, [links](#install-it--run-it) |
| HTML | `.html` | attributes such as `alt` \\| `title` |
| Plain text | `.txt` | one unit per line |

Special characters are escaped: 5 \\* 3 \\_ 2, \\[not a link\\], a literal \\`tick\\` and
&lt;angle brackets&gt; &copy; 2026.

    indented code is never translated
    even *with* markup

<div align="center">
  <p>Raw HTML blocks stay as they are.</p>
</div>

***

Questions? Open an issue at [the tracker].

[usage]: https://example.org/usage "Usage notes"
[the FAQ]: https://example.org/faq
[the tracker]: https://example.org/issues
"""


def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(README_FROM)
    return text[start:text.index(README_TO, start)]


def main() -> None:
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    for name, text in (("readme-section.md", readme_section()), ("guide.md", GUIDE)):
        kinds = {token.type for token in md.parse(text)}
        assert {"heading_open", "paragraph_open", "fence"} <= kinds, (name, kinds)
        (HERE / name).write_bytes(text.encode("utf-8"))
    guide = {token.type for token in md.parse(GUIDE)}
    assert {"table_open", "blockquote_open", "ordered_list_open", "bullet_list_open", "code_block",
            "html_block", "hr"} <= guide, guide


if __name__ == "__main__":
    main()
