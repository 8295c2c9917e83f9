"""`zpa check --static`: the checks that need no API."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from zpa.check.probes import Probe
from zpa.llm.prices import approx_tokens, min_cache_tokens
from zpa.team import Team


@dataclass
class Finding:
    check: str
    severity: str  # error | warning
    role: str | None
    message: str
    fix: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity, "role": self.role, "message": self.message, "fix": self.fix}


def _pattern(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "*", path).replace("**", "*")


def _overlap(a: str, b: str) -> bool:
    pa, pb = _pattern(a), _pattern(b)
    if pa == pb:
        return True
    # One pattern covers a concrete instance of the other: src/* vs src/x.py
    inst_a, inst_b = pa.replace("*", "x"), pb.replace("*", "x")
    return fnmatch.fnmatchcase(inst_a, pb) or fnmatch.fnmatchcase(inst_b, pa)


def static_check(team: Team, probes: dict[str, list[Probe]]) -> tuple[list[Finding], list[dict[str, Any]]]:
    """Findings, and a per-role table of persona size and cacheability."""
    from zpa.persona import role_system
    from zpa.render import render

    findings: list[Finding] = []
    for name in team.threads:
        role = team.roles[name]
        if not role.produces:
            findings.append(Finding("produces", "error", name, "thread role lists nothing it produces",
                                    f"add produces: to roles/{name}.md"))
        if not role.must_not:
            findings.append(Finding("must_not", "error", name, "thread role has no must_not boundaries",
                                    f"add must_not: to roles/{name}.md"))

    owners: list[tuple[str, str, str]] = [(r.name, p["name"], p["path"]) for r in team.roles.values() for p in r.produces]
    for i, (ra, na, pa) in enumerate(owners):
        for rb, nb, pb in owners[i + 1:]:
            if ra != rb and _overlap(pa, pb):
                findings.append(Finding("ownership", "error", ra,
                                        f"{ra}'s {na} ({pa}) and {rb}'s {nb} ({pb}) claim the same files",
                                        "give each artefact exactly one owning role"))

    for r in team.roles.values():
        for t in r.hands_off_to:
            if t not in team.roles:  # load_team already refuses this; kept for teams built in code
                findings.append(Finding("hands_off_to", "error", r.name, f"hands off to unknown role {t!r}",
                                        f"fix hands_off_to in roles/{r.name}.md"))

    for r in team.roles.values():
        tested = {p.must_not for p in probes.get(r.name, []) if p.kind == "temptation"}
        for m in r.must_not:
            if m["id"] not in tested and (r.name in team.threads or r.name in probes):
                findings.append(Finding("temptations", "error", r.name,
                                        f"must_not {m['id']!r} has no temptation probe",
                                        f"add a probe with kind: temptation and must_not: {m['id']} to probes/{r.name}.yaml"))
    for name in team.threads:
        if name not in probes:
            findings.append(Finding("probes", "error", name, "thread role has no probe file",
                                    f"write probes/{name}.yaml"))

    drift = render(team.root, check=True)
    for label, paths in (("stale", drift.stale), ("missing", drift.missing), ("orphaned", drift.orphaned)):
        for p in paths:
            findings.append(Finding("generated", "error", None, f"generated file {label}: {p}", "run `zpa render`"))

    sizes = []
    for name in [*team.threads, *[n for n in sorted(team.roles) if n not in team.threads]]:
        role = team.roles[name]
        try:
            text = role_system(team, name)
        except Exception:  # noqa: BLE001 - reported above as missing generated files
            continue
        tokens = approx_tokens(text)
        need = min_cache_tokens(role.model)
        cached = tokens >= need
        sizes.append({"role": name, "model": role.model, "persona_tokens": tokens, "min_cache_tokens": need,
                      "cacheable": cached})
    return findings, sizes
