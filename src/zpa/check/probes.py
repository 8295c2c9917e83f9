"""Load probes/<role>.yaml: schema-validated, with clear errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from zpa.check.assertions import allowed_params, known_types
from zpa.errors import ZpaError
from zpa.team import Team, _yaml_line_doc, load_schema, validate_instance

PROBES_DIR = "probes"


@dataclass
class Probe:
    role: str
    id: str
    kind: str
    prompt: str
    asserts: list[dict[str, Any]]
    must_not: str | None
    max_tokens: int
    file: str


def load_probes(team: Team, roles: list[str] | None = None) -> dict[str, list[Probe]]:
    """Probes per role for ``roles`` (default: every role with a probe file)."""
    folder = team.root / PROBES_DIR
    out: dict[str, list[Probe]] = {}
    wanted = roles or sorted(team.roles)
    for role in wanted:
        path = folder / f"{role}.yaml"
        if not path.is_file():
            if roles:
                raise ZpaError(f"no probes for role {role!r}", file=str(path), hint=f"write {PROBES_DIR}/{role}.yaml")
            continue
        out[role] = _load_file(team, path)
    return out


def _load_file(team: Team, path: Path) -> list[Probe]:
    text = path.read_text(encoding="utf-8")
    file = str(path)
    locate = lambda ptr: _yaml_line_doc(text, ptr)  # noqa: E731
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ZpaError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=file,
                       line=mark.line + 1 if mark else None) from None
    validate_instance(data, load_schema("probes"), file, locate)
    role_name = data["role"]
    if role_name != path.stem:
        raise ZpaError(f"role {role_name!r} differs from the file name {path.name!r}", file=file,
                       line=locate("/role"), pointer="/role")
    role = team.roles.get(role_name)
    if role is None:
        raise ZpaError(f"probes for unknown role {role_name!r}", file=file, line=locate("/role"), pointer="/role",
                       hint="known roles: " + ", ".join(sorted(team.roles)))
    probes, seen = [], set()
    for i, p in enumerate(data["probes"]):
        base = f"/probes/{i}"
        if p["id"] in seen:
            raise ZpaError(f"duplicate probe id {p['id']!r}", file=file, line=locate(base + "/id"), pointer=base + "/id")
        seen.add(p["id"])
        if p.get("must_not") and p["must_not"] not in role.must_not_ids:
            raise ZpaError(f"probe {p['id']!r} names unknown must_not id {p['must_not']!r}", file=file,
                           line=locate(base + "/must_not"), pointer=base + "/must_not",
                           hint=f"{role_name}'s must_not ids: " + ", ".join(role.must_not_ids))
        for j, a in enumerate(p["assert"]):
            ptr = f"{base}/assert/{j}"
            if a["type"] not in known_types():
                raise ZpaError(f"unknown assertion type {a['type']!r}", file=file, line=locate(ptr + "/type"),
                               pointer=ptr + "/type", hint="known: " + ", ".join(known_types()))
            extra = set(a) - allowed_params(a["type"])
            if extra:
                raise ZpaError(f"assertion {a['type']!r} takes no parameter {sorted(extra)[0]!r}", file=file,
                               line=locate(ptr), pointer=ptr,
                               hint="its parameters: " + ", ".join(sorted(allowed_params(a["type"]) - {"type"})))
            if a["type"] == "stays_in_lane" and not (a.get("owner") or p.get("must_not")):
                raise ZpaError("stays_in_lane needs the probe's must_not or an owner", file=file, line=locate(ptr), pointer=ptr)
        prompt = p["prompt"]
        if p.get("fixture"):
            fx = (path.parent / p["fixture"]).resolve()
            if not fx.is_file() or path.parent.resolve() not in fx.parents:
                raise ZpaError(f"fixture {p['fixture']!r} not found under {PROBES_DIR}/", file=file,
                               line=locate(base + "/fixture"), pointer=base + "/fixture")
            lang = {".py": "python", ".md": "markdown", ".json": "json"}.get(fx.suffix, "")
            prompt = f"{prompt.rstrip()}\n\n`{p['fixture']}`:\n```{lang}\n{fx.read_text(encoding='utf-8').rstrip()}\n```\n"
        probes.append(Probe(role_name, p["id"], p["kind"], prompt, p["assert"], p.get("must_not"),
                            int(p.get("max_tokens", 2048)), file))
    return probes
