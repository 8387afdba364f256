"""The runner's console output: timestamped lines on stderr (stdout is kept for the model path)."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.text import Text


def make_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def say(console: Console, message: str, style: str | None = None) -> None:
    """One line `HH:MM:SS message`; `message` is plain text (never parsed as markup)."""
    console.print(Text.assemble((datetime.now().strftime("%H:%M:%S"), "dim"), " ", (message, style or "")))
