"""zpa init: the kit comes into a project without overwriting anything."""

from __future__ import annotations

from conftest import REPO


def test_init_scaffolds_and_renders(tmp_path, zpa):
    target = tmp_path / "newproj"
    r = zpa("init", target)
    assert r.code == 0, r.err
    assert "created team.toml" in r.out
    for role in ["architect", "developer", "reviewer", "data-engineer", "model-architect", "ml-engineer"]:
        assert (target / "roles" / f"{role}.md").read_bytes() == (REPO / "roles" / f"{role}.md").read_bytes()
    assert (target / ".rules").is_file()
    assert (target / "rules-library/architect/SKILL.md").is_file()
    assert zpa("render", "--check", "--root", target).code == 0


def test_init_never_overwrites(tmp_path, zpa):
    target = tmp_path / "existing"
    (target / "roles").mkdir(parents=True)
    mine = (REPO / "roles/reviewer.md").read_text().replace("You are the **Reviewer**", "You are our own **Reviewer**")
    (target / "roles/reviewer.md").write_text(mine)
    team = (REPO / "team.toml").read_text().replace('name = "zed-parallel-agents"', 'name = "acme"')
    (target / "team.toml").write_text(team)
    r = zpa("init", target)
    assert r.code == 0, r.err
    assert "kept    team.toml (exists)" in r.out
    assert "kept    roles/reviewer.md (exists)" in r.out
    assert (target / "team.toml").read_text() == team
    assert (target / "roles/reviewer.md").read_text() == mine
    skill = (target / "rules-library/reviewer/SKILL.md").read_text()
    assert "You are our own **Reviewer** of acme" in skill


def test_init_twice_is_harmless(tmp_path, zpa):
    target = tmp_path / "p"
    zpa("init", target)
    before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    r = zpa("init", target)
    assert r.code == 0
    assert "created" not in r.out
    assert before == {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}


def test_init_into_a_file_is_refused(tmp_path, zpa):
    f = tmp_path / "file.txt"
    f.write_text("x")
    r = zpa("init", f)
    assert r.code == 2 and "is a file" in r.err
