"""A real Anthropic-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

It speaks enough of the Messages API for the real SDK to run end to end:
JSON and SSE streaming responses with the real event sequence, usage with
prompt-cache fields, tool_use blocks, token counting, Message Batches and the
model list. Replies are scripted by rules; latency and faults are injected on
demand; every request is logged so tests can assert what the client sent.

    with FakeAnthropic() as api:
        api.rule(lambda body: "Reviewer" in system_text(body), "I do not write fixes.")
        api.fail_next("429", retry_after=0)
        client = AsyncAnthropic(api_key="sk-test", base_url=api.url)
"""

from __future__ import annotations

import itertools
import json
import random
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Reply = str | dict[str, Any] | Callable[[dict[str, Any]], "str | dict[str, Any]"]
MIN_CACHEABLE = 1024


def system_text(body: dict[str, Any]) -> str:
    s = body.get("system") or ""
    if isinstance(s, list):
        return "".join(b.get("text", "") for b in s)
    return s


def last_user_text(body: dict[str, Any]) -> str:
    for msg in reversed(body.get("messages", [])):
        if msg.get("role") == "user":
            c = msg.get("content")
            if isinstance(c, str):
                return c
            return "".join(b.get("text", "") for b in c if isinstance(b, dict))
    return ""


def tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


@dataclass
class Rule:
    match: Callable[[dict[str, Any]], bool]
    reply: Reply
    latency: float = 0.0
    times: int | None = None  # None: forever


@dataclass
class Fault:
    kind: str  # 429 | 529 | 500 | reset | stream_error | stream_error_after_output | slow_headers
    match: Callable[[dict[str, Any]], bool] | None = None
    retry_after: float | None = None
    delay: float = 0.0
    remaining: int = 1


@dataclass
class LoggedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class FakeAnthropic:
    default_reply: Reply = "OK."
    model_latency: dict[str, float] = field(default_factory=dict)
    # Request fields this endpoint refuses, as some Anthropic-compatible servers refuse output_config.
    unsupported_fields: set[str] = field(default_factory=set)
    batch_polls_before_done: int = 1

    def __post_init__(self) -> None:
        self.rules: list[Rule] = []
        self.faults: list[Fault] = []
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._cache: set[str] = set()
        self._batches: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.server: ThreadingHTTPServer | None = None

    # -- scripting -----------------------------------------------------------

    def rule(self, match: Callable[[dict[str, Any]], bool] | str, reply: Reply, latency: float = 0.0,
             times: int | None = None) -> None:
        """Reply with ``reply`` to requests matching ``match`` (a predicate on the
        JSON body, or a regex searched in the system prompt + last user turn)."""
        if isinstance(match, str):
            pattern = re.compile(match, re.S)
            match_fn = lambda body: bool(pattern.search(system_text(body) + "\n" + last_user_text(body)))  # noqa: E731
        else:
            match_fn = match
        with self._lock:
            self.rules.append(Rule(match_fn, reply, latency, times))

    def fail_next(self, kind: str, count: int = 1, match: Callable[[dict[str, Any]], bool] | str | None = None,
                  retry_after: float | None = None, delay: float = 0.0) -> None:
        if isinstance(match, str):
            pattern = re.compile(match, re.S)
            match = lambda body: bool(pattern.search(system_text(body) + "\n" + last_user_text(body)))  # noqa: E731
        with self._lock:
            self.faults.append(Fault(kind, match, retry_after, delay, count))

    def messages_requests(self) -> list[LoggedRequest]:
        return [r for r in self.log if r.method == "POST" and r.path == "/v1/messages"]

    # -- lifecycle -----------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeAnthropic":
        handler = type("Handler", (_Handler,), {"api": self})
        # A deep accept backlog: with the default of 5, a burst of 100+ connections
        # waits on SYN retransmits (a second each) and the client looks slow.
        server_cls = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 1024})
        self.server = server_cls(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> "FakeAnthropic":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------

    def _take_fault(self, body: dict[str, Any]) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.remaining > 0 and (f.match is None or f.match(body)):
                    f.remaining -= 1
                    return f
        return None

    def _pick(self, body: dict[str, Any]) -> tuple[Reply, float]:
        with self._lock:
            for r in self.rules:
                if r.match(body) and (r.times is None or r.times > 0):
                    if r.times is not None:
                        r.times -= 1
                    return r.reply, r.latency
        return self.default_reply, 0.0

    def build_message(self, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        reply, latency = self._pick(body)
        if callable(reply):
            reply = reply(body)
        if isinstance(reply, str):
            content = [{"type": "text", "text": reply}]
            stop = "end_turn"
        else:
            content = reply["content"]
            stop = reply.get("stop_reason", "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn")
        latency += self.model_latency.get(body.get("model", ""), 0.0)
        usage = self._usage(body, content)
        msg = {
            "id": f"msg_{next(self._ids):06d}", "type": "message", "role": "assistant", "model": body.get("model"),
            "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage,
        }
        return msg, latency

    def _usage(self, body: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, int]:
        system = body.get("system") or ""
        cached_prefix = ""
        rest = ""
        if isinstance(system, list):
            upto = -1
            for i, b in enumerate(system):
                if b.get("cache_control"):
                    upto = i
            cached_prefix = "".join(b.get("text", "") for b in system[: upto + 1])
            rest = "".join(b.get("text", "") for b in system[upto + 1:])
        else:
            rest = system
        rest += json.dumps(body.get("messages", [])) + json.dumps(body.get("tools", []))
        write = read = 0
        if cached_prefix and tokens(cached_prefix) >= MIN_CACHEABLE:
            key = body.get("model", "") + "\0" + cached_prefix
            with self._lock:
                if key in self._cache:
                    read = tokens(cached_prefix)
                else:
                    write = tokens(cached_prefix)
                    self._cache.add(key)
        else:
            rest = cached_prefix + rest
        out_text = "".join(b.get("text", "") or json.dumps(b.get("input", {})) for b in content)
        return {"input_tokens": tokens(rest), "output_tokens": tokens(out_text),
                "cache_creation_input_tokens": write, "cache_read_input_tokens": read}


class _Handler(BaseHTTPRequestHandler):
    api: FakeAnthropic
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing ------------------------------------------------------------

    def _body(self) -> Any:
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")

    def _log(self, body: Any) -> None:
        with self.api._lock:
            self.api.log.append(LoggedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                              body, time.time()))

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:12]}")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, etype: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(status, {"type": "error", "error": {"type": etype, "message": message}}, headers)

    # -- routes --------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        self._log(None)
        if self.path.startswith("/v1/models"):
            models = ["claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5"]
            self._json(200, {"data": [{"type": "model", "id": m, "display_name": m, "created_at": "2026-01-01T00:00:00Z"}
                                      for m in models], "has_more": False, "first_id": models[0], "last_id": models[-1]})
            return
        m = re.fullmatch(r"/v1/messages/batches/([\w-]+)(/results)?", self.path.split("?")[0])
        if m:
            batch = self.api._batches.get(m.group(1))
            if batch is None:
                self._error(404, "not_found_error", "no such batch")
                return
            if m.group(2):
                lines = batch["results"][:]
                random.Random(7).shuffle(lines)  # results come back out of order
                data = "".join(json.dumps(x) + "\n" for x in lines).encode()
                self.send_response(200)
                self.send_header("content-type", "application/binary")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            batch["polls"] += 1
            self._json(200, self._batch_view(batch))
            return
        self._error(404, "not_found_error", f"no route {self.path}")

    def _batch_view(self, batch: dict[str, Any]) -> dict[str, Any]:
        done = batch["polls"] > self.api.batch_polls_before_done
        n = len(batch["results"])
        host, port = self.server.server_address[:2]
        return {
            "id": batch["id"], "type": "message_batch",
            "processing_status": "ended" if done else "in_progress",
            "request_counts": {"processing": 0 if done else n, "succeeded": n if done else 0, "errored": 0,
                               "canceled": 0, "expired": 0},
            "ended_at": "2026-12-04T00:00:01Z" if done else None, "created_at": "2026-12-04T00:00:00Z",
            "expires_at": "2026-12-05T00:00:00Z", "archived_at": None, "cancel_initiated_at": None,
            "results_url": f"http://{host}:{port}/v1/messages/batches/{batch['id']}/results" if done else None,
        }

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        self._log(body)
        path = self.path.split("?")[0]
        if path == "/v1/messages/count_tokens":
            text = system_text(body) + json.dumps(body.get("messages", [])) + json.dumps(body.get("tools", []))
            self._json(200, {"input_tokens": tokens(text)})
            return
        if path == "/v1/messages/batches":
            batch_id = f"msgbatch_{uuid.uuid4().hex[:16]}"
            results = []
            for req in body.get("requests", []):
                msg, _ = self.api.build_message(req["params"])
                results.append({"custom_id": req["custom_id"], "result": {"type": "succeeded", "message": msg}})
            self.api._batches[batch_id] = {"id": batch_id, "results": results, "polls": 0}
            self._json(200, self._batch_view(self.api._batches[batch_id]))
            return
        if path != "/v1/messages":
            self._error(404, "not_found_error", f"no route {self.path}")
            return
        if not isinstance(body, dict) or "model" not in body or "messages" not in body:
            self._error(400, "invalid_request_error", "model and messages are required")
            return
        refused = sorted(set(body) & self.api.unsupported_fields)
        if refused:
            self._error(400, "invalid_request_error", f"{refused[0]}: Extra inputs are not permitted")
            return
        fault = self.api._take_fault(body)
        if fault and fault.kind in ("429", "529", "500"):
            headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
            etype = {"429": "rate_limit_error", "529": "overloaded_error", "500": "api_error"}[fault.kind]
            self._error(int(fault.kind), etype, f"injected {fault.kind}", headers)
            return
        if fault and fault.kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
            self.connection.close()
            return
        if fault and fault.kind == "slow_headers":
            time.sleep(fault.delay)
        msg, latency = self.api.build_message(body)
        if body.get("stream"):
            self._stream(msg, latency, fault)
        else:
            if latency:
                time.sleep(latency)
            self._json(200, msg)

    def _stream(self, msg: dict[str, Any], latency: float, fault: Fault | None) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

        def send(event: str, data: dict[str, Any]) -> None:
            self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        usage = msg["usage"]
        start = {**msg, "content": [], "stop_reason": None,
                 "usage": {**usage, "output_tokens": 1}}
        send("message_start", {"type": "message_start", "message": start})
        overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "injected mid-stream error"}}
        if fault and fault.kind == "stream_error":
            send("error", overloaded)
            return
        send("ping", {"type": "ping"})
        pieces = max(1, len(msg["content"]))
        for i, block in enumerate(msg["content"]):
            if block["type"] == "text":
                send("content_block_start", {"type": "content_block_start", "index": i,
                                             "content_block": {"type": "text", "text": ""}})
                text = block["text"]
                chunks = [text[j:j + 40] for j in range(0, len(text), 40)] or [""]
                for k, chunk in enumerate(chunks):
                    if latency and k == 0:
                        time.sleep(latency / pieces)
                    send("content_block_delta", {"type": "content_block_delta", "index": i,
                                                 "delta": {"type": "text_delta", "text": chunk}})
                    if fault and fault.kind == "stream_error_after_output":
                        send("error", overloaded)
                        return
            else:  # tool_use
                send("content_block_start", {"type": "content_block_start", "index": i,
                                             "content_block": {"type": "tool_use", "id": block["id"],
                                                               "name": block["name"], "input": {}}})
                if latency:
                    time.sleep(latency / pieces)
                send("content_block_delta", {"type": "content_block_delta", "index": i,
                                             "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}})
            send("content_block_stop", {"type": "content_block_stop", "index": i})
        send("message_delta", {"type": "message_delta", "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                               "usage": {"output_tokens": usage["output_tokens"]}})
        send("message_stop", {"type": "message_stop"})


def tool_use(name: str, input: dict[str, Any], text: str = "") -> dict[str, Any]:
    """A scripted reply that calls a tool."""
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    content.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:12]}", "name": name, "input": input})
    return {"content": content}


def main() -> None:
    """Serve until killed: ``python tests/support/server.py --latency claude-opus-4-8=1.0 ...``.
    Prints the base URL on the first line of stdout."""
    import argparse
    import signal

    ap = argparse.ArgumentParser(description="Local Anthropic-compatible server for tests and benchmarks.")
    ap.add_argument("--latency", action="append", default=[], metavar="MODEL=SECONDS")
    ap.add_argument("--reply", default="OK.", help="the text every request gets")
    args = ap.parse_args()
    latency = {m: float(s) for m, s in (item.split("=", 1) for item in args.latency)}
    api = FakeAnthropic(default_reply=args.reply, model_latency=latency).start()
    print(api.url, flush=True)
    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    api.stop()


if __name__ == "__main__":
    main()
