"""How results look in a terminal: consoles, tables, JSON, and progress for flow steps."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def stdout() -> Console:
    from rich.console import Console

    return Console(soft_wrap=True)


def table(title: str, *columns: str, show_header: bool = True) -> Table:
    """A rich table that folds long cells instead of cutting them (output is often piped)."""
    from rich.table import Table

    rendered = Table(title=title, title_justify="left", show_header=show_header)
    for index, column in enumerate(columns):
        rendered.add_column(column, overflow="fold", style="bold" if not show_header and index == 0 else None)
    return rendered


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def emit(text: str, out: Any) -> None:
    """`text` to stdout, or to the file `out` (a Path) with a note on stderr."""
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text + "\n")
        stderr().print(f"wrote {out}")


class RichReporter:
    """Progress for flow steps: a spinner per running step, a tick and time when done."""

    def __init__(self, console: Console) -> None:
        self.console = console

    @contextlib.contextmanager
    def step(self, description: str) -> Iterator[None]:
        started = time.perf_counter()
        with self.console.status(f"{description}...", spinner="dots"):
            yield
        self.console.print(f"[green]✓[/] {description} [dim]{time.perf_counter() - started:.2f}s[/]")

    @contextlib.contextmanager
    def bar(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        started = time.perf_counter()
        done = 0
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(description, total=total, rate="-")

            def advance(rows: int) -> None:
                nonlocal done
                done += rows
                rate = done / max(time.perf_counter() - started, 1e-9)
                bar.update(task, advance=rows, rate=f"{rate:,.0f}")

            yield advance
        elapsed = time.perf_counter() - started
        rate = done / max(elapsed, 1e-9)
        self.console.print(
            f"[green]✓[/] {description}: {done:,} rows [dim]{elapsed:.2f}s, {rate:,.0f} rows/s in this step[/]"
        )
