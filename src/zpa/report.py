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


def _when(ts: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:.4f}"


def _delta(v: float | None, fmt: str = "{:+.3f}") -> str:
    return "-" if v is None else fmt.format(v)


def print_runs(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="runs")
    for col in ("id", "kind", "name", "status", "started", "wall s", "calls", "retries", "cost"):
        table.add_column(col, no_wrap=col in ("id", "started"))
    for r in rows:
        table.add_row(r["id"], r["kind"], r["name"], r["status"], _when(r["started_at"]),
                      "-" if r["wall_s"] is None else f"{r['wall_s']:.2f}", str(r["calls"]), str(r["retries"]),
                      _money(r["cost_usd"]))
    Console().print(table)


def print_run(run: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{run['id']}[/] {run['kind']} {run['name']}: {run['status']}  "
                  f"started {_when(run['started_at'])}  wall {run['wall_s'] or 0:.2f} s")
    calls = Table(title="calls")
    for col in ("role", "label", "model", "rep", "status", "in", "out", "cache w", "cache r", "cost", "latency s", "retries"):
        calls.add_column(col)
    for c in run["calls"]:
        calls.add_row(c["role"], c["label"], c["model"], str(c["repeat"]), c["status"], str(c["input_tokens"]),
                      str(c["output_tokens"]), str(c["cache_write_tokens"]), str(c["cache_read_tokens"]),
                      _money(c["cost_usd"]), f"{c['latency_s']:.2f}", str(c["retries"]))
    console.print(calls)
    if run["verdicts"]:
        per: dict[tuple[str, str], list[bool]] = {}
        for v in run["verdicts"]:
            per.setdefault((v["role"], v["probe"]), []).append(v["passed"])
        vt = Table(title="verdicts")
        for col in ("role", "probe", "passes", "runs"):
            vt.add_column(col)
        for (role, probe), passes in per.items():
            vt.add_row(role, probe, str(sum(passes)), str(len(passes)))
        console.print(vt)
    if run["artefacts"]:
        at = Table(title="artefacts")
        for col in ("node", "path", "bytes"):
            at.add_column(col)
        for a in run["artefacts"]:
            at.add_row(a["node"], a["path"], str(a["bytes"]))
        console.print(at)


def print_runs_diff(diff: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    roles = Table(title=f"{diff['a']} → {diff['b']}: per role")
    for col in ("role", "pass rate A", "pass rate B", "Δ", "cost A", "cost B", "Δ cost", "latency A", "latency B", "Δ latency"):
        roles.add_column(col)
    pct = lambda v: "-" if v is None else f"{v:.0%}"  # noqa: E731
    for name, r in diff["roles"].items():
        roles.add_row(name, pct(r.get("pass_rate_a")), pct(r.get("pass_rate_b")), _delta(r.get("pass_rate_delta"), "{:+.0%}"),
                      _money(r.get("cost_usd_a")), _money(r.get("cost_usd_b")), _delta(r.get("cost_usd_delta"), "{:+.4f}"),
                      _delta(r.get("mean_latency_s_a"), "{:.2f}"), _delta(r.get("mean_latency_s_b"), "{:.2f}"),
                      _delta(r.get("mean_latency_s_delta"), "{:+.2f}"))
    console.print(roles)
    if diff["probes"]:
        probes = Table(title="per probe")
        for col in ("probe", "pass rate A", "pass rate B", "Δ"):
            probes.add_column(col)
        for name, p in diff["probes"].items():
            probes.add_row(name, pct(p["pass_rate_a"]), pct(p["pass_rate_b"]), _delta(p["pass_rate_delta"], "{:+.0%}"))
        console.print(probes)


def print_static(findings: list[dict[str, Any]], sizes: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="personas (system prompt = .rules + skill)")
    for col in ("role", "model", "≈ tokens", "min cacheable", "prompt caching"):
        table.add_column(col)
    for s in sizes:
        table.add_row(s["role"], s["model"], str(s["persona_tokens"]), str(s["min_cache_tokens"]),
                      "requested" if s["cacheable"] else "no (below minimum)")
    console.print(table)
    if not findings:
        console.print("[green]static check: no findings[/]")
        return
    for f in findings:
        colour = "red" if f["severity"] == "error" else "yellow"
        where = f"{f['role']}: " if f["role"] else ""
        console.print(f"[{colour}]{f['severity']}[/] [{f['check']}] {where}{f['message']}", highlight=False)
        console.print(f"    fix: {f['fix']}", highlight=False, markup=False)
    errors = sum(f["severity"] == "error" for f in findings)
    console.print(f"static check: {errors} error(s)")
