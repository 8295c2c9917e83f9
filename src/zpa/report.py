"""Terminal output for reports (rich loads only here)."""

from __future__ import annotations

from typing import Any


def _fmt(stat: dict[str, float] | None, digits: int = 4) -> str:
    if not stat:
        return "-"
    if stat["n"] > 1:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"


def print_compare(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    b, c, d = report["baseline"], report["candidate"], report["deltas"]
    table = Table(title=f"zpa compare — seeds {report['seeds']}", show_lines=False)
    table.add_column("")
    table.add_column("baseline", justify="right")
    table.add_column("candidate", justify="right")
    table.add_column("Δ (candidate − baseline)", justify="right")
    table.add_row("status", b["status"], c["status"], "")
    rows = [("test accuracy", "test_accuracy", 4), ("train seconds", "train_seconds", 3),
            ("samples / s", "samples_per_second", 0), ("peak RSS MB", "peak_rss_mb", 1),
            ("params", "params", 0), ("wall seconds", "wall_seconds", 2)]
    for label, key, digits in rows:
        delta = d.get(key)
        table.add_row(label, _fmt(b["metrics"][key], digits), _fmt(c["metrics"][key], digits),
                      "-" if delta is None else f"{delta:+.{digits}f}")
    table.add_row("lines of code", str(b["lines_of_code"]), str(c["lines_of_code"]), f"{d['lines_of_code']:+d}")
    console = Console()
    console.print(table)
    for label, s in (("baseline", b), ("candidate", c)):
        if s["reason"]:
            console.print(f"[bold red]{label} {s['status']}[/]: {s['reason']}")
    console.print(f"verdict: {report['verdict']}")
