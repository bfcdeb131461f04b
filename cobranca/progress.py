"""The one progress bar of the command line (imports, replays, analytics, the simulator):
what is going on, a bar, done of total, time so far."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def progress_bar(
    console: Console, description: str = "{task.description}", disable: bool = False
) -> Progress:
    return Progress(
        TextColumn(f"[bold]{description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
    )
