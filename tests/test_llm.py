"""The API layer against a real local Anthropic-compatible server."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from conftest import SENTINEL
from support.server import tool_use
from zpa.errors import ZpaError
from zpa.llm import LLM, BudgetExceeded, Call, CallFailed, LLMConfig
from zpa.llm.models import parse_model_overrides, resolve_model
from zpa.llm.prices import Usage, cost_usd
from zpa.runs import RunStore




def make_call(label="p1", role="reviewer", model="claude-haiku-4-5", text="Review this.", repeat=0, **kw):
    return Call(role=role, label=label, model=model, system="You are the Reviewer.",
                messages=[{"role": "user", "content": text}], max_tokens=256, repeat=repeat, **kw)


def run(coro):
    return asyncio.run(coro)


def config(api, **kw):
    kw.setdefault("retry_base_delay", 0.01)
    return LLMConfig(base_url=api.url, **kw)


async def one(cfg, call, store=None, run_id=None):
    on_call = (lambda rec: store.add_call(run_id, rec)) if store else None
    async with LLM(cfg, on_call) as llm:
        return await llm.call(call)


def test_streamed_call_returns_text_usage_and_cost(api):
    api.rule("Review this", "Finding F1: missing test. I do not write fixes.")
    r = run(one(config(api), make_call()))
    assert r.text == "Finding F1: missing test. I do not write fixes."
    assert r.usage.output > 0 and r.usage.input > 0
    assert r.cost_usd == pytest.approx((r.usage.input * 1 + r.usage.output * 5) / 1e6)
    sent = api.messages_requests()[-1]
    assert sent.body["stream"] is True
    assert sent.body["system"] == "You are the Reviewer."
    # anthropic 2.17 sends the key as a bearer token; older releases used x-api-key.
    assert SENTINEL in sent.headers.get("x-api-key", "") + sent.headers.get("authorization", "")


def test_tool_use_blocks_come_back(api):
    api.rule("edit", tool_use("edit_file", {"path": "src/a.py"}, text="Editing."))
    r = run(one(config(api), make_call(text="please edit")))
    assert [t["name"] for t in r.tool_calls] == ["edit_file"]
    assert r.tool_calls[0]["input"] == {"path": "src/a.py"}


@pytest.mark.parametrize("kind", ["429", "529", "500", "reset"])
def test_transient_faults_are_retried_and_counted(api, tmp_path, kind):
    api.rule("Review this", "fine")
    api.fail_next(kind, retry_after=0 if kind == "429" else None)
    store = RunStore(tmp_path / "runs.db")
    rid = store.start_run("check", "t", {})
    r = run(one(config(api), make_call(), store, rid))
    assert r.text == "fine"
    assert r.retries == 1
    calls = store.get_run(rid)["calls"]
    assert calls[0]["retries"] == 1 and calls[0]["status"] == "ok"
    assert len(api.messages_requests()) == 2


def test_retry_after_is_honoured(api):
    api.fail_next("429", retry_after=1)
    t = time.perf_counter()
    r = run(one(config(api), make_call()))
    assert r.retries == 1
    assert time.perf_counter() - t >= 0.9


def test_sse_error_before_output_is_retried(api):
    api.rule("Review this", "recovered")
    api.fail_next("stream_error")
    r = run(one(config(api), make_call()))
    assert r.text == "recovered" and r.retries == 1


def test_sse_error_after_output_fails_clearly(api, tmp_path):
    api.fail_next("stream_error_after_output")
    store = RunStore(tmp_path / "runs.db")
    rid = store.start_run("check", "t", {})
    with pytest.raises(CallFailed) as exc:
        run(one(config(api), make_call(), store, rid))
    assert "mid-stream error" in str(exc.value)
    assert store.get_run(rid)["calls"][0]["status"] == "error"


def test_persistent_failure_reports_retries(api):
    api.fail_next("500", count=10)
    with pytest.raises(CallFailed) as exc:
        run(one(config(api, max_retries=2), make_call()))
    assert exc.value.retries == 2
    assert len(api.messages_requests()) == 3


def test_slow_headers_hit_the_timeout(api):
    api.fail_next("slow_headers", delay=3, count=5)
    t = time.perf_counter()
    with pytest.raises(CallFailed):
        run(one(config(api, timeout=0.5, max_retries=0), make_call()))
    assert time.perf_counter() - t < 2.5


def test_concurrency_is_bounded_and_parallel(api):
    api.rule("Review", "ok", latency=0.5)

    async def many(n, conc):
        async with LLM(config(api, concurrency=conc)) as llm:
            return await asyncio.gather(*(llm.call(make_call(label=f"p{i}")) for i in range(n)))

    t = time.perf_counter()
    run(many(4, 4))
    parallel = time.perf_counter() - t
    t = time.perf_counter()
    run(many(4, 1))
    serial = time.perf_counter() - t
    assert parallel < serial * 0.6


def test_record_then_replay_without_a_server(api, tmp_path, monkeypatch):
    api.rule("Review this", "recorded answer")
    cassettes = tmp_path / "cassettes"
    r1 = run(one(config(api, record_dir=cassettes), make_call(repeat=0)))
    r2 = run(one(config(api, record_dir=cassettes), make_call(repeat=1)))
    assert len(list(cassettes.glob("*.json"))) == 2
    api.stop()
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    replay = LLMConfig(base_url="http://127.0.0.1:9", replay_dir=cassettes)
    again = run(one(replay, make_call(repeat=1)))
    assert again.text == r2.text == "recorded answer"
    assert again.source == "replay"
    assert again.usage == r1.usage


def test_replay_miss_names_the_call(tmp_path):
    (tmp_path / "c").mkdir()
    with pytest.raises(ZpaError) as exc:
        run(one(LLMConfig(replay_dir=tmp_path / "c"), make_call(label="just-fix-it")))
    msg = str(exc.value)
    assert "reviewer/just-fix-it" in msg and "key" in msg and "--record" in msg


def test_sentinel_key_never_reaches_a_file(api, tmp_path):
    api.rule("Review this", "ok")
    api.fail_next("500")
    api.fail_next("stream_error_after_output", match="second request")
    store = RunStore(tmp_path / "runs.db")
    rid = store.start_run("check", "t", {})
    cfg = config(api, record_dir=tmp_path / "cassettes")
    run(one(cfg, make_call(label="a"), store, rid))
    with pytest.raises(CallFailed) as exc:
        run(one(cfg, make_call(label="b", text="second request"), store, rid))
    assert SENTINEL not in str(exc.value)
    store.close()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    for p in written:
        assert SENTINEL.encode() not in p.read_bytes(), p


def test_budget_stops_before_a_call_that_could_exceed_it(api, tmp_path):
    api.rule("Review", "ok " * 5000)  # ~3,750 output tokens: ~$0.094 on Opus
    store = RunStore(tmp_path / "runs.db")
    rid = store.start_run("check", "t", {})

    async def go():
        # claude-opus-4-8 output is $25/MTok: 4096 max tokens could cost ~$0.10.
        async with LLM(config(api, budget_usd=0.15), lambda rec: store.add_call(rid, rec)) as llm:
            big = lambda i: Call("architect", f"p{i}", "claude-opus-4-8", "sys",  # noqa: E731
                                 [{"role": "user", "content": "Review"}], max_tokens=4096)
            first = await llm.call(big(1))
            with pytest.raises(BudgetExceeded):
                await llm.call(big(2))
            return first

    first = run(go())
    assert first.cost_usd > 0.05
    assert len(api.messages_requests()) == 1  # the second never left the machine
    statuses = [c["status"] for c in store.get_run(rid)["calls"]]
    assert statuses == ["ok", "budget"]


def test_budget_refuses_unpriced_models(api):
    with pytest.raises(BudgetExceeded) as exc:
        run(one(config(api, budget_usd=1.0), make_call(model="qwen3:8b")))
    assert "no price" in str(exc.value)


def test_no_credentials_says_how_to_provide_them(monkeypatch):
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ZpaError) as exc:
        LLM(LLMConfig())
    text = str(exc.value)
    assert "ANTHROPIC_API_KEY" in text and "11434" in text and "--replay" in text


def test_keyless_local_endpoint_works(api, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    api.rule("Review", "local ok")
    r = run(one(config(api), make_call(model="qwen3:8b")))
    assert r.text == "local ok"
    assert r.cost_usd is None  # unknown model: tokens reported, cost unknown


def test_model_map_overrides():
    o = parse_model_overrides(["reviewer=claude-sonnet-4-6", "*=qwen3:8b"])
    assert resolve_model("reviewer", "claude-haiku-4-5", o) == "claude-sonnet-4-6"
    assert resolve_model("architect", "claude-opus-4-8", o) == "qwen3:8b"
    assert resolve_model("architect", "claude-opus-4-8", {}) == "claude-opus-4-8"
    with pytest.raises(ZpaError):
        parse_model_overrides(["reviewer"])


def test_costs_follow_the_price_table():
    u = Usage(input=1_000_000, output=1_000_000, cache_write=1_000_000, cache_read=1_000_000)
    # Sonnet 4.6: 3 in + 15 out + 3*1.25 write + 3*0.1 read
    assert cost_usd("claude-sonnet-4-6", u) == pytest.approx(3 + 15 + 3.75 + 0.3)
    assert cost_usd("claude-sonnet-4-6", u, batch=True) == pytest.approx((3 + 15 + 3.75 + 0.3) / 2)
    # Opus 5.5 has an explicit cache-read price.
    assert cost_usd("claude-opus-5-5", Usage(cache_read=1_000_000)) == pytest.approx(0.20)
    # Haiku 5.5 is tiered by input size.
    assert cost_usd("claude-haiku-5-5", Usage(input=50_000)) == pytest.approx(0.005)
    assert cost_usd("claude-haiku-5-5", Usage(input=200_000)) == pytest.approx(0.1)
    assert cost_usd("claude-sonnet-4-6-20260101", Usage(output=1_000_000)) == pytest.approx(15)
    assert cost_usd("mystery-model", u) is None


def test_run_store_migrations_are_numbered_and_idempotent(tmp_path):
    s = RunStore(tmp_path / "r.db")
    assert s.db.execute("PRAGMA user_version").fetchone()[0] >= 1
    s.close()
    s = RunStore(tmp_path / "r.db")  # reopening runs no migration twice
    assert {r[0] for r in s.db.execute("SELECT name FROM sqlite_master WHERE type='table'")} >= {
        "runs", "calls", "verdicts", "artefacts"}


def test_endpoint_without_structured_outputs_is_asked_again_without(api):
    api.unsupported_fields = {"output_config"}
    api.rule("Review", '{"pass": true, "violated": [], "reason": "ok"}')
    schema = {"type": "object", "properties": {"pass": {"type": "boolean"}}, "required": ["pass"]}

    async def go():
        async with LLM(config(api)) as llm:
            a = await llm.call(make_call(label="a", output_schema=schema))
            b = await llm.call(make_call(label="b", output_schema=schema))
            return a, b

    a, b = run(go())
    assert json.loads(a.text)["pass"] is True and json.loads(b.text)["pass"] is True
    sent = [("output_config" in q.body) for q in api.messages_requests()]
    assert sent == [True, False, False]  # refused once, then never sent again
