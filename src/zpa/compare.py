"""`zpa compare`: run a candidate training script and the baseline under one
sandboxed harness and compare them.

Each run is a separate process in a fresh temp directory holding only the
script and the data file (X_train, y_train, X_test — never the test labels),
with the same seeds, thread count, a wall-clock timeout, a memory limit
(RLIMIT_AS), no network (a network namespace where ``unshare`` works, and an
audit-hook guard in every case) and no writes outside its directory. The
harness scores ``predictions.npy`` itself, so a script cannot grade itself.
Untrusted code is never imported into this process.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from zpa.errors import ZpaError
from zpa.team import load_schema

STATUSES = ("ok", "crashed", "timeout", "memory", "network", "contract")
METRICS = ("test_accuracy", "train_seconds", "samples_per_second", "peak_rss_mb", "params", "wall_seconds")
_MEMORY_PATTERNS = re.compile(r"MemoryError|std::bad_alloc|can't allocate memory|Cannot allocate memory|out of memory", re.I)


@dataclass
class HarnessConfig:
    seeds: list[int]
    timeout_s: float = 120.0
    memory_mb: int = 4096
    threads: int = 1
    device: str = "cpu"
    epochs: int | None = None
    deny_read: list[str] = field(default_factory=list)


@dataclass
class Run:
    seed: int
    status: str
    reason: str | None
    test_accuracy: float | None
    wall_seconds: float
    metrics: dict[str, Any] | None = None
    violations: list[dict[str, str]] = field(default_factory=list)
    stderr_tail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "status": self.status, "reason": self.reason, "test_accuracy": self.test_accuracy,
                "wall_seconds": round(self.wall_seconds, 3), "metrics": self.metrics, "violations": self.violations,
                "stderr_tail": self.stderr_tail}


# -- data --------------------------------------------------------------------


def prepare_data(folder: Path, split_seed: int = 0, test_size: float = 0.2) -> tuple[Path, Any]:
    """Write data.npz (no test labels) and return its path and the held-back labels."""
    try:
        import numpy as np
        from sklearn.datasets import load_digits
    except ImportError:
        raise ZpaError("zpa compare needs numpy and scikit-learn",
                       hint="pip install torch==2.13.0 'zed-parallel-agents[ml]'") from None
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(split_seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: round(len(idx) * test_size)]] = True
    path = folder / "data.npz"
    np.savez(path, X_train=X[~test].astype(np.float32), y_train=y[~test].astype(np.int64), X_test=X[test].astype(np.float32))
    return path, y[test].astype(np.int64)


# -- one run -----------------------------------------------------------------


@cache
def _netns_prefix() -> list[str]:
    """The command prefix that runs a process without network, or [] if unavailable."""
    unshare = shutil.which("unshare")
    if not unshare:
        return []
    for prefix in ([unshare, "-n"], [unshare, "-rn"]):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            continue
    return []


def _guard_dir() -> str:
    return str(resources.files("zpa").joinpath("sandbox"))


def run_script(script: Path, seed: int, data_file: Path, y_test: Any, cfg: HarnessConfig) -> Run:
    """Run one script once in a fresh sandbox directory and judge the result."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="zpa-run-") as tmp:
        tmp_path = Path(tmp)
        work = tmp_path / "work"
        (work / "tmp").mkdir(parents=True)
        (work / "home").mkdir()
        shutil.copyfile(script, work / "train.py")
        shutil.copyfile(data_file, work / "data.npz")
        log_path = tmp_path / "sandbox.jsonl"
        out = work / "out"
        cmd = [sys.executable, "-s", "train.py", "--seed", str(seed), "--device", cfg.device,
               "--data-file", "data.npz", "--out", "out"]
        if cfg.epochs is not None:
            cmd += ["--epochs", str(cfg.epochs)]
        net = _netns_prefix()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work / "home"),
            "TMPDIR": str(work / "tmp"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": _guard_dir(),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": str(seed),
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": str(cfg.threads),
            "MKL_NUM_THREADS": str(cfg.threads),
            "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
            "ZPA_SANDBOX_ROOT": str(work),
            "ZPA_SANDBOX_LOG": str(log_path),
            "ZPA_SANDBOX_DENY_READ": os.pathsep.join(cfg.deny_read),
            "no_proxy": "*",
        }
        limit = cfg.memory_mb * 1024 * 1024 if cfg.device == "cpu" else None

        def limits() -> None:  # in the child, before exec
            if limit:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        stdout = open(tmp_path / "stdout.txt", "wb")
        stderr = open(tmp_path / "stderr.txt", "wb")
        t0 = time.perf_counter()
        timed_out = False
        try:
            proc = subprocess.Popen([*net, *cmd], cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                    stderr=stderr, preexec_fn=limits, start_new_session=True)
            try:
                rc = proc.wait(timeout=cfg.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
                rc = proc.wait()
            except BaseException:
                _kill_group(proc)
                proc.wait()
                raise
        finally:
            stdout.close()
            stderr.close()
        wall = time.perf_counter() - t0
        err_text = (tmp_path / "stderr.txt").read_text(errors="replace")
        tail = "\n".join(err_text.strip().splitlines()[-15:])
        violations = _read_violations(log_path)

        def verdict(status: str, reason: str | None, acc: float | None = None, metrics: dict | None = None) -> Run:
            return Run(seed, status, reason, acc, wall, metrics, violations, tail)

        kinds = [v["kind"] for v in violations]
        if "network" in kinds:
            return verdict("network", "tried the network: " + _first(violations, "network"))
        if "write" in kinds:
            return verdict("contract", "wrote outside its directory: " + _first(violations, "write"))
        if "read" in kinds:
            return verdict("contract", "read outside what the contract gives: " + _first(violations, "read"))
        if "spawn" in kinds:
            return verdict("contract", "started another program: " + _first(violations, "spawn"))
        if timed_out:
            return verdict("timeout", f"no result within {cfg.timeout_s:g} s; killed")
        if rc != 0:
            last = tail.splitlines()[-1] if tail else ""
            if _MEMORY_PATTERNS.search(err_text) or (rc < 0 and -rc == signal.SIGKILL):
                return verdict("memory", f"exceeded the {cfg.memory_mb} MB memory limit" + (f": {last}" if last else ""))
            return verdict("crashed", f"exit code {rc}" + (f": {last}" if last else ""))
        return _check_outputs(out, y_test, np, verdict)


def _check_outputs(out: Path, y_test: Any, np: Any, verdict: Callable[..., Run]) -> Run:
    import jsonschema

    metrics_path = out / "metrics.json"
    if not metrics_path.is_file():
        return verdict("contract", "no out/metrics.json")
    try:
        metrics = json.loads(metrics_path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        return verdict("contract", f"out/metrics.json is not JSON: {exc}")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(load_schema("metrics")).iter_errors(metrics))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        return verdict("contract", f"out/metrics.json: {where + ': ' if where else ''}{error.message}")
    log = out / "log.jsonl"
    if not log.is_file() or not log.read_text().strip():
        return verdict("contract", "no per-epoch log at out/log.jsonl", metrics=metrics)
    try:
        for line in log.read_text().splitlines():
            if line.strip():
                json.loads(line)
    except ValueError:
        return verdict("contract", "out/log.jsonl is not JSON lines", metrics=metrics)
    pred_path = out / "predictions.npy"
    if not pred_path.is_file():
        return verdict("contract", "no out/predictions.npy", metrics=metrics)
    try:
        preds = np.load(pred_path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        return verdict("contract", f"out/predictions.npy cannot be read: {exc}", metrics=metrics)
    preds = np.asarray(preds).reshape(-1) if preds.ndim == 2 and 1 in preds.shape else preds
    if preds.shape != (len(y_test),):
        return verdict("contract", f"out/predictions.npy has shape {preds.shape}; expected ({len(y_test)},)", metrics=metrics)
    if not np.issubdtype(preds.dtype, np.integer):
        if np.issubdtype(preds.dtype, np.floating) and np.all(np.mod(preds, 1) == 0):
            preds = preds.astype(np.int64)
        else:
            return verdict("contract", f"out/predictions.npy holds {preds.dtype}; expected integer classes", metrics=metrics)
    acc = float((preds == y_test).mean())
    return verdict("ok", None, acc, metrics)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def _read_violations(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and "kind" in item:
            out.append({"kind": str(item["kind"]), "detail": str(item.get("detail", ""))})
    return out


def _first(violations: list[dict[str, str]], kind: str) -> str:
    return next(v["detail"] for v in violations if v["kind"] == kind)


# -- many runs ---------------------------------------------------------------


def lines_of_code(path: Path) -> int:
    """Non-blank lines that are not only a comment."""
    n = 0
    for line in path.read_text(errors="replace").splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            n += 1
    return n


def summarise(path: Path, runs: list[Run]) -> dict[str, Any]:
    bad = next((r for r in runs if r.status != "ok"), None)
    ok = [r for r in runs if r.status == "ok"]

    def stat(values: list[float]) -> dict[str, float] | None:
        values = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        if not values:
            return None
        return {"mean": round(statistics.fmean(values), 6),
                "std": round(statistics.stdev(values), 6) if len(values) > 1 else 0.0, "n": len(values)}

    metrics = {
        "test_accuracy": stat([r.test_accuracy for r in ok]),
        "wall_seconds": stat([r.wall_seconds for r in ok]),
    }
    for key in ("train_seconds", "samples_per_second", "peak_rss_mb", "params"):
        metrics[key] = stat([(r.metrics or {}).get(key) for r in ok])
    return {
        "path": str(path),
        "status": bad.status if bad else "ok",
        "reason": f"seed {bad.seed}: {bad.reason}" if bad else None,
        "lines_of_code": lines_of_code(path),
        "metrics": {k: metrics[k] for k in METRICS},
        "runs": [r.as_dict() for r in runs],
    }


def compare(candidate: Path, baseline: Path, cfg: HarnessConfig,
            progress: Callable[[str, int, Run], None] | None = None) -> dict[str, Any]:
    """Run both scripts on every seed (sequentially: timings stay honest) and compare."""
    for label, p in (("candidate", candidate), ("baseline", baseline)):
        if not p.is_file():
            raise ZpaError(f"{label} script not found", file=str(p),
                           hint="pass the path of a training script that follows baseline/README.md's contract")
    with tempfile.TemporaryDirectory(prefix="zpa-data-") as tmp:
        data_file, y_test = prepare_data(Path(tmp))
        results: dict[str, list[Run]] = {"baseline": [], "candidate": []}
        for seed in cfg.seeds:
            for label, script in (("baseline", baseline), ("candidate", candidate)):
                run = run_script(script, seed, data_file, y_test, cfg)
                results[label].append(run)
                if progress:
                    progress(label, seed, run)
    report = {
        "verdict": "ok",
        "seeds": list(cfg.seeds),
        "harness": {"timeout_s": cfg.timeout_s, "memory_mb": cfg.memory_mb, "threads": cfg.threads,
                    "device": cfg.device, "epochs": cfg.epochs, "network_namespace": bool(_netns_prefix()),
                    "test_rows": int(len(y_test))},
        "baseline": summarise(baseline, results["baseline"]),
        "candidate": summarise(candidate, results["candidate"]),
    }
    deltas: dict[str, float | None] = {}
    for key in METRICS:
        b, c = report["baseline"]["metrics"][key], report["candidate"]["metrics"][key]
        deltas[key] = round(c["mean"] - b["mean"], 6) if b and c else None
    deltas["lines_of_code"] = report["candidate"]["lines_of_code"] - report["baseline"]["lines_of_code"]
    report["deltas"] = deltas
    if report["candidate"]["status"] != "ok" or report["baseline"]["status"] != "ok":
        report["verdict"] = "failed"
    validate_report(report)
    return report


def validate_report(report: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.validate(report, load_schema("compare"))


def default_baseline(cwd: Path) -> Path:
    """baseline/train.py of the project, else the copy shipped with the kit."""
    local = cwd / "baseline" / "train.py"
    if local.is_file():
        return local
    from zpa.kit import kit_source

    return kit_source() / "baseline" / "train.py"
