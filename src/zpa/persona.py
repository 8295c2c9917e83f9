"""A role's system prompt, assembled from the generated files as Zed assembles a thread's.

Zed puts the project rules first, then the skill the thread was started
with; `zpa check` and `zpa run` send the same text, so what they measure is
what the user installed.
"""

from __future__ import annotations

from typing import Any

from zpa.errors import ZpaError
from zpa.llm.prices import approx_tokens, min_cache_tokens


def role_system(team: Any, role: str) -> str:
    """`.rules` then the role's skill body (the SKILL.md text after its front matter)."""
    root = team.root
    rules = root / ".rules"
    skill = root / "rules-library" / team.skill_slug(role) / "SKILL.md"
    for p in (rules, skill):
        if not p.is_file():
            raise ZpaError("generated file missing", file=str(p), hint="run `zpa render` first")
    skill_text = skill.read_text(encoding="utf-8")
    body = skill_text.split("\n---\n", 1)[1] if skill_text.startswith("---") else skill_text
    return rules.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + body.lstrip("\n")


def system_blocks(text: str, model: str) -> str | list[dict[str, Any]]:
    """Ask for prompt caching only where the prefix reaches the model's minimum:
    a shorter one would not cache, and marking it would only mislead."""
    if approx_tokens(text) >= min_cache_tokens(model):
        return [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]
    return text
