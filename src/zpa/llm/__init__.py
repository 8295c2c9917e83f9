"""The API layer: one AsyncAnthropic client shared by `zpa check` and `zpa run`.

- credentials and endpoint as the SDK reads them (ANTHROPIC_API_KEY,
  ANTHROPIC_AUTH_TOKEN, ANTHROPIC_BASE_URL) or ``--base-url``;
- bounded concurrency, a per-call timeout, the SDK's retries plus a retry for
  an SSE ``error`` event that arrives before any output (the SDK does not
  retry those);
- usage and cost per call, and a ``--budget`` checked before each call starts;
- ``--record DIR`` / ``--replay DIR`` cassettes (never holding credentials).

The key is a secret: it is read from the environment into the client and
nowhere else; :func:`redact` scrubs it from any text shown to the user.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from zpa.errors import ZpaError, redact
from zpa.llm.cassette import Cassette
from zpa.llm.prices import Usage, cost_usd, estimate_tokens, worst_case_cost

_attempts: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("zpa_attempts", default=None)

NO_CREDENTIALS_HINT = (
    "set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN); or point --base-url / ANTHROPIC_BASE_URL at an "
    "Anthropic-compatible endpoint such as Ollama's http://localhost:11434 (with --model '*=MODEL'); "
    "or replay recorded responses with --replay DIR"
)


class BudgetExceeded(ZpaError):
    """Raised before a call that could take the run over ``--budget``."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, exit_code=1)


class CallFailed(ZpaError):
    """A call that failed after its retries."""

    def __init__(self, message: str, *, retries: int, status: int | None = None) -> None:
        super().__init__(message, exit_code=1)
        self.retries = retries
        self.status = status


@dataclass
class LLMConfig:
    base_url: str | None = None
    model_overrides: dict[str, str] = field(default_factory=dict)
    concurrency: int = 8
    timeout: float = 300.0
    budget_usd: float | None = None
    record_dir: Path | None = None
    replay_dir: Path | None = None
    max_retries: int = 2
    stream_retries: int = 2
    retry_base_delay: float = 0.5

    def endpoint(self) -> str | None:
        return self.base_url or os.environ.get("ANTHROPIC_BASE_URL") or None

    def has_credentials(self) -> bool:
        return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN") or self.endpoint())

    def require_access(self) -> None:
        if self.replay_dir is None and not self.has_credentials():
            raise ZpaError("no Anthropic API key and no base URL", hint=NO_CREDENTIALS_HINT)


@dataclass
class Call:
    """One Messages API request, labelled for reports, cassettes and the run store."""

    role: str
    label: str
    model: str
    system: str | list[dict[str, Any]]
    messages: list[dict[str, Any]]
    max_tokens: int = 4096
    tools: list[dict[str, Any]] | None = None
    output_schema: dict[str, Any] | None = None
    repeat: int = 0

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens, "system": self.system,
                                "messages": self.messages}
        if self.tools:
            body["tools"] = self.tools
        if self.output_schema:
            body["output_config"] = {"format": {"type": "json_schema", "schema": self.output_schema}}
        return body


@dataclass
class Result:
    call: Call
    message: dict[str, Any]
    usage: Usage
    cost_usd: float | None
    latency_s: float
    retries: int
    source: str  # "api" | "replay" | "batch"
    started_at: float
    ended_at: float

    @property
    def text(self) -> str:
        return "".join(b.get("text", "") for b in self.message.get("content", []) if b.get("type") == "text")

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [b for b in self.message.get("content", []) if b.get("type") == "tool_use"]


@dataclass
class CallRecord:
    """What the run store keeps of every call, finished or failed."""

    role: str
    label: str
    model: str
    repeat: int
    status: str  # ok | error | budget | cancelled
    usage: Usage
    cost_usd: float | None
    latency_s: float
    retries: int
    error: str | None
    started_at: float


async def _count_attempt(request: Any, call_next: Any) -> Any:
    box = _attempts.get()
    if box is not None:
        box[0] += 1
    return await call_next(request)


class LLM:
    """Runs calls with bounded concurrency, budget, record and replay."""

    def __init__(self, config: LLMConfig, on_call: Callable[[CallRecord], None] | None = None) -> None:
        self.config = config
        self.on_call = on_call
        self._sem = asyncio.Semaphore(max(1, config.concurrency))
        self._lock = asyncio.Lock()
        self.spent_usd = 0.0
        self._reserved = 0.0
        self.usage = Usage()
        self._client: Any = None
        self._no_structured_output = False
        self.replay = Cassette(config.replay_dir) if config.replay_dir else None
        self.recorder = Cassette(config.record_dir) if config.record_dir else None
        if self.replay is None:
            config.require_access()

    # -- client --------------------------------------------------------------

    def client(self) -> Any:
        if self._client is None:
            from anthropic import AsyncAnthropic

            kwargs: dict[str, Any] = {"max_retries": self.config.max_retries, "timeout": self.config.timeout,
                                      "middleware": [_count_attempt]}
            if self.config.base_url:
                kwargs["base_url"] = self.config.base_url
            if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
                kwargs["api_key"] = "zpa-no-key"  # a keyless local endpoint (Ollama, vLLM)
            self._client = AsyncAnthropic(**kwargs)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> "LLM":
        if self.replay is None:
            self.client()  # import the SDK (~1.5 s) before any call is timed
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # -- calls ---------------------------------------------------------------

    async def call(self, call: Call) -> Result:
        """Make one call (or serve it from the replay cassette)."""
        if self.replay is not None:
            return self._from_replay(call)
        async with self._sem:
            estimate = await self._reserve(call)
            started = time.time()
            t0 = time.perf_counter()
            box = [0]
            token = _attempts.set(box)
            try:
                message = await self._stream_with_retry(call, box)
            except asyncio.CancelledError:
                self._record(call, "cancelled", Usage(), None, time.perf_counter() - t0, max(0, box[0] - 1), "cancelled", started)
                raise
            except CallFailed as exc:
                self._record(call, "error", Usage(), None, time.perf_counter() - t0, exc.retries, exc.message, started)
                raise
            finally:
                _attempts.reset(token)
                async with self._lock:
                    self._reserved -= estimate
            latency = time.perf_counter() - t0
            usage = Usage.from_api(message.get("usage", {}))
            cost = cost_usd(call.model, usage)
            async with self._lock:
                self.spent_usd += cost or 0.0
                self.usage = self.usage + usage
            result = Result(call, message, usage, cost, latency, max(0, box[0] - 1), "api", started, time.time())
            if self.recorder is not None:
                self.recorder.save(call, message, latency)
            self._record(call, "ok", usage, cost, latency, result.retries, None, started)
            return result

    async def batch(self, calls: list[Call], poll_interval: float = 10.0,
                    progress: Callable[[int, int], None] | None = None) -> list[Result | Exception]:
        """Submit every call as one Message Batch (50 % cheaper), poll until it
        ends, and return results in the order of ``calls`` (the API returns them
        out of order). Replay serves from the cassette instead."""
        if not calls:
            return []
        if self.replay is not None:
            out: list[Result | Exception] = []
            for c in calls:
                try:
                    out.append(self._from_replay(c))
                except ZpaError as exc:
                    out.append(exc)
            return out
        if self.config.budget_usd is not None:
            ests = [worst_case_cost(c.model, estimate_tokens(json.dumps(c.body())), c.max_tokens, batch=True) for c in calls]
            if any(e is None for e in ests) or self.spent_usd + sum(e or 0 for e in ests) > self.config.budget_usd:
                raise BudgetExceeded(
                    f"the batch of {len(calls)} calls could cost up to ${sum(e or 0 for e in ests):.4f}"
                    + (" (some models have no price)" if any(e is None for e in ests) else "")
                    + f", past --budget ${self.config.budget_usd:.2f}", hint="raise --budget or run fewer probes")
        from anthropic import APIError

        client = self.client()
        started = time.time()
        t0 = time.perf_counter()
        requests = [{"custom_id": f"zpa-{i}", "params": c.body()} for i, c in enumerate(calls)]
        try:
            batch = await client.messages.batches.create(requests=requests)
            while batch.processing_status != "ended":
                if progress:
                    counts = batch.request_counts
                    progress(len(calls) - counts.processing, len(calls))
                await asyncio.sleep(poll_interval)
                batch = await client.messages.batches.retrieve(batch.id)
            by_id: dict[str, Any] = {}
            async for entry in await client.messages.batches.results(batch.id):
                by_id[entry.custom_id] = entry.result
        except APIError as exc:
            raise CallFailed(f"message batch failed: {redact(_error_message(exc))}", retries=0) from None
        if progress:
            progress(len(calls), len(calls))
        latency = time.perf_counter() - t0
        results: list[Result | Exception] = []
        for i, c in enumerate(calls):
            res = by_id.get(f"zpa-{i}")
            if res is None or res.type != "succeeded":
                why = "missing from the results" if res is None else res.type
                err = CallFailed(f"{c.role}/{c.label}: batch request {why}", retries=0)
                self._record(c, "error", Usage(), None, latency, 0, err.message, started)
                results.append(err)
                continue
            message = res.message.model_dump(mode="json", exclude_none=True)
            usage = Usage.from_api(message.get("usage", {}))
            cost = cost_usd(c.model, usage, batch=True)
            self.spent_usd += cost or 0.0
            self.usage = self.usage + usage
            if self.recorder is not None:
                self.recorder.save(c, message, latency)
            self._record(c, "ok", usage, cost, latency, 0, None, started)
            results.append(Result(c, message, usage, cost, latency, 0, "batch", started, time.time()))
        return results

    def _from_replay(self, call: Call) -> Result:
        assert self.replay is not None
        entry = self.replay.load(call)
        message = entry["response"]
        usage = Usage.from_api(message.get("usage", {}))
        now = time.time()
        cost = cost_usd(call.model, usage)
        self.usage = self.usage + usage
        self.spent_usd += cost or 0.0
        result = Result(call, message, usage, cost, float(entry.get("latency_s", 0.0)), 0, "replay", now, now)
        if self.recorder is not None and self.recorder.root != self.replay.root:
            self.recorder.save(call, message, result.latency_s)
        self._record(call, "ok", usage, cost, result.latency_s, 0, None, now)
        return result

    async def _reserve(self, call: Call) -> float:
        budget = self.config.budget_usd
        if budget is None:
            return 0.0
        est = worst_case_cost(call.model, estimate_tokens(json.dumps(call.body())), call.max_tokens)
        if est is None:
            self._record(call, "budget", Usage(), None, 0.0, 0, "no price for model", time.time())
            raise BudgetExceeded(
                f"--budget is set but model {call.model!r} has no price, so a call's cost cannot be bounded",
                hint="add the model to a price file and set ZPA_PRICES=FILE, or drop --budget")
        async with self._lock:
            if self.spent_usd + self._reserved + est > budget:
                self._record(call, "budget", Usage(), None, 0.0, 0, "budget", time.time())
                raise BudgetExceeded(
                    f"stopped before {call.role}/{call.label}: it could cost up to ${est:.4f}, and "
                    f"${self.spent_usd:.4f} spent + ${self._reserved:.4f} in flight would pass --budget ${budget:.2f}",
                    hint="raise --budget, lower --repeat or max_tokens, or run fewer roles")
            self._reserved += est
        return est

    async def _stream_with_retry(self, call: Call, box: list[int]) -> dict[str, Any]:
        from anthropic import APIConnectionError, APIStatusError

        client = self.client()
        body = call.body()
        if self._no_structured_output:
            body.pop("output_config", None)
        stream_failures = 0
        while True:
            got_output = False
            try:
                async with client.messages.stream(**body) as stream:
                    async for event in stream:
                        if event.type in ("content_block_delta", "content_block_start"):
                            got_output = got_output or event.type == "content_block_delta"
                    final = await stream.get_final_message()
                return final.model_dump(mode="json", exclude_none=True)
            except APIStatusError as exc:
                status = getattr(exc, "status_code", None)
                if status == 400 and "output_config" in body and "output_config" in _error_message(exc):
                    # An Anthropic-compatible endpoint without structured outputs: ask again without,
                    # and stop asking; callers validate the JSON themselves anyway.
                    self._no_structured_output = True
                    body.pop("output_config")
                    continue
                mid_stream = status == 200  # an SSE error event after a 200
                if mid_stream and not got_output and stream_failures < self.config.stream_retries:
                    stream_failures += 1
                    await asyncio.sleep(self.config.retry_base_delay * (2 ** (stream_failures - 1)) * (0.75 + random.random() / 4))
                    continue
                raise CallFailed(
                    f"{call.role}/{call.label}: the API answered {'a mid-stream error' if mid_stream else status}: "
                    f"{redact(_error_message(exc))}", retries=max(0, box[0] - 1), status=status) from None
            except APIConnectionError as exc:
                raise CallFailed(f"{call.role}/{call.label}: {redact(str(exc) or type(exc).__name__)} "
                                 f"(endpoint {self.config.endpoint() or 'api.anthropic.com'})",
                                 retries=max(0, box[0] - 1)) from None

    def _record(self, call: Call, status: str, usage: Usage, cost: float | None, latency: float, retries: int,
                error: str | None, started: float) -> None:
        if self.on_call is not None:
            self.on_call(CallRecord(call.role, call.label, call.model, call.repeat, status, usage, cost, latency,
                                    retries, error, started))


def _error_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return f"{err.get('type', 'error')}: {err['message']}"
    return str(getattr(exc, "message", exc))
