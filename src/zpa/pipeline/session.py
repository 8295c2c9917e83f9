"""One `zpa run` invocation: tasks -> pipeline runs -> artefacts, run store, comparison."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Callable

from zpa.errors import ZpaError
from zpa.llm import LLM, LLMConfig
from zpa.llm.models import check_override_roles
from zpa.pipeline import RUNS_DIR, NodeState, pipeline_nodes, run_many, training_script, validate_record
from zpa.runs import RunStore, default_db_path, new_run_id
from zpa.team import load_team


def read_tasks(path: Path) -> list[str]:
    """One task per line (blank lines and # comments skipped), or JSON lines with a "task" field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ZpaError(f"cannot read the tasks file: {exc.strerror}", file=str(path)) from None
    tasks = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("{"):
            try:
                item = json.loads(s)
                tasks.append(str(item["task"]))
            except (ValueError, KeyError, TypeError):
                raise ZpaError('expected {"task": "..."} on a JSON line', file=str(path), line=n) from None
        else:
            tasks.append(s)
    if not tasks:
        raise ZpaError("no tasks in the file", file=str(path), hint="one task per line")
    return tasks


def execute(root: Path, pipeline: str, tasks: list[str], cfg: LLMConfig, enable: set[str], out: Path | None,
            resume: str | None, db: Path | None,
            on_event: Callable[[str, str, NodeState], None] | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Run the pipelines; returns their run.json records and whether Ctrl-C interrupted them."""
    from zpa.render import render

    team = load_team(root)
    pipeline_nodes(team, pipeline, enable)  # validates the name and the enabled nodes
    drift = render(root, check=True)
    if drift.drift:
        raise ZpaError("generated files are out of date: the agents would run personas you have not rendered",
                       file=str(root / (drift.stale + drift.missing + drift.orphaned)[0]), hint="run `zpa render` first")
    check_override_roles(cfg.model_overrides, set(team.roles))
    runs_root = out or (root / RUNS_DIR)
    store = RunStore(db or default_db_path(root))
    run_ids = [new_run_id() + (f"-{i:03d}" if len(tasks) > 1 else "") for i in range(len(tasks))]
    store_id = store.start_run("pipeline", pipeline,
                               {"tasks": len(tasks), "resumed_from": resume, "enable": sorted(enable),
                                "models": cfg.model_overrides, "runs": [resume] if resume else run_ids},
                               run_id=None if resume or len(tasks) > 1 else run_ids[0])
    t0 = time.perf_counter()
    interrupted = False
    records: list[dict[str, Any]] = []

    async def main() -> list[dict[str, Any]]:
        async with LLM(cfg, lambda rec: store.add_call(store_id, rec)) as llm:
            return await run_many(team, pipeline, tasks, llm, runs_root, cfg.model_overrides, enable, resume,
                                  on_event, lambda node, path, sha, size: store.add_artefact(store_id, node, path, sha, size),
                                  None if resume else run_ids)

    try:
        records = asyncio.run(main())
    except (ZpaError, OSError) as exc:  # before any node ran (e.g. no credentials): record it, then report
        store.finish_run(store_id, "error", {"error": str(exc).splitlines()[0]}, time.perf_counter() - t0)
        store.close()
        raise
    except KeyboardInterrupt:
        interrupted = True
        for rid in ([resume] if resume else run_ids):
            p = runs_root / rid / "run.json"
            if p.is_file():
                records.append(json.loads(p.read_text()))
    interrupted = interrupted or any(r["status"] == "cancelled" for r in records)
    for r in records:
        validate_record(r)
    statuses = {r["status"] for r in records}
    status = "cancelled" if interrupted else "ok" if statuses == {"ok"} else "partial" if "ok" in statuses or "partial" in statuses else "failed"
    store.finish_run(store_id, status, {"runs": {r["run_id"]: r["status"] for r in records}}, time.perf_counter() - t0)
    store.close()
    return records, interrupted


def compare_training_script(record: dict[str, Any], runs_root: Path, seeds: int) -> dict[str, Any] | None:
    """Run `zpa compare` on the train.py an ML run produced; None when there is none or torch is absent."""
    import importlib.util

    from zpa.compare import HarnessConfig, compare, default_baseline
    from zpa.render import atomic_write

    run_dir = runs_root / record["run_id"]
    script = training_script(record, run_dir)
    if script is None or importlib.util.find_spec("torch") is None:
        return None
    report = compare(script, default_baseline(Path.cwd()), HarnessConfig(seeds=list(range(seeds)),
                                                                         deny_read=[str(Path.cwd().resolve())]))
    atomic_write(run_dir / "compare.json", json.dumps(report, indent=2) + "\n")
    summary = {"verdict": report["verdict"], "candidate": report["candidate"]["status"],
               "candidate_reason": report["candidate"]["reason"],
               "test_accuracy": {k: (report[k]["metrics"]["test_accuracy"] or {}).get("mean") for k in ("baseline", "candidate")},
               "report": "compare.json"}
    record["compare"] = summary
    atomic_write(run_dir / "run.json", json.dumps(record, indent=2) + "\n")
    return report
