"""Fenced blocks in a model's reply: code, files to extract, and the structured hand-off.

One parser for `zpa check` (assertions) and `zpa run` (artefacts), so a reply
is read the same way wherever it is judged or saved.
"""

from __future__ import annotations

import json
import re
from typing import Any

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
                   re.M | re.S)
_PATH_ATTR = re.compile(r"""(?:path|file|title|filename)=(?:"([^"]+)"|'([^']+)'|(\S+))""")


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced code block."""
    return [(m.group("info").strip(), m.group("body")) for m in FENCE.finditer(text)]


def labelled_blocks(text: str) -> list[tuple[str, str]]:
    """(path label, body) for fenced blocks whose info string names a file
    (```python path=src/x.py, or ```python src/x.py)."""
    out = []
    for info, body in code_blocks(text):
        attr = _PATH_ATTR.search(info)
        if attr:
            out.append((next(g for g in attr.groups() if g), body))
            continue
        parts = info.split()
        if len(parts) >= 2 and ("." in parts[1] or "/" in parts[1]):
            out.append((parts[1], body))
    return out


def handoff_block(text: str) -> str | None:
    """The JSON hand-off: a ```json handoff block, else the last ```json block, else the whole reply as JSON."""
    blocks = code_blocks(text)
    for info, body in reversed(blocks):
        if info.split()[:2] == ["json", "handoff"] or info == "handoff":
            return body
    for info, body in reversed(blocks):
        if info.split()[:1] == ["json"]:
            return body
    stripped = text.strip()
    return stripped if stripped.startswith("{") else None


def parse_handoff(text: str, schema_name: str) -> tuple[dict[str, Any] | None, str | None]:
    """(the hand-off object, the problem with it or None), validated against the named schema."""
    import jsonschema

    from zpa.team import handoff_schema

    raw = handoff_block(text)
    if raw is None:
        return None, "no ```json handoff block"
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return None, f"is not JSON: {exc}"
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(handoff_schema(schema_name)).iter_errors(data))
    if error is not None:
        where = "/" + "/".join(str(x) for x in error.absolute_path)
        return data if isinstance(data, dict) else None, f"breaks {schema_name} at {where}: {error.message}"
    return data, None
