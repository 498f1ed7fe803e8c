"""Job files for tests: a one-corpus, one-system job on a tiny model, of any length."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "corpora" / "automated-translation-article.en.txt"


def article_lines(count: int) -> list[str]:
    """``count`` distinct lines: the article's sentences (cut to 80 characters) in turn, each numbered."""
    sentences = [line for line in ARTICLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [f"{sentences[n % len(sentences)][:80]} ({n})" for n in range(count)]


def make_job(folder: Path, model: Path, *, lines: int = 240, max_length: int = 8) -> Path:
    """Write ``folder/job.toml``: corpus ``big`` (``lines`` article lines, en -> de), system ``tiny`` (``model``).

    Small batches (64 tokens) and chunks of 4 lines, so that even a short job has several of each;
    outputs go to ``folder/out``. Returns the job file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "big.en.txt").write_text("".join(line + "\n" for line in article_lines(lines)), encoding="utf-8")
    config = folder / "job.toml"
    config.write_text(
        f"""
[[corpora]]
name = "big"
source = "big.en.txt"
src_lang = "en"
tgt_langs = ["de"]

[[systems]]
name = "tiny"
model = "{model}"
batch_tokens = 64
max_length = {max_length}
chunk_size = 4

[output]
dir = "out"
""",
        encoding="utf-8",
    )
    return config
