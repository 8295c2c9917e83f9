"""`zpa run`: the personas as API agents in a DAG.

Each node is one Messages API call with the role's system prompt (the same
text a Zed thread gets). A node starts as soon as its own needs finish — no
level barriers — so independent branches run concurrently and the parallel
phase costs the max of its branches, not their sum.

Artefacts land under ``runs/<run-id>/<node>/``: the prompt, the response, the
structured hand-off and files extracted from labelled code blocks (only ever
inside the run folder). ``run.json`` is rewritten atomically after every
state change, so an interrupted run leaves a consistent record, and
``--resume`` re-runs only what failed, was skipped, or whose inputs changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from zpa.blocks import labelled_blocks, parse_handoff
from zpa.errors import ZpaError
from zpa.llm import LLM, BudgetExceeded, Call, CallFailed
from zpa.llm.models import resolve_model
from zpa.llm.prices import Usage
from zpa.persona import role_system, system_blocks
from zpa.render import atomic_write
from zpa.team import Team

RUNS_DIR = "runs"
DEFAULT_MAX_TOKENS = 8192


@dataclass
class NodeSpec:
    name: str
    role: str
    needs: list[str]
    prompt: str
    retries: int = 1
    max_tokens: int = DEFAULT_MAX_TOKENS


@dataclass
class NodeState:
    spec: NodeSpec
    model: str
    status: str = "pending"
    started: float | None = None
    ended: float | None = None
    duration: float | None = None
    usage: Usage = field(default_factory=Usage)
    cost: float | None = 0.0
    attempts: int = 0
    retries: int = 0
    input_key: str | None = None
    error: str | None = None
    text: str = ""
    handoff: dict[str, Any] | None = None
    handoff_error: str | None = None
    files: list[str] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.spec.role, "model": self.model, "status": self.status, "needs": self.spec.needs,
            "started_at": _iso(self.started), "ended_at": _iso(self.ended),
            "duration_s": None if self.duration is None else round(self.duration, 4),
            "tokens": self.usage.as_dict(), "cost_usd": self.cost, "attempts": self.attempts, "retries": self.retries,
            "input_key": self.input_key, "error": self.error, "handoff": self.handoff,
            "handoff_error": self.handoff_error, "files": self.files, "refused_files": self.refused,
        }


def pipeline_nodes(team: Team, name: str, enable: set[str] = frozenset()) -> dict[str, NodeSpec]:
    pipelines = team.pipelines
    if name not in pipelines:
        raise ZpaError(f"no pipeline {name!r} in team.toml", file=str(team.root / "team.toml"),
                       hint="pipelines: " + (", ".join(pipelines) or "none — add [pipelines.NAME.nodes.NODE] tables"))
    nodes = {}
    for nname, n in pipelines[name]["nodes"].items():
        if n.get("optional") and n["optional"] not in enable:
            continue
        nodes[nname] = NodeSpec(nname, n["role"], list(n.get("needs", [])), n["prompt"], int(n.get("retries", 1)),
                                int(n.get("max_tokens", DEFAULT_MAX_TOKENS)))
    for spec in nodes.values():
        missing = [x for x in spec.needs if x not in nodes]
        if missing:
            raise ZpaError(f"node {spec.name!r} needs optional node {missing[0]!r}, which is not enabled",
                           file=str(team.root / "team.toml"), hint=f"enable it with --with {missing[0]}")
    return nodes


def optional_names(team: Team, name: str) -> list[str]:
    return sorted({n["optional"] for n in team.pipelines.get(name, {}).get("nodes", {}).values() if n.get("optional")})


# -- code blocks -> files ----------------------------------------------------


def safe_write(base: Path, label: str, body: str) -> tuple[str | None, str | None]:
    """Write ``body`` to ``base/label`` only if it stays inside ``base``. Returns (relative path, refusal reason)."""
    rel = label.replace("\\", "/").strip()
    if not rel or rel.startswith("/") or re.match(r"^[A-Za-z]:", rel) or "\0" in rel:
        return None, "absolute or empty path"
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or not parts:
        return None, "path leaves the run folder (..)"
    base.mkdir(parents=True, exist_ok=True)
    cur = base
    for p in parts[:-1]:
        cur = cur / p
        if cur.is_symlink():
            return None, f"path goes through a link ({'/'.join(parts)})"
        cur.mkdir(exist_ok=True)
    target = cur / parts[-1]
    if target.is_symlink():
        return None, "target is a link"
    if base.resolve() not in target.resolve().parents:
        return None, "path leaves the run folder"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(body)
    return "/".join(parts), None


# -- the run -----------------------------------------------------------------


class PipelineRun:
    def __init__(self, team: Team, pipeline: str, task: str, llm: LLM, run_dir: Path, run_id: str,
                 overrides: dict[str, str], enable: set[str] = frozenset(), prior: dict[str, Any] | None = None,
                 on_event: Callable[[str, str, NodeState], None] | None = None,
                 on_artefact: Callable[[str, str, str, int], None] | None = None) -> None:
        self.team, self.pipeline, self.task, self.llm = team, pipeline, task, llm
        self.run_dir, self.run_id = run_dir, run_id
        self.specs = pipeline_nodes(team, pipeline, enable)
        self.states = {n: NodeState(s, resolve_model(s.role, team.roles[s.role].model, overrides))
                       for n, s in self.specs.items()}
        self.prior = prior
        self.on_event = on_event
        self.on_artefact = on_artefact
        self.status = "running"
        self.started = time.time()
        self.ended: float | None = None
        self.compare: dict[str, Any] | None = None
        self._t0 = time.perf_counter()
        self.wall = 0.0
        import jinja2

        self._jinja = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)

    # -- bookkeeping -------------------------------------------------------

    def record(self) -> dict[str, Any]:
        wall = self.wall if self.ended else time.perf_counter() - self._t0
        crit, path = self.critical_path()
        durations = [s.duration or 0.0 for s in self.states.values()]
        total = Usage()
        costs: list[float | None] = []
        for s in self.states.values():
            total = total + s.usage
            if s.status == "ok":
                costs.append(s.cost)
        cost = None if any(c is None for c in costs) else round(sum(c or 0.0 for c in costs), 8)
        return {
            "run_id": self.run_id, "pipeline": self.pipeline, "task": self.task, "status": self.status,
            "started_at": _iso(self.started), "ended_at": _iso(self.ended), "wall_s": round(wall, 4),
            "critical_path_s": round(crit, 4), "critical_path": path, "sum_s": round(sum(durations), 4),
            "efficiency": round(crit / wall, 4) if wall > 0 else None,
            "resumed_from": (self.prior or {}).get("run_id"),
            "usage": {**total.as_dict(), "cost_usd": cost},
            "compare": self.compare,
            "nodes": {n: s.as_dict() for n, s in self.states.items()},
        }

    def save(self) -> None:
        atomic_write(self.run_dir / "run.json", json.dumps(self.record(), indent=2) + "\n")

    def critical_path(self) -> tuple[float, list[str]]:
        """Longest chain of node durations through the DAG."""
        memo: dict[str, tuple[float, list[str]]] = {}

        def longest(n: str) -> tuple[float, list[str]]:
            if n not in memo:
                best: tuple[float, list[str]] = (0.0, [])
                for m in self.specs[n].needs:
                    cand = longest(m)
                    if cand[0] > best[0]:
                        best = cand
                memo[n] = (best[0] + (self.states[n].duration or 0.0), best[1] + [n])
            return memo[n]

        return max((longest(n) for n in self.specs), key=lambda x: x[0], default=(0.0, []))

    def _event(self, kind: str, state: NodeState) -> None:
        self.save()
        if self.on_event:
            self.on_event(kind, self.run_id, state)

    # -- running -----------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.save()
        futures: dict[str, asyncio.Future[bool]] = {n: asyncio.get_running_loop().create_future() for n in self.specs}
        tasks = [asyncio.create_task(self._node(n, futures)) for n in self.specs]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for s in self.states.values():
                if s.status == "running":
                    s.status, s.ended = "cancelled", time.time()
                    s.duration = s.ended - (s.started or s.ended)
                elif s.status == "pending":
                    s.status = "skipped"
            self.status = "cancelled"
        else:
            statuses = {s.status for s in self.states.values()}
            self.status = "ok" if statuses <= {"ok", "reused"} else (
                "failed" if not statuses & {"ok", "reused"} else "partial")
        self.ended = time.time()
        self.wall = time.perf_counter() - self._t0
        self.save()
        return self.record()

    async def _node(self, name: str, futures: dict[str, asyncio.Future[bool]]) -> None:
        spec, state = self.specs[name], self.states[name]
        try:
            ok = await asyncio.gather(*(asyncio.shield(futures[n]) for n in spec.needs)) if spec.needs else []
            if not all(ok):
                state.status = "skipped"
                state.error = "skipped: " + ", ".join(n for n in spec.needs if not futures[n].result()) + " did not finish"
                self._event("skipped", state)
                futures[name].set_result(False)
                return
            try:
                finished = await self._execute(spec, state)
            except (ZpaError, OSError) as exc:  # e.g. a replay miss or a full disk: this node fails, the run goes on
                state.status = "failed"
                state.error = str(exc).splitlines()[0] if isinstance(exc, ZpaError) else f"{exc.strerror}: {exc.filename}"
                state.ended = time.time()
                state.duration = state.ended - state.started if state.started else None
                self._event("failed", state)
                finished = False
            futures[name].set_result(finished)
        except asyncio.CancelledError:
            if not futures[name].done():
                futures[name].cancel()
            raise

    async def _execute(self, spec: NodeSpec, state: NodeState) -> bool:
        node_dir = self.run_dir / spec.name
        inputs = {n: {"text": self.states[n].text, "handoff": self.states[n].handoff, "role": self.specs[n].role,
                      "files": self.states[n].files} for n in spec.needs}
        try:
            prompt = self._jinja.from_string(spec.prompt).render(task=self.task, inputs=inputs, pipeline=self.pipeline)
        except Exception as exc:  # noqa: BLE001 - a template error is the user's to fix, shown with the node
            state.status, state.error = "failed", f"prompt template: {exc}"
            self._event("failed", state)
            return False
        system = role_system(self.team, spec.role)
        key = hashlib.sha256(json.dumps([system, state.model, prompt, spec.max_tokens]).encode()).hexdigest()
        state.input_key = key
        reused = self._reuse(spec.name, key)
        if reused is not None:
            state.status, state.text = "reused", reused
            state.started = state.ended = time.time()
            state.duration = 0.0
            self._finish_outputs(spec, state, node_dir, write_response=False)
            self._event("reused", state)
            return True
        call = Call(role=spec.role, label=f"{self.pipeline}/{spec.name}", model=state.model,
                    system=system_blocks(system, state.model), messages=[{"role": "user", "content": prompt}],
                    max_tokens=spec.max_tokens)
        state.status, state.started = "running", time.time()
        t0 = time.perf_counter()
        self._event("started", state)
        node_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(node_dir / "prompt.md", prompt)
        while True:
            state.attempts += 1
            try:
                result = await self.llm.call(call)
                break
            except (CallFailed, BudgetExceeded) as exc:
                state.retries += getattr(exc, "retries", 0)
                if isinstance(exc, BudgetExceeded) or state.attempts > spec.retries:
                    state.status, state.error = "failed", exc.message
                    state.ended, state.duration = time.time(), time.perf_counter() - t0
                    self._event("failed", state)
                    return False
        state.retries += result.retries
        state.usage, state.cost, state.text = result.usage, result.cost_usd, result.text
        state.ended, state.duration = time.time(), time.perf_counter() - t0
        state.status = "ok"
        self._finish_outputs(spec, state, node_dir, write_response=True)
        self._event("finished", state)
        return True

    def _finish_outputs(self, spec: NodeSpec, state: NodeState, node_dir: Path, write_response: bool) -> None:
        if write_response:
            atomic_write(node_dir / "response.md", state.text if state.text.endswith("\n") else state.text + "\n")
        role = self.team.roles[spec.role]
        state.handoff, state.handoff_error = parse_handoff(state.text, role.handoff)
        if state.handoff is not None:
            atomic_write(node_dir / "handoff.json", json.dumps(state.handoff, indent=2) + "\n")
        state.files, state.refused = [], []
        for label, body in labelled_blocks(state.text):
            rel, why = safe_write(node_dir / "files", label, body)
            if rel:
                state.files.append(rel)
            else:
                state.refused.append({"path": label, "reason": why or "refused"})
        if self.on_artefact is not None:
            for rel in ["response.md", *(f"files/{f}" for f in state.files)]:
                p = node_dir / rel
                if p.is_file():
                    data = p.read_bytes()
                    self.on_artefact(spec.name, p.relative_to(self.run_dir.parent).as_posix(),
                                     hashlib.sha256(data).hexdigest(), len(data))

    def _reuse(self, name: str, key: str) -> str | None:
        if not self.prior:
            return None
        node = self.prior.get("nodes", {}).get(name)
        if not node or node.get("status") not in ("ok", "reused") or node.get("input_key") != key:
            return None
        path = self.run_dir / name / "response.md"
        return path.read_text(encoding="utf-8") if path.is_file() else None


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


def validate_record(record: dict[str, Any]) -> None:
    import jsonschema

    from zpa.team import load_schema

    jsonschema.validate(record, load_schema("run"))


def load_prior(runs_root: Path, run_id: str) -> tuple[Path, dict[str, Any]]:
    run_dir = runs_root / run_id
    path = run_dir / "run.json"
    if not path.is_file():
        known = sorted(p.name for p in runs_root.iterdir() if (p / "run.json").is_file()) if runs_root.is_dir() else []
        raise ZpaError(f"no run {run_id!r} to resume", file=str(path),
                       hint="runs here: " + (", ".join(known[-5:]) or "none"))
    try:
        return run_dir, json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ZpaError(f"run.json is not valid JSON: {exc}", file=str(path)) from None


def training_script(record: dict[str, Any], run_dir: Path) -> Path | None:
    """The train.py an ML pipeline produced (from the last node that wrote one)."""
    for name in reversed(list(record["nodes"])):
        for rel in record["nodes"][name]["files"]:
            if rel.rsplit("/", 1)[-1] == "train.py":
                return run_dir / name / "files" / rel
    return None


async def run_many(team: Team, pipeline: str, tasks: list[str], llm: LLM, runs_root: Path, overrides: dict[str, str],
                   enable: set[str], resume: str | None = None,
                   on_event: Callable[[str, str, NodeState], None] | None = None,
                   on_artefact: Callable[[str, str, str, int], None] | None = None,
                   run_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Run one pipeline per task, all at once under the LLM's concurrency bound."""
    from zpa.runs import new_run_id

    runs: list[PipelineRun] = []
    for i, task in enumerate(tasks):
        prior = None
        if resume:
            run_dir, prior = load_prior(runs_root, resume)
            run_id = resume
            task = task or prior.get("task", "")
            if prior.get("pipeline") != pipeline:
                raise ZpaError(f"run {resume} is a {prior.get('pipeline')!r} run, not {pipeline!r}",
                               hint=f"zpa run {prior.get('pipeline')} --resume {resume}")
        else:
            run_id = run_ids[i] if run_ids else new_run_id() + (f"-{i:03d}" if len(tasks) > 1 else "")
            run_dir = runs_root / run_id
        runs.append(PipelineRun(team, pipeline, task, llm, run_dir, run_id, overrides, enable, prior, on_event,
                                on_artefact))
    results = await asyncio.gather(*(r.run() for r in runs))
    return list(results)
