"""Terminal output for reports (rich loads only here)."""

from __future__ import annotations

import sys
from typing import Any


def _console(stderr: bool = False) -> Any:
    """A rich console; wide enough for the tables when output is not a terminal (CI logs, pipes)."""
    from rich.console import Console


    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


def _esc(text: Any) -> str:
    """Text from users, models or the OS, safe inside rich markup."""
    from rich.markup import escape

    return escape(str(text))


def _fmt(stat: dict[str, float] | None, digits: int = 4) -> str:
    if not stat:
        return "-"
    if stat["n"] > 1:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"


def print_compare(report: dict[str, Any]) -> None:
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
    console = _console()
    console.print(table)
    for label, s in (("baseline", b), ("candidate", c)):
        if s["reason"]:
            console.print(f"[bold red]{label} {s['status']}[/]: " + _esc(s["reason"]))
    console.print(f"verdict: {report['verdict']}")


def _when(ts: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:.4f}"


def _delta(v: float | None, fmt: str = "{:+.3f}") -> str:
    return "-" if v is None else fmt.format(v)


def print_runs(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="runs")
    for col in ("id", "kind", "name", "status", "started", "wall s", "calls", "retries", "cost"):
        table.add_column(col, no_wrap=col in ("id", "started"))
    for r in rows:
        table.add_row(r["id"], r["kind"], r["name"], r["status"], _when(r["started_at"]),
                      "-" if r["wall_s"] is None else f"{r['wall_s']:.2f}", str(r["calls"]), str(r["retries"]),
                      _money(r["cost_usd"]))
    _console().print(table)


def print_run(run: dict[str, Any]) -> None:
    from rich.table import Table

    console = _console()
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
    from rich.table import Table

    console = _console()
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
    from rich.table import Table

    console = _console()
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
        console.print(f"[{colour}]{f['severity']}[/] " + _esc(f"[{f['check']}] {where}{f['message']}"), highlight=False)
        console.print(f"    fix: {f['fix']}", highlight=False, markup=False)
    errors = sum(f["severity"] == "error" for f in findings)
    console.print(f"static check: {errors} error(s)")


class PipelineProgress:
    """Live view of which nodes are running, per pipeline run."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.running: dict[str, set[str]] = {}
        self.done = 0
        self.failed = 0
        self._status: Any = None

    def __enter__(self) -> "PipelineProgress":
        if self.enabled:
        
            self._status = _console(stderr=True).status("starting ...")
            self._status.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)

    def event(self, kind: str, run_id: str, state: Any) -> None:
        running = self.running.setdefault(run_id, set())
        if kind == "started":
            running.add(state.spec.name)
        else:
            running.discard(state.spec.name)
            self.done += kind in ("finished", "reused")
            self.failed += kind in ("failed", "skipped")
        if self._status is not None:
            now = sorted({n for r in self.running.values() for n in r})
            self._status.update(f"running: {', '.join(now) or '-'} · {self.done} node(s) done"
                                + (f" · {self.failed} failed/skipped" if self.failed else ""))
            if kind in ("finished", "failed", "reused", "skipped") and len(self.running) == 1:
                dur = f"{state.duration:.2f} s" if state.duration is not None else ""
                self._status.console.print(f"  {state.spec.name} ({state.spec.role}): {state.status} {dur}",
                                           highlight=False)


def print_pipeline_runs(records: list[dict[str, Any]], runs_root: Any) -> None:
    from rich.table import Table

    console = _console()
    if len(records) > 1:
        table = Table(title=f"{len(records)} pipeline runs")
        for col in ("run", "status", "wall s", "critical path s", "efficiency", "cost"):
            table.add_column(col, no_wrap=col == "run")
        for r in records:
            eff = "-" if r["efficiency"] is None else f"{r['efficiency']:.2f}"
            table.add_row(r["run_id"], r["status"], f"{r['wall_s']:.2f}", f"{r['critical_path_s']:.2f}", eff,
                          _money(r["usage"]["cost_usd"]))
        console.print(table)
        return
    for r in records:
        table = Table(title=f"{r['pipeline']} run {r['run_id']}: {r['status']}")
        for col in ("node", "role", "model", "status", "start +s", "duration s", "in", "out", "cost", "files"):
            table.add_column(col, no_wrap=col == "node")
        t0 = min((n["started_at"] for n in r["nodes"].values() if n["started_at"]), default=None)
        from datetime import datetime

        def offset(ts: str | None) -> str:
            if not ts or not t0:
                return "-"
            return f"{(datetime.fromisoformat(ts) - datetime.fromisoformat(t0)).total_seconds():.2f}"

        for name, n in r["nodes"].items():
            dur = "-" if n["duration_s"] is None else f"{n['duration_s']:.2f}"
            table.add_row(name, n["role"], n["model"], n["status"], offset(n["started_at"]), dur,
                          str(n["tokens"]["input"]), str(n["tokens"]["output"]), _money(n["cost_usd"]),
                          str(len(n["files"])))
        console.print(table)
        eff = "-" if r["efficiency"] is None else f"{r['efficiency']:.2f}"
        console.print(f"where the time went: wall {r['wall_s']:.2f} s; critical path {' → '.join(r['critical_path'])} "
                      f"= {r['critical_path_s']:.2f} s; all nodes summed {r['sum_s']:.2f} s; efficiency "
                      f"(critical path / wall) {eff}; parallelism saved {max(0.0, r['sum_s'] - r['wall_s']):.2f} s",
                      highlight=False)
        for name, n in r["nodes"].items():
            if n["error"]:
                console.print(f"  [red]{name}[/]: " + _esc(n["error"]), highlight=False)
            for ref in n["refused_files"]:
                console.print(f"  [yellow]{name}[/]: " + _esc(f"refused file {ref['path']!r}: {ref['reason']}"), highlight=False)
            if n["handoff_error"] and n["status"] in ("ok", "reused"):
                console.print(f"  [yellow]{name}[/]: " + _esc(f"hand-off {n['handoff_error']}"), highlight=False)
        if r.get("compare"):
            c = r["compare"]
            console.print(_esc(f"compare with baseline: {c['verdict']} (candidate {c['candidate']}"
                               + (f": {c['candidate_reason']}" if c["candidate_reason"] else "")
                               + f"); accuracy baseline {c['test_accuracy']['baseline']}, "
                               f"candidate {c['test_accuracy']['candidate']}"))
        console.print(f"artefacts: {runs_root}/{r['run_id']}/", highlight=False)
        if r["status"] in ("partial", "failed", "cancelled"):
            console.print(f"continue with: zpa run {r['pipeline']} --resume {r['run_id']}", highlight=False)
