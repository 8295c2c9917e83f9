"""zpa run: DAG pipelines against the local Anthropic-compatible server."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from conftest import REPO
from support.server import last_user_text, system_text

SPEC = ('Spec for the feature.\n```json handoff\n{"role": "architect", "summary": "rate limiter", '
        '"spec_path": "docs/design/rl.md", "interfaces": [{"name": "allow", "signature": "allow(user) -> bool"}], '
        '"tasks": [{"id": "T1", "title": "limiter", "acceptance": ["101st refused"]}]}\n```\n')
CODE = "Implementation:\n```python path=src/rl.py\ndef allow(user):\n    return True\n```\n"
CHECKLIST = "Review checklist:\n- [ ] 101st request refused\n"


def persona(body):
    s = system_text(body)
    for role in ("Architect", "Developer", "Reviewer", "Data Engineer", "Model Architect", "ML Engineer"):
        if f"You are the **{role}**" in s:
            return role
    return None


def software_reply(body):
    return {"Architect": SPEC, "Developer": CODE, "Reviewer": CHECKLIST}.get(persona(body), "ok")


@pytest.fixture
def api(api):
    api.default_reply = software_reply
    return api


def run_schema():
    return json.loads((REPO / "src/zpa/schemas/run.schema.json").read_text())


def zrun(zpa, proj, api, *args):
    out = proj / "run-out.json"
    r = zpa("run", *args, "--root", proj, "--base-url", api.url, "--no-progress", "--json", out, "--db", proj / "runs.db")
    record = json.loads(out.read_text()) if out.exists() else None
    if out.exists():
        out.unlink()
    return r, record


def roles_called(api):
    return [persona(q.body) for q in api.messages_requests()]


def test_parallel_phase_costs_the_max_not_the_sum(zpa, rendered, api):
    api.model_latency = {"claude-opus-4-8": 0.3, "claude-sonnet-4-6": 1.2, "claude-haiku-4-5": 1.2}
    r, rec = zrun(zpa, rendered, api, "software", "--task", "rate limiter")
    assert r.code == 0, r.err + r.out
    jsonschema.validate(rec, run_schema())
    nodes = rec["nodes"]
    assert [nodes[n]["status"] for n in ("architect", "developer", "reviewer")] == ["ok"] * 3
    assert rec["sum_s"] > 2.6
    assert rec["wall_s"] < rec["sum_s"] - 0.9  # the two 1.2 s branches overlapped
    assert rec["critical_path"][0] == "architect" and len(rec["critical_path"]) == 2
    assert rec["efficiency"] >= 0.9
    assert "code-review" not in nodes


def test_upstream_output_reaches_downstream_nodes(zpa, rendered, api):
    r, rec = zrun(zpa, rendered, api, "software", "--task", "rate limiter", "--review-code")
    prompts = {persona(q.body) + str(i): last_user_text(q.body) for i, q in enumerate(api.messages_requests())}
    dev = next(p for k, p in prompts.items() if k.startswith("Developer"))
    assert "Spec for the feature." in dev and "rate limiter" in dev
    review = [p for k, p in prompts.items() if k.startswith("Reviewer")]
    assert any("Implementation:" in p and "Review checklist" in p for p in review)  # --review-code's final node
    assert rec["nodes"]["architect"]["handoff"]["tasks"][0]["id"] == "T1"
    assert rec["nodes"]["architect"]["handoff_error"] is None
    run_dir = rendered / "runs" / rec["run_id"]
    assert (run_dir / "developer/files/src/rl.py").read_text().startswith("def allow")
    assert json.loads((run_dir / "architect/handoff.json").read_text())["role"] == "architect"
    assert rec["nodes"]["code-review"]["needs"] == ["developer", "reviewer"]


def test_failed_branch_keeps_the_other_and_resume_calls_only_what_is_left(zpa, rendered, api):
    api.fail_next("500", count=100, match="Implement the agreed design")
    r, rec = zrun(zpa, rendered, api, "software", "--task", "rate limiter", "--review-code")
    assert r.code == 1
    assert rec["status"] == "partial"
    n = rec["nodes"]
    assert (n["architect"]["status"], n["developer"]["status"], n["reviewer"]["status"], n["code-review"]["status"]) == \
        ("ok", "failed", "ok", "skipped")
    run_dir = rendered / "runs" / rec["run_id"]
    assert (run_dir / "reviewer/response.md").read_text().startswith("Review checklist")
    assert n["developer"]["attempts"] == 2 and n["developer"]["retries"] >= 2
    assert "continue with: zpa run software --resume" in r.out

    api.faults.clear()
    api.log.clear()
    r2, rec2 = zrun(zpa, rendered, api, "software", "--resume", rec["run_id"], "--review-code")
    assert r2.code == 0, r2.err
    assert rec2["run_id"] == rec["run_id"] and rec2["status"] == "ok"
    assert sorted(roles_called(api)) == ["Developer", "Reviewer"]  # developer + code-review only
    n2 = rec2["nodes"]
    assert (n2["architect"]["status"], n2["reviewer"]["status"]) == ("reused", "reused")
    assert n2["developer"]["status"] == n2["code-review"]["status"] == "ok"
    jsonschema.validate(rec2, run_schema())


def test_resume_reruns_a_node_whose_inputs_changed(zpa, rendered, api):
    _, rec = zrun(zpa, rendered, api, "software", "--task", "rate limiter")
    role = rendered / "roles/reviewer.md"
    role.write_text(role.read_text().replace("You are the independent check", "You are the careful, independent check"))
    assert zpa("render", "--root", rendered).code == 0
    api.log.clear()
    r, rec2 = zrun(zpa, rendered, api, "software", "--resume", rec["run_id"])
    assert r.code == 0
    assert roles_called(api) == ["Reviewer"]
    assert rec2["nodes"]["reviewer"]["status"] == "ok" and rec2["nodes"]["developer"]["status"] == "reused"


def test_hostile_code_block_paths_are_refused(zpa, rendered, api, tmp_path):
    outside = tmp_path / "escaped.py"
    hostile = ("```python path=../../../escaped.py\nx = 1\n```\n```python path=/tmp/zpa-abs-escape.py\nx = 2\n```\n"
               "```python path=src/ok.py\nx = 3\n```\n")
    api.default_reply = lambda body: hostile if persona(body) == "Developer" else software_reply(body)
    r, rec = zrun(zpa, rendered, api, "software", "--task", "t")
    dev = rec["nodes"]["developer"]
    assert dev["files"] == ["src/ok.py"]
    assert {f["path"] for f in dev["refused_files"]} == {"../../../escaped.py", "/tmp/zpa-abs-escape.py"}
    assert not outside.exists() and not Path("/tmp/zpa-abs-escape.py").exists()
    assert not list(rendered.rglob("escaped.py"))


def test_safe_write_refuses_links(tmp_path):
    from zpa.pipeline import safe_write

    base = tmp_path / "files"
    base.mkdir()
    (base / "sub").symlink_to(tmp_path)
    rel, why = safe_write(base, "sub/evil.py", "x")
    assert rel is None and "link" in why
    assert not (tmp_path / "evil.py").exists()
    assert safe_write(base, "a/b.py", "ok") == ("a/b.py", None)


def test_many_tasks_run_concurrently(zpa, rendered, api):
    api.model_latency = {"claude-opus-4-8": 0.3, "claude-sonnet-4-6": 0.6, "claude-haiku-4-5": 0.6}
    tasks = rendered / "tasks.txt"
    tasks.write_text("# four features\nrate limiter\nCSV export\n{\"task\": \"audit log\"}\nsearch\n")
    t = time.perf_counter()
    r, recs = zrun(zpa, rendered, api, "software", "--tasks", tasks, "--concurrency", "16")
    wall = time.perf_counter() - t
    assert r.code == 0, r.err
    assert [x["task"] for x in recs] == ["rate limiter", "CSV export", "audit log", "search"]
    assert all(x["status"] == "ok" for x in recs)
    assert len({x["run_id"] for x in recs}) == 4
    assert wall < 4 * 0.9  # serial would be 4 x 0.9 s plus start-up


def test_unknown_pipeline_and_bad_usage(zpa, rendered, api):
    r, _ = zrun(zpa, rendered, api, "deploy", "--task", "x")
    assert r.code == 2 and "no pipeline 'deploy'" in r.err and "software" in r.err
    r, _ = zrun(zpa, rendered, api, "software")
    assert r.code == 2 and "--task" in r.err
    r, _ = zrun(zpa, rendered, api, "ml", "--task", "x", "--review-code")
    assert r.code == 2 and "no optional group 'review-code'" in r.err
    r, _ = zrun(zpa, rendered, api, "software", "--resume", "nope")
    assert r.code == 2 and "no run 'nope'" in r.err


def test_run_is_recorded_in_the_store(zpa, rendered, api):
    _, rec = zrun(zpa, rendered, api, "software", "--task", "rate limiter")
    shown = json.loads(zpa("runs", "show", rec["run_id"], "--json", "--db", rendered / "runs.db").out)
    assert shown["kind"] == "pipeline" and shown["status"] == "ok"
    assert sorted(c["role"] for c in shown["calls"]) == ["architect", "developer", "reviewer"]
    assert any(a["path"].endswith("developer/files/src/rl.py") for a in shown["artefacts"])


def test_sigint_leaves_a_consistent_run_json(rendered, api, tmp_path):
    api.model_latency = {"claude-sonnet-4-6": 30, "claude-haiku-4-5": 30}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "zpa", "run", "software", "--task", "t", "--root", str(rendered),
                             "--base-url", api.url, "--no-progress", "--db", str(tmp_path / "runs.db")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    run_json = None
    while time.time() < deadline:
        found = list((rendered / "runs").glob("*/run.json")) if (rendered / "runs").exists() else []
        if found:
            data = json.loads(found[0].read_text())
            if data["nodes"]["developer"]["status"] == "running":
                run_json = found[0]
                break
        time.sleep(0.1)
    assert run_json is not None, "the developer node never started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    rec = json.loads(run_json.read_text())
    jsonschema.validate(rec, run_schema())
    assert rec["status"] == "cancelled"
    assert rec["nodes"]["architect"]["status"] == "ok"
    assert rec["nodes"]["developer"]["status"] == "cancelled"
    assert (run_json.parent / "architect/response.md").is_file()
    assert "Traceback" not in err


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_ml_pipeline_compares_the_generated_script(zpa, rendered, api):
    script = (Path(__file__).parent / "fixtures/candidates/good_mlp.py").read_text()
    api.default_reply = lambda body: (
        f"Here is train.py.\n```python path=train.py\n{script}```\n" if persona(body) == "ML Engineer"
        else f"{persona(body)} spec.")
    api.model_latency = {"claude-sonnet-4-6": 0.3, "claude-opus-4-8": 0.3}
    r, rec = zrun(zpa, rendered, api, "ml", "--task", "classify digits")
    assert r.code == 0, r.err + r.out
    prompt = next(last_user_text(q.body) for q in api.messages_requests() if persona(q.body) == "ML Engineer")
    assert "Data Engineer spec." in prompt and "Model Architect spec." in prompt
    run_dir = rendered / "runs" / rec["run_id"]
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["compare"]["candidate"] == "ok", rec["compare"]
    assert rec["compare"]["test_accuracy"]["candidate"] > 0.9
    assert (run_dir / "compare.json").is_file()


def test_replay_miss_fails_the_node_not_the_run(zpa, rendered, api, tmp_path, monkeypatch):
    cassettes = tmp_path / "cassettes"
    _, rec = zrun(zpa, rendered, api, "software", "--task", "rate limiter", "--record", cassettes)
    assert rec["status"] == "ok"
    # The reviewer's persona changes: its recorded exchange no longer matches.
    role = rendered / "roles/reviewer.md"
    role.write_text(role.read_text().replace("You are the independent check", "You are the strict, independent check"))
    zpa("render", "--root", rendered)
    api.stop()
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    r = zpa("run", "software", "--task", "rate limiter", "--root", rendered, "--replay", cassettes, "--no-progress",
            "--json", tmp_path / "out.json", "--db", tmp_path / "runs.db")
    out = json.loads((tmp_path / "out.json").read_text())
    assert r.code == 1
    assert (out["nodes"]["architect"]["status"], out["nodes"]["developer"]["status"]) == ("ok", "ok")
    assert out["nodes"]["reviewer"]["status"] == "failed"
    assert "no recorded response for reviewer/software/reviewer" in out["nodes"]["reviewer"]["error"]
