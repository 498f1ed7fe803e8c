"""``python -m pipeline`` is the same as ``mtpipe``."""

from pipeline.cli import main_entry

main_entry()
