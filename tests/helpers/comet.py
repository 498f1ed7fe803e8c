"""COMET's Python environment for the tests, and a tiny checkpoint built in it.

The README's test command makes the environment (``.venv-comet`` in the
repository); ``$MTPIPE_COMET_PYTHON`` names another. Without either, the COMET
tests are skipped, saying so.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.comet import COMET_PYTHON_ENV

REPO = Path(__file__).resolve().parents[2]
BUILDER = Path(__file__).with_name("comet_checkpoint.py")


def find_comet_python() -> str | None:
    """COMET's interpreter: ``$MTPIPE_COMET_PYTHON``, else the repository's ``.venv-comet``; ``None`` if neither."""
    named = os.environ.get(COMET_PYTHON_ENV)
    if named:
        return named
    local = REPO / ".venv-comet" / "bin" / "python"
    return str(local) if local.is_file() else None


COMET_PYTHON = find_comet_python()


def needs_comet(test: Callable) -> Callable:
    """A test that runs unbabel-comet: marked ``slow``, skipped where COMET's environment is missing."""
    skip = pytest.mark.skipif(
        COMET_PYTHON is None,
        reason=f"no COMET environment (.venv-comet or ${COMET_PYTHON_ENV}; the README's test command makes it)",
    )
    return pytest.mark.slow(skip(test))


def build_checkpoint(folder: Path) -> Path:
    """Build the tiny random COMET checkpoint in ``folder`` (with COMET's Python); returns the folder."""
    assert COMET_PYTHON is not None
    subprocess.run([COMET_PYTHON, "-I", str(BUILDER), str(folder)], check=True, capture_output=True, text=True)
    return folder
