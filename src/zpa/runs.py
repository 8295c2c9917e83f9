"""The run store: every check and pipeline run, its calls, verdicts and artefacts, in SQLite.

Default location ``.zpa/runs.db`` under the project root (``--db`` or
``ZPA_RUNS_DB`` to move it). The schema evolves through numbered migrations
recorded in ``PRAGMA user_version``.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from zpa.errors import ZpaError

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,            -- check | pipeline
        name TEXT NOT NULL,            -- e.g. 'check' or the pipeline name
        status TEXT NOT NULL,          -- running | passed | failed | ok | partial | error | cancelled
        started_at REAL NOT NULL,
        ended_at REAL,
        wall_s REAL,
        config TEXT NOT NULL DEFAULT '{}',
        summary TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        label TEXT NOT NULL,
        model TEXT NOT NULL,
        repeat INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL,
        latency_s REAL NOT NULL DEFAULT 0,
        retries INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        started_at REAL NOT NULL
    );
    CREATE INDEX calls_run ON calls(run_id);
    CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        probe TEXT NOT NULL,
        repeat INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        score REAL,
        details TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX verdicts_run ON verdicts(run_id);
    CREATE TABLE artefacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        node TEXT NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL
    );
    CREATE INDEX artefacts_run ON artefacts(run_id);
    """,
]


def default_db_path(root: Path | str = ".") -> Path:
    env = os.environ.get("ZPA_RUNS_DB")
    return Path(env) if env else Path(root) / ".zpa" / "runs.db"


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


class RunStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise ZpaError(f"cannot open the run store: {exc}", file=str(self.path)) from None
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.migrate()

    def migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise ZpaError(f"the run store was written by a newer zpa (schema {version})", file=str(self.path),
                           hint="upgrade zed-parallel-agents, or use another --db")
        for number in range(version + 1, len(MIGRATIONS) + 1):
            try:  # one transaction per migration: all of it or none
                self.db.executescript(f"BEGIN;\n{MIGRATIONS[number - 1]}\nPRAGMA user_version = {number};\nCOMMIT;")
            except sqlite3.Error:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self.db.close()

    # -- writing -------------------------------------------------------------

    def start_run(self, kind: str, name: str, config: dict[str, Any], run_id: str | None = None) -> str:
        run_id = run_id or new_run_id()
        self.db.execute("INSERT INTO runs (id, kind, name, status, started_at, config) VALUES (?, ?, ?, 'running', ?, ?)",
                        (run_id, kind, name, time.time(), json.dumps(config, sort_keys=True)))
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any], wall_s: float | None = None) -> None:
        self.db.execute("UPDATE runs SET status = ?, ended_at = ?, wall_s = ?, summary = ? WHERE id = ?",
                        (status, time.time(), wall_s, json.dumps(summary, sort_keys=True), run_id))

    def add_call(self, run_id: str, rec: Any) -> None:
        u = rec.usage
        self.db.execute(
            "INSERT INTO calls (run_id, role, label, model, repeat, status, input_tokens, output_tokens,"
            " cache_write_tokens, cache_read_tokens, cost_usd, latency_s, retries, error, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, rec.role, rec.label, rec.model, rec.repeat, rec.status, u.input, u.output, u.cache_write,
             u.cache_read, rec.cost_usd, rec.latency_s, rec.retries, rec.error, rec.started_at))

    def add_verdicts(self, run_id: str, rows: Iterable[tuple[str, str, int, bool, float | None, list[Any]]]) -> None:
        self.db.executemany(
            "INSERT INTO verdicts (run_id, role, probe, repeat, passed, score, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(run_id, role, probe, rep, int(ok), score, json.dumps(details)) for role, probe, rep, ok, score, details in rows])

    def add_artefact(self, run_id: str, node: str, path: str, sha256: str, size: int) -> None:
        self.db.execute("INSERT INTO artefacts (run_id, node, path, sha256, bytes) VALUES (?, ?, ?, ?, ?)",
                        (run_id, node, path, sha256, size))

    # -- reading -------------------------------------------------------------

    def list_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT r.*, COUNT(c.id) AS calls, COALESCE(SUM(c.cost_usd), 0) AS cost_usd,"
            " COALESCE(SUM(c.retries), 0) AS retries FROM runs r LEFT JOIN calls c ON c.run_id = r.id"
            " GROUP BY r.id ORDER BY r.started_at DESC LIMIT ?", (limit,)).fetchall()
        return [_run_row(r) for r in rows]

    def get_run(self, run_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            matches = self.db.execute("SELECT id FROM runs WHERE id LIKE ? ORDER BY started_at DESC", (run_id + "%",)).fetchall()
            if len(matches) == 1:
                return self.get_run(matches[0]["id"])
            raise ZpaError(f"no run {run_id!r} in {self.path}" + (" (ambiguous prefix)" if matches else ""),
                           hint="`zpa runs list` shows the runs")
        run = _run_row(row)
        run["calls"] = [dict(r) for r in self.db.execute(
            "SELECT role, label, model, repeat, status, input_tokens, output_tokens, cache_write_tokens,"
            " cache_read_tokens, cost_usd, latency_s, retries, error FROM calls WHERE run_id = ? ORDER BY id",
            (run["id"],))]
        run["verdicts"] = [{**dict(r), "passed": bool(r["passed"]), "details": json.loads(r["details"])}
                           for r in self.db.execute(
                               "SELECT role, probe, repeat, passed, score, details FROM verdicts WHERE run_id = ? ORDER BY id",
                               (run["id"],))]
        run["artefacts"] = [dict(r) for r in self.db.execute(
            "SELECT node, path, sha256, bytes FROM artefacts WHERE run_id = ? ORDER BY id", (run["id"],))]
        return run

    def diff(self, a: str, b: str) -> dict[str, Any]:
        """Cross-run analysis: pass rate, cost and latency per role and per probe, B minus A."""
        ra, rb = self.get_run(a), self.get_run(b)
        out: dict[str, Any] = {"a": ra["id"], "b": rb["id"], "roles": {}, "probes": {}}
        for key, group in (("roles", lambda v: v["role"]), ("probes", lambda v: f"{v['role']}/{v['probe']}")):
            stats_a, stats_b = _pass_stats(ra["verdicts"], group), _pass_stats(rb["verdicts"], group)
            for name in sorted(set(stats_a) | set(stats_b)):
                pa, pb = stats_a.get(name), stats_b.get(name)
                out[key][name] = {"pass_rate_a": pa, "pass_rate_b": pb,
                                  "pass_rate_delta": None if pa is None or pb is None else round(pb - pa, 6)}
        for role in sorted({c["role"] for c in ra["calls"] + rb["calls"]}):
            ca, cb = _call_stats(ra["calls"], role), _call_stats(rb["calls"], role)
            entry = out["roles"].setdefault(role, {"pass_rate_a": None, "pass_rate_b": None, "pass_rate_delta": None})
            for k in ("cost_usd", "mean_latency_s", "calls", "retries"):
                entry[f"{k}_a"], entry[f"{k}_b"] = ca[k], cb[k]
                entry[f"{k}_delta"] = None if ca[k] is None or cb[k] is None else round(cb[k] - ca[k], 6)
        return out


def _run_row(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["config"] = json.loads(d.get("config") or "{}")
    d["summary"] = json.loads(d.get("summary") or "{}")
    return d


def _pass_stats(verdicts: list[dict[str, Any]], key: Any) -> dict[str, float]:
    total: dict[str, list[int]] = {}
    for v in verdicts:
        t = total.setdefault(key(v), [0, 0])
        t[0] += int(v["passed"])
        t[1] += 1
    return {k: round(p / n, 6) for k, (p, n) in total.items() if n}


def _call_stats(calls: list[dict[str, Any]], role: str) -> dict[str, Any]:
    mine = [c for c in calls if c["role"] == role]
    if not mine:
        return {"cost_usd": None, "mean_latency_s": None, "calls": None, "retries": None}
    done = [c for c in mine if c["status"] == "ok"]
    costs = [c["cost_usd"] for c in mine if c["cost_usd"] is not None]
    return {
        "cost_usd": round(sum(costs), 8) if costs else None,
        "mean_latency_s": round(sum(c["latency_s"] for c in done) / len(done), 4) if done else None,
        "calls": len(mine),
        "retries": sum(c["retries"] for c in mine),
    }
