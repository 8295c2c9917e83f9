"""Record and replay exchanges, so checks run in CI without a key.

A cassette is a folder of JSON files, one per exchange, keyed by a hash of
the request body and the repeat index. Only the body is stored — never
headers, so never a credential.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zpa import __version__
from zpa.errors import ZpaError

if TYPE_CHECKING:
    from zpa.llm import Call


def request_key(call: "Call") -> str:
    canonical = json.dumps({"body": call.body(), "repeat": call.repeat}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Cassette:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, key: str) -> Path:
        return self.root / f"{key[:24]}.json"

    def save(self, call: "Call", message: dict[str, Any], latency_s: float) -> Path:
        from zpa.render import atomic_write

        key = request_key(call)
        entry = {
            "key": key, "role": call.role, "label": call.label, "repeat": call.repeat,
            "recorded_with": f"zpa {__version__}", "latency_s": round(latency_s, 4),
            "request": call.body(), "response": message,
        }
        path = self.path_for(key)
        atomic_write(path, json.dumps(entry, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
        return path

    def load(self, call: "Call") -> dict[str, Any]:
        key = request_key(call)
        path = self.path_for(key)
        if not self.root.is_dir():
            raise ZpaError("replay folder not found", file=str(self.root),
                           hint="record one first with --record DIR (needs an API key or --base-url)")
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ZpaError(
                f"no recorded response for {call.role}/{call.label} (repeat {call.repeat}, key {key[:24]}) in {self.root}",
                hint="the request changed since recording (persona, probe, model or repeat count): "
                     "re-record with --record DIR",
            ) from None
        except ValueError as exc:
            raise ZpaError(f"cassette is not valid JSON: {exc}", file=str(path)) from None
        if entry.get("key") != key:
            raise ZpaError("cassette key does not match its request", file=str(path), hint="re-record with --record DIR")
        return entry
