"""zpa compare and the baseline: a candidate is judged by the harness, never by itself."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from conftest import REPO  # noqa: E402
from zpa.compare import HarnessConfig, prepare_data, run_script  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "candidates"
BASELINE = REPO / "baseline" / "train.py"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepare_data(tmp_path_factory.mktemp("data"))


def cfg(tmp_path, **kw):
    kw.setdefault("seeds", [0])
    kw.setdefault("timeout_s", 60)
    kw.setdefault("deny_read", [str(tmp_path / "project")])
    return HarnessConfig(**kw)


def run(name_or_path, data, config, seed=0):
    path = name_or_path if isinstance(name_or_path, Path) else FIX / name_or_path
    return run_script(path, seed, data[0], data[1], config)


def test_data_file_holds_no_test_labels(data):
    import numpy as np

    with np.load(data[0]) as z:
        assert sorted(z.files) == ["X_test", "X_train", "y_train"]
        assert len(z["X_test"]) == len(data[1]) == 359  # 20 % of each class, rounded


def test_short_baseline_run_is_accurate_and_deterministic(tmp_path, data):
    c = cfg(tmp_path, epochs=10)
    a, b = run(BASELINE, data, c), run(BASELINE, data, c)
    assert a.status == "ok", a.reason
    assert a.test_accuracy >= 0.95
    assert a.test_accuracy == b.test_accuracy
    for key in ("params", "epochs", "seed", "test_accuracy"):
        assert a.metrics[key] == b.metrics[key]


def test_baseline_writes_the_contract_outputs(tmp_path):
    out = tmp_path / "out"
    subprocess.run([sys.executable, str(BASELINE), "--epochs", "3", "--out", str(out), "--quiet"], check=True)
    metrics = json.loads((out / "metrics.json").read_text())
    schema = json.loads((REPO / "src/zpa/schemas/metrics.schema.json").read_text())
    jsonschema.validate(metrics, schema)
    assert 0 < metrics["test_accuracy"] <= 1  # its own labelled split
    lines = (out / "log.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == [1, 2, 3]
    assert (out / "checkpoint.pt").is_file()


def test_baseline_resume_continues_the_same_run(tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    base = [sys.executable, str(BASELINE), "--epochs", "6", "--quiet"]
    subprocess.run([*base, "--out", str(full)], check=True)
    subprocess.run([*base, "--out", str(split), "--stop-after-epoch", "3"], check=True)
    assert not (split / "metrics.json").exists()
    subprocess.run([*base, "--out", str(split), "--resume"], check=True)
    losses = lambda d: [json.loads(ln)["train_loss"] for ln in (d / "log.jsonl").read_text().splitlines()]  # noqa: E731
    assert losses(full) == losses(split)
    assert json.loads((full / "metrics.json").read_text())["test_accuracy"] == \
        json.loads((split / "metrics.json").read_text())["test_accuracy"]


def test_good_candidate_is_ok(tmp_path, data):
    r = run("good_mlp.py", data, cfg(tmp_path))
    assert r.status == "ok", (r.reason, r.stderr_tail)
    assert r.test_accuracy > 0.93


def test_crashing_candidate(tmp_path, data):
    r = run("crashing.py", data, cfg(tmp_path))
    assert r.status == "crashed"
    assert "not aligned" in r.reason


def test_hanging_candidate_is_killed_with_its_children(tmp_path, data):
    t = time.monotonic()
    r = run("hanging.py", data, cfg(tmp_path, timeout_s=3))
    assert r.status == "timeout"
    assert time.monotonic() - t < 20
    left = subprocess.run(["pgrep", "-f", "zpa-run-.*train.py|train.py --seed 0 --device cpu --data-file"],
                          capture_output=True, text=True).stdout.split()
    assert left == []


def test_network_attempt_is_refused_and_reported(tmp_path, data):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    hits = []

    def accept():
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                conn, _ = server.accept()
                hits.append(conn.recv(100))
                conn.close()
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    script = tmp_path / "network.py"
    script.write_text((FIX / "network.py").read_text().replace("TARGET_PORT", str(server.getsockname()[1])))
    r = run(script, data, cfg(tmp_path))
    server.close()
    assert r.status == "network"
    assert "127.0.0.1" in r.reason
    assert hits == []


def test_write_outside_is_refused(tmp_path, data):
    canary = Path("/tmp/zpa-escape-canary.txt")
    canary.unlink(missing_ok=True)
    r = run("escape_write.py", data, cfg(tmp_path))
    assert r.status == "contract"
    assert "wrote outside its directory" in r.reason and str(canary) in r.reason
    assert not canary.exists()


def test_reading_the_project_is_refused(tmp_path, data):
    secret = tmp_path / "project" / "labels.txt"
    secret.parent.mkdir()
    secret.write_text("the answers")
    script = tmp_path / "read_repo.py"
    script.write_text((FIX / "read_repo.py").read_text().replace("TARGET_PATH", repr(str(secret))))
    r = run(script, data, cfg(tmp_path))
    assert r.status == "contract"
    assert "read outside" in r.reason


def test_spawning_a_program_is_refused(tmp_path, data):
    r = run("spawns.py", data, cfg(tmp_path))
    assert r.status == "contract" and "curl" in r.reason


def test_ignoring_the_contract(tmp_path, data):
    r = run("no_contract.py", data, cfg(tmp_path))
    assert r.status == "contract"
    assert "metrics.json" in r.reason


def test_memory_limit(tmp_path, data):
    r = run("memory_hog.py", data, cfg(tmp_path, memory_mb=512))
    assert r.status == "memory", (r.reason, r.stderr_tail)


def test_cli_compare_reports_weaker_candidate(tmp_path, zpa):
    report_path = tmp_path / "report.json"
    r = zpa("compare", FIX / "weak_centroid.py", "--baseline", BASELINE, "--seeds", "2", "--epochs", "8",
            "--json", report_path)
    assert r.code == 0, r.err
    report = json.loads(report_path.read_text())
    jsonschema.validate(report, json.loads((REPO / "src/zpa/schemas/compare.schema.json").read_text()))
    assert report["baseline"]["status"] == report["candidate"]["status"] == "ok"
    assert report["deltas"]["test_accuracy"] < 0  # the centroid model is weaker
    assert report["baseline"]["metrics"]["test_accuracy"]["n"] == 2
    assert report["candidate"]["lines_of_code"] < report["baseline"]["lines_of_code"]
    assert "test accuracy" in r.out


def test_cli_compare_fails_for_a_broken_candidate(tmp_path, zpa):
    report_path = tmp_path / "report.json"
    r = zpa("compare", FIX / "crashing.py", "--baseline", FIX / "weak_centroid.py", "--seeds", "1", "--json", report_path)
    assert r.code == 1
    report = json.loads(report_path.read_text())
    assert report["verdict"] == "failed"
    assert report["candidate"]["status"] == "crashed"
    assert "seed 0" in report["candidate"]["reason"]


def test_cli_compare_missing_candidate(tmp_path, zpa):
    r = zpa("compare", tmp_path / "nope.py", "--baseline", BASELINE)
    assert r.code == 2 and "candidate script not found" in r.err


def test_baseline_runs_under_torchrun(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun not installed")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(BASELINE), "--epochs", "3",
                    "--out", str(out), "--quiet"], check=True, env=env, capture_output=True, timeout=120)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert metrics["test_accuracy"] > 0.5
