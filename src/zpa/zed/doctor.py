"""`zpa doctor`: why a Zed thread does not behave, with the fix for each finding."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zpa.zed import RULES_FILE_ORDER, jsonc


@dataclass
class Finding:
    check: str
    status: str  # ok | warning | error
    message: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status, "message": self.message, "fix": self.fix}


def rules_files(root: Path) -> list[str]:
    """The rules files present at the worktree root, in Zed's order (the first is the one Zed reads)."""
    return [name for name in RULES_FILE_ORDER if (root / name).is_file()]


def diagnose(root: Path, config_dir: Path, skills_dirs: list[Path]) -> list[Finding]:
    from zpa.render import render
    from zpa.team import load_team

    out: list[Finding] = []
    present = rules_files(root)
    if not present:
        out.append(Finding("rules", "error", "no rules file: Zed's agent gets no team protocol", "run `zpa render`"))
    else:
        out.append(Finding("rules", "ok", f"Zed reads {present[0]}"))
        team = None
        try:
            team = load_team(root)
        except Exception:  # noqa: BLE001 - reported below by the render check
            pass
        included = set(team.include) if team else set()
        for name in present[1:]:
            if name in included:
                out.append(Finding("rules", "ok", f"{name} is shadowed by {present[0]} but its text is included there"))
            else:
                out.append(Finding("rules", "error",
                                   f"{name} is shadowed: Zed reads only {present[0]}, so {name}'s instructions never "
                                   f"reach the agent",
                                   f'add "{name}" to [team] include in team.toml and run `zpa render` '
                                   f"(or `zpa init` to adopt it), or merge its text into your roles"))
    try:
        drift = render(root, check=True)
        bad = drift.stale + drift.missing + drift.orphaned
        out.append(Finding("generated", "error" if bad else "ok",
                           f"generated files out of date: {', '.join(bad)}" if bad else "generated files are up to date",
                           "run `zpa render`" if bad else None))
        team = load_team(root)
    except Exception as exc:  # noqa: BLE001 - a broken source is itself the finding
        out.append(Finding("sources", "error", str(exc).splitlines()[0], "fix the source file it names"))
        return out

    library = root / "rules-library"
    for name in team.threads:
        slug = team.skill_slug(name)
        want = (library / slug / "SKILL.md")
        found = [d / slug / "SKILL.md" for d in skills_dirs if (d / slug / "SKILL.md").is_file()]
        if not found:
            out.append(Finding("skills", "error", f"skill /{slug} is not installed ({' or '.join(map(str, skills_dirs))})",
                               "run `zpa install`"))
        elif want.is_file() and found[0].read_bytes() != want.read_bytes():
            foreign = "generated-by: zpa" not in found[0].read_text(encoding="utf-8", errors="replace")
            out.append(Finding("skills", "error", f"skill /{slug} at {found[0]} differs from rules-library/"
                               + (" and is not zpa's: a skill of yours has the name the kit wants" if foreign else ""),
                               'set skill_prefix = "zpa-" in team.toml, then `zpa render` and `zpa install`' if foreign
                               else "run `zpa install` (add --force if you edited it there)"))
        else:
            out.append(Finding("skills", "ok", f"skill /{slug} installed at {found[0].parent}"))

    settings = config_dir / "settings.json"
    fragment = root / "zed-settings" / "agent-profiles.json"
    profiles = json.loads(fragment.read_text())["agent"]["profiles"] if fragment.is_file() else {}
    current: dict[str, Any] = {}
    if settings.is_file():
        try:
            data = jsonc.loads(settings.read_text(encoding="utf-8"), str(settings))
            current = ((data.get("agent") or {}).get("profiles") or {}) if isinstance(data, dict) else {}
        except Exception as exc:  # noqa: BLE001
            out.append(Finding("profiles", "error", f"settings.json does not parse: {exc}", "fix it in Zed"))
    for pid, value in profiles.items():
        if pid not in current:
            out.append(Finding("profiles", "error", f"profile {pid} is not in {settings}", "run `zpa install`"))
        elif current[pid] != value:
            out.append(Finding("profiles", "error", f"profile {pid} in {settings} differs from zed-settings/",
                               "run `zpa install` (--force if you wrote that profile yourself)"))
        else:
            out.append(Finding("profiles", "ok", f"profile {pid} installed"))

    if os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"):
        out.append(Finding("api", "ok", "an API key is set (for zpa check / zpa run)"))
    elif os.environ.get("ANTHROPIC_BASE_URL"):
        out.append(Finding("api", "ok", f"ANTHROPIC_BASE_URL is set ({os.environ['ANTHROPIC_BASE_URL']})"))
    else:
        out.append(Finding("api", "warning", "no ANTHROPIC_API_KEY and no ANTHROPIC_BASE_URL: zpa check and zpa run "
                           "need one (Zed itself does not)",
                           "export ANTHROPIC_API_KEY=..., or ANTHROPIC_BASE_URL=http://localhost:11434 for Ollama"))
    zed = shutil.which("zed") or shutil.which("zeditor")
    out.append(Finding("zed", "ok" if zed else "warning", f"zed CLI at {zed}" if zed else "zed CLI not on PATH",
                       None if zed else "in Zed: command palette → 'cli: install', or open the links `zpa open` prints"))
    return out
