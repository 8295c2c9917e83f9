"""Adopting the kit in a project that already has agent instructions, and removing it again."""

from __future__ import annotations

import json

import pytest

from zpa.zed import RULES_FILE_ORDER


def snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}



def make_project(tmp_path, files):
    root = tmp_path / "proj"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode())
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src/app.py").write_text("print('hi')\n")
    return root


OTHER = [name for name in RULES_FILE_ORDER if name != ".rules"]


@pytest.mark.parametrize("name", OTHER)
def test_existing_rules_file_keeps_reaching_zed(zpa, tmp_path, home, name):
    original = f"# House rules from {name}\n\nAlways run `make lint` before committing.\n"
    root = make_project(tmp_path, {name: original})
    before = snapshot(root)
    r = zpa("init", root)
    assert r.code == 0, r.err
    assert f"Zed reads {name}" in r.out and name in r.out
    rules = (root / ".rules").read_text()
    assert original.rstrip("\n") in rules  # what Zed now reads still holds the user's text
    assert (root / name).read_bytes() == original.encode()
    assert zpa("render", "--root", root).out.strip() == "up to date"
    assert zpa("render", "--check", "--root", root).code == 0
    assert zpa("uninstall", "--project", "--root", root).code == 0
    assert snapshot(root) == before


def test_several_rules_files_are_all_included_in_zed_order(zpa, tmp_path, home):
    files = {"CLAUDE.md": "claude text\n", "AGENTS.md": "agents text\n", ".cursorrules": "cursor text\n"}
    root = make_project(tmp_path, files)
    before = snapshot(root)
    zpa("init", root)
    rules = (root / ".rules").read_text()
    positions = [rules.index(t) for t in ("cursor text", "agents text", "claude text")]
    assert positions == sorted(positions)
    assert "include = [\".cursorrules\", \"AGENTS.md\", \"CLAUDE.md\"]" in (root / "team.toml").read_text()
    doctor = zpa("doctor", "--root", root, "--zed-config-dir", tmp_path / "zed", "--json")
    rules = [f for f in json.loads(doctor.out)["findings"] if f["check"] == "rules"]
    assert [f["status"] for f in rules] == ["ok"] * 4  # Zed reads .rules; the three others are included
    assert sum("its text is included there" in f["message"] for f in rules) == 3
    zpa("uninstall", "--project", "--root", root)
    assert snapshot(root) == before


def test_included_file_edits_flow_into_rules(zpa, tmp_path, home):
    root = make_project(tmp_path, {"AGENTS.md": "version one\n"})
    zpa("init", root)
    (root / "AGENTS.md").write_text("version two\n")
    assert zpa("render", "--check", "--root", root).code == 1
    zpa("render", "--root", root)
    assert "version two" in (root / ".rules").read_text()


def test_hand_written_rules_keep_their_text(zpa, tmp_path, home):
    mine = "Use tabs.\r\nNever touch vendor/.\r\n"  # CRLF and all
    root = make_project(tmp_path, {".rules": mine})
    before = snapshot(root)
    r = zpa("init", root)
    assert "your .rules stays" in r.out
    text = (root / ".rules").read_bytes().decode()
    assert text.startswith("<!-- zpa:begin")
    assert text.endswith(mine)
    # The user edits their part: the kit's check does not care, and render keeps it.
    (root / ".rules").write_bytes(text.replace("Use tabs.", "Use spaces.").encode())
    assert zpa("render", "--check", "--root", root).code == 0
    # An edit inside the block is drift.
    (root / ".rules").write_bytes(text.replace("Stay in your lane", "Wander").encode())
    assert zpa("render", "--check", "--root", root).code == 1
    zpa("render", "--root", root)
    assert (root / ".rules").read_bytes().decode().endswith(mine)
    zpa("uninstall", "--project", "--root", root)
    assert snapshot(root) == before


def test_no_include_warns_explicitly(zpa, tmp_path, home):
    root = make_project(tmp_path, {"AGENTS.md": "agents text\n"})
    r = zpa("init", root, "--no-include")
    assert "AGENTS.md will be shadowed" in r.err
    assert "agents text" not in (root / ".rules").read_text()
    doctor = zpa("doctor", "--root", root, "--zed-config-dir", tmp_path / "zed")
    assert "AGENTS.md is shadowed" in doctor.out and doctor.code == 1


def test_clashing_skill_name_gets_a_prefix(zpa, tmp_path, home):
    theirs = "---\nname: reviewer\ndescription: our reviewer\n---\nOurs.\n"
    root = make_project(tmp_path, {".agents/skills/reviewer/SKILL.md": theirs})
    before = snapshot(root)
    r = zpa("init", root)
    assert "prefixed zpa-" in r.out
    assert (root / "rules-library/zpa-reviewer/SKILL.md").is_file()
    assert "/zpa-reviewer" in (root / ".rules").read_text()
    r = zpa("install", "--project", "--root", root, "--zed-config-dir", tmp_path / "zed")
    assert r.code == 0, r.err
    assert (root / ".agents/skills/reviewer/SKILL.md").read_text() == theirs
    assert (root / ".agents/skills/zpa-reviewer/SKILL.md").is_file()
    assert zpa("uninstall", "--project", "--root", root, "--zed-config-dir", tmp_path / "zed").code == 0
    assert snapshot(root) == before


def test_uninstall_project_keeps_edited_sources(zpa, tmp_path, home):
    root = make_project(tmp_path, {})
    zpa("init", root)
    role = root / "roles/reviewer.md"
    role.write_text(role.read_text() + "\nOur addition.\n")
    r = zpa("uninstall", "--project", "--root", root)
    assert "roles/reviewer.md was edited" in r.err
    assert role.is_file() and not (root / "roles/architect.md").exists()
    assert not (root / ".rules").exists() and not (root / "rules-library").exists()


def test_doctor_names_a_skill_clash_and_the_prefix_fix(zpa, tmp_path, home):
    root = make_project(tmp_path, {})
    zpa("init", root)
    theirs = home / ".agents/skills/reviewer/SKILL.md"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("---\nname: reviewer\ndescription: ours\n---\nOurs.\n")
    r = zpa("doctor", "--root", root, "--zed-config-dir", tmp_path / "zed", "--json")
    skills = [f for f in json.loads(r.out)["findings"] if f["check"] == "skills" and "/reviewer" in f["message"]]
    assert skills[0]["status"] == "error" and "skill_prefix" in skills[0]["fix"]
