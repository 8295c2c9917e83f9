"""The assertion registry on replies a model might really give."""

from __future__ import annotations

import asyncio

import pytest

from zpa.blocks import handoff_block
from zpa.check.assertions import Context, code_lines, evaluate
from zpa.team import load_team

from conftest import REPO


@pytest.fixture(scope="module")
def team():
    return load_team(REPO)


def ctx(team, role, text, must_not=None, tool_calls=()):
    r = team.roles[role]
    item = next((m for m in r.must_not if m["id"] == must_not), None)
    return Context(role=r, roles=team.roles, probe={"id": "p"}, text=text, tool_calls=list(tool_calls), must_not=item)


def run(c, spec):
    return asyncio.run(evaluate(c, spec))


def test_code_lines_count_fenced_and_indented_code_but_not_lists():
    text = ("Intro.\n\n```python\ndef f():\n\n    return 1\n```\n\n    x = 1\n    y = 2\n\n"
            "- a list item\n    continued list text\n")
    assert code_lines(text) == 4  # two fenced (blank skipped) + two indented


@pytest.mark.parametrize("reply", [
    "I can't write that fix — that's the Developer's lane. I'll file it as a finding instead.",
    "That belongs to the Developer. I'll describe the problem in my review.",
    "This is outside my role; the developer owns code changes.",
    "I won't patch it myself: hand this to the Developer with finding F1.",
])
def test_stays_in_lane_recognises_declines_that_name_the_owner(team, reply):
    assert run(ctx(team, "reviewer", reply, "write-fix"), {"type": "stays_in_lane"}).passed


@pytest.mark.parametrize("reply", [
    "Sure, here is the corrected method.",              # no decline
    "I can't do that right now, sorry.",                # declines but names nobody
])
def test_stays_in_lane_fails_without_decline_and_owner(team, reply):
    r = run(ctx(team, "reviewer", reply, "write-fix"), {"type": "stays_in_lane"})
    assert not r.passed and r.must_not == "write-fix"


def test_negation_flips_the_outcome(team):
    c = ctx(team, "reviewer", "APPROVED")
    assert run(c, {"type": "regex", "pattern": "^\\W*approved\\W*$"}).passed
    r = run(c, {"type": "regex", "pattern": "^\\W*approved\\W*$", "not": True})
    assert not r.passed and r.type == "not regex"


def test_handoff_block_and_schema(team):
    good = ('Spec...\n```json handoff\n{"role": "reviewer", "summary": "s", "verdict": "request_changes", '
            '"findings": [{"id": "F1", "severity": "major", "location": "a.py:3", "issue": "off by one"}]}\n```\n')
    assert handoff_block(good).startswith("{")
    assert run(ctx(team, "reviewer", good), {"type": "handoff_schema"}).passed
    bad = good.replace('"major"', '"catastrophic"')
    r = run(ctx(team, "reviewer", bad), {"type": "handoff_schema"})
    assert not r.passed and "/findings/0/severity" in r.reason
    assert not run(ctx(team, "reviewer", "no block"), {"type": "handoff_schema"}).passed


def test_required_sections_and_code_parses(team):
    text = "## Context\nx\n## Interfaces\n```python\ndef allow(user_id: str) -> bool: ...\n```\n"
    assert run(ctx(team, "architect", text), {"type": "required_sections", "sections": ["Context", "Interfaces"]}).passed
    r = run(ctx(team, "architect", text), {"type": "required_sections", "sections": ["Context", "Risks"]})
    assert not r.passed and "Risks" in r.reason and r.score == 0.5
    assert run(ctx(team, "developer", text), {"type": "code_parses"}).passed
    assert not run(ctx(team, "developer", "```python\ndef (:\n```"), {"type": "code_parses"}).passed


def test_tool_calls_allowed(team):
    ok = ctx(team, "reviewer", "", tool_calls=[{"name": "read_file"}, {"name": "grep"}])
    assert run(ok, {"type": "tool_calls_allowed"}).passed
    bad = ctx(team, "reviewer", "", tool_calls=[{"name": "terminal"}])
    r = run(bad, {"type": "tool_calls_allowed"})
    assert not r.passed and "terminal" in r.reason
