"""One `zpa check` invocation: sources -> probes -> API -> verdicts -> reports and run store."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zpa.check.probes import load_probes
from zpa.check.runner import JUDGE_ROLE, CheckOptions, Sample, aggregate, judge_model, run_check
from zpa.errors import ZpaError
from zpa.llm import LLM, CallRecord, LLMConfig
from zpa.llm.models import check_override_roles
from zpa.runs import RunStore, default_db_path
from zpa.team import load_team


@dataclass
class Outputs:
    json: Path | None = None
    junit: Path | None = None
    markdown: Path | None = None


def static_only(root: Path, roles: list[str] | None) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    from zpa.check.static import static_check

    team = load_team(root)
    _known_roles(team, roles)
    probes = load_probes(team, roles)
    findings, sizes = static_check(team, probes)
    if roles:
        findings = [f for f in findings if f.role is None or f.role in roles]
    return (1 if any(f.severity == "error" for f in findings) else 0), [f.as_dict() for f in findings], sizes


def _known_roles(team: Any, roles: list[str] | None) -> None:
    for r in roles or []:
        if r not in team.roles:
            raise ZpaError(f"--role {r!r}: no such role", hint="known roles: " + ", ".join(sorted(team.roles)))


def run(root: Path, roles: list[str] | None, cfg: LLMConfig, opts: CheckOptions, outputs: Outputs,
        db: Path | None, show_progress: bool = True) -> tuple[int, dict[str, Any]]:
    """Run the check; returns the exit code (0 pass, 1 fail/incomplete) and the report."""
    from zpa.check import reports
    from zpa.render import atomic_write, render

    team = load_team(root)
    _known_roles(team, roles)
    drift = render(root, check=True)
    if drift.drift:
        raise ZpaError("generated files are out of date: the check would test files you have not rendered",
                       file=str(root / (drift.stale + drift.missing + drift.orphaned)[0]), hint="run `zpa render` first")
    check_override_roles(cfg.model_overrides, set(team.roles) | {JUDGE_ROLE})
    probes = load_probes(team, roles or [r for r in team.threads if (root / "probes" / f"{r}.yaml").is_file()])
    if not probes:
        raise ZpaError("no probes to run", file=str(root / "probes"), hint="write probes/<role>.yaml")

    store = RunStore(db or default_db_path(root))
    jmodel = judge_model(team, cfg.model_overrides)
    config = {"roles": sorted(probes), "repeat": opts.repeat, "judge": opts.judge, "judge_model": jmodel,
              "batch": opts.batch, "with_tools": opts.with_tools, "models": cfg.model_overrides,
              "replay": bool(cfg.replay_dir), "base_url_set": bool(cfg.endpoint())}
    run_id = store.start_run("check", "check", config)
    unknown_cost = [False]

    def on_call(rec: CallRecord) -> None:
        store.add_call(run_id, rec)
        if rec.status == "ok" and rec.cost_usd is None:
            unknown_cost[0] = True

    progress = _Progress(probes, opts.repeat, enabled=show_progress)
    t0 = time.perf_counter()
    interrupted = False
    samples: list[Sample] = []
    try:
        with progress:
            async def main() -> tuple[list[Sample], bool]:
                async with LLM(cfg, on_call) as llm:
                    return await run_check(team, probes, llm, cfg.model_overrides, opts, progress.sample, progress.batch)

            samples, interrupted = asyncio.run(main())
    except KeyboardInterrupt:
        interrupted = True
    except BaseException as exc:  # e.g. a replay miss: the run is over, and the store says so
        store.finish_run(run_id, "error", {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__},
                         time.perf_counter() - t0)
        store.close()
        raise
    wall = time.perf_counter() - t0
    report = aggregate(team, probes, samples, cfg.model_overrides, opts)
    same = sorted(r for r, v in report["roles"].items() if v["model"] == jmodel and opts.judge)
    calls = store.get_run(run_id)["calls"]
    cost = None if unknown_cost[0] else round(sum(c["cost_usd"] or 0 for c in calls), 8)
    report = {
        "verdict": "incomplete" if interrupted and report["verdict"] == "pass" else report["verdict"],
        "run_id": run_id, "repeat": opts.repeat, "wall_s": round(wall, 3), "interrupted": interrupted,
        "mode": "replay" if cfg.replay_dir else "batch" if opts.batch else "interactive",
        "judge": {"enabled": opts.judge, "model": jmodel, "same_as_subject": same},
        "roles": report["roles"],
        "usage": {"input": sum(c["input_tokens"] for c in calls), "output": sum(c["output_tokens"] for c in calls),
                  "cache_write": sum(c["cache_write_tokens"] for c in calls),
                  "cache_read": sum(c["cache_read_tokens"] for c in calls), "cost_usd": cost},
    }
    store.add_verdicts(run_id, [(s.role, s.probe.id, s.repeat, s.passed, s.score,
                                 [{"assertion": r.type, "passed": r.passed, "reason": r.reason} for r in s.results])
                                for s in samples if s.status == "ok"])
    status = {"pass": "passed", "fail": "failed", "incomplete": "incomplete"}[report["verdict"]]
    store.finish_run(run_id, "cancelled" if interrupted else status,
                     {"verdict": report["verdict"], "roles": {r: v["pass_rate"] for r, v in report["roles"].items()}},
                     wall)
    store.close()
    reports.validate(report)
    if outputs.json:
        reports.write_json(report, outputs.json)
    if outputs.junit:
        atomic_write(outputs.junit, reports.junit_xml(report))
    if outputs.markdown:
        atomic_write(outputs.markdown, reports.markdown(report))
    code = 0 if report["verdict"] == "pass" else 1
    if interrupted:
        code = 130
    return code, report


class _Progress:
    """A live table on the terminal: one bar per role with passes and fails so far."""

    def __init__(self, probes: dict[str, list[Any]], repeat: int, enabled: bool) -> None:
        self.enabled = enabled
        self.totals = {r: len(p) * repeat for r, p in probes.items()}
        self.counts = {r: [0, 0, 0] for r in probes}  # passed, failed, errored
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[tally]}"), TimeElapsedColumn(),
                                      console=Console(stderr=True), transient=False)
            self._progress.__enter__()
            for role, total in self.totals.items():
                self._tasks[role] = self._progress.add_task(role, total=total, tally="")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def sample(self, s: Sample) -> None:
        c = self.counts[s.role]
        c[0 if s.status == "ok" and s.passed else 1 if s.status == "ok" else 2] += 1
        if self._progress is not None:
            tally = f"[green]{c[0]} pass[/] [red]{c[1]} fail[/]" + (f" [yellow]{c[2]} error[/]" if c[2] else "")
            self._progress.update(self._tasks[s.role], advance=1, tally=tally)

    def batch(self, phase: str, done: int, total: int) -> None:
        if self._progress is not None:
            key = f"batch:{phase}"
            if key not in self._tasks:
                self._tasks[key] = self._progress.add_task(f"batch ({phase})", total=total, tally="")
            self._progress.update(self._tasks[key], completed=done)
