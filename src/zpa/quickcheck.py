"""A cheap yes/no JSON Schema check for the render path.

`zpa render` must start fast, and importing jsonschema costs more than the
rest of a render. This checker understands the keywords our shipped schemas
use and answers only "valid" or "don't know": any keyword it does not know,
or any failure, sends the caller to jsonschema, which then finds and explains
the error. So it can make validation faster, never more permissive.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}
_KNOWN = {
    "$schema", "$id", "title", "description", "$comment", "type", "properties", "required", "additionalProperties",
    "items", "minItems", "maxItems", "uniqueItems", "minProperties", "pattern", "minLength", "maxLength", "minimum",
    "maximum", "enum", "const", "if", "then",
}


def is_valid(instance: Any, schema: dict[str, Any]) -> bool:
    """True only when ``instance`` certainly satisfies ``schema``."""
    try:
        return _check(instance, schema)
    except _Unknown:
        return False


class _Unknown(Exception):
    pass


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _type_ok(value: Any, t: str) -> bool:
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    py = _TYPES.get(t)
    if py is None:
        raise _Unknown(t)
    return isinstance(value, py)


def _check(v: Any, s: dict[str, Any]) -> bool:
    if not isinstance(s, dict) or set(s) - _KNOWN:
        raise _Unknown("keyword")
    t = s.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_type_ok(v, x) for x in types):
            return False
    if "const" in s and not (v == s["const"] and type(v) is type(s["const"])):
        return False
    if "enum" in s and not any(v == e and type(v) is type(e) for e in s["enum"]):
        return False
    if isinstance(v, str):
        if "pattern" in s and not _regex(s["pattern"]).search(v):
            return False
        if len(v) < s.get("minLength", 0) or ("maxLength" in s and len(v) > s["maxLength"]):
            return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if ("minimum" in s and v < s["minimum"]) or ("maximum" in s and v > s["maximum"]):
            return False
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0) or ("maxItems" in s and len(v) > s["maxItems"]):
            return False
        if s.get("uniqueItems"):
            seen = []
            for item in v:
                if any(item == x and type(item) is type(x) for x in seen):
                    return False
                seen.append(item)
        if "items" in s and not all(_check(item, s["items"]) for item in v):
            return False
    if isinstance(v, dict):
        if len(v) < s.get("minProperties", 0):
            return False
        if any(k not in v for k in s.get("required", [])):
            return False
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        for k, item in v.items():
            if k in props:
                if not _check(item, props[k]):
                    return False
            elif extra is False:
                return False
            elif isinstance(extra, dict) and not _check(item, extra):
                return False
    if "if" in s:
        if _check(v, s["if"]) and "then" in s and not _check(v, s["then"]):
            return False
    return True
