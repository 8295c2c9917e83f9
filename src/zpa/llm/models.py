"""Which model each role calls: its front matter, unless --model overrides."""

from __future__ import annotations

from zpa.errors import ZpaError


def parse_model_overrides(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Parse ``--model ROLE=ID`` / ``--model '*=ID'`` into a map."""
    out: dict[str, str] = {}
    for value in values:
        role, sep, model = value.partition("=")
        role, model = role.strip(), model.strip()
        if not sep or not role or not model:
            raise ZpaError(f"--model {value!r}: expected ROLE=MODEL_ID or '*=MODEL_ID'",
                           hint="e.g. --model reviewer=claude-sonnet-4-6, or --model '*=qwen3:8b' for a local endpoint")
        out[role] = model
    return out


def resolve_model(role: str, default: str, overrides: dict[str, str]) -> str:
    return overrides.get(role) or overrides.get("*") or default


def check_override_roles(overrides: dict[str, str], known: set[str]) -> None:
    unknown = sorted(r for r in overrides if r != "*" and r not in known)
    if unknown:
        raise ZpaError(f"--model names unknown role {unknown[0]!r}", hint="known roles: " + ", ".join(sorted(known)))
