"""Bad sources get one clear message: file, line, field, what is expected."""

from __future__ import annotations

import shutil

import pytest


def edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path, needle):
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


def render_error(zpa, project):
    r = zpa("render", "--root", project)
    assert r.code == 2, (r.out, r.err)
    assert "Traceback" not in r.err
    assert r.err.startswith("error: ")
    return r.err


def test_missing_required_field(project, zpa):
    role = project / "roles/architect.md"
    edit(role, "handoff: design-handoff\n", "")
    err = render_error(zpa, project)
    assert "roles/architect.md:2" in err  # the front matter's first line
    assert "missing required field 'handoff'" in err


def test_wrong_type_names_line_and_pointer(project, zpa):
    role = project / "roles/reviewer.md"
    edit(role, "model: claude-haiku-4-5", "model: [claude-haiku-4-5]")
    err = render_error(zpa, project)
    assert f"roles/reviewer.md:{line_of(role, 'model:')}" in err
    assert "at /model" in err


def test_unknown_field(project, zpa):
    role = project / "roles/reviewer.md"
    edit(role, "handoff: review-handoff", "handoff: review-handoff\ncolour: blue")
    err = render_error(zpa, project)
    assert "unknown field 'colour'" in err


def test_bad_slug_in_must_not_id(project, zpa):
    role = project / "roles/developer.md"
    edit(role, "id: skip-spec", "id: Skip_Spec")
    err = render_error(zpa, project)
    assert f"roles/developer.md:{line_of(role, 'Skip_Spec')}" in err
    assert "/must_not/1/id" in err
    assert "lowercase letters" in err


def test_invalid_yaml(project, zpa):
    role = project / "roles/developer.md"
    edit(role, "title: Developer", "title: [Developer")
    err = render_error(zpa, project)
    assert "roles/developer.md:" in err and "not valid YAML" in err


def test_missing_front_matter(project, zpa):
    (project / "roles/architect.md").write_text("# just prose\n")
    err = render_error(zpa, project)
    assert "roles/architect.md:1" in err and "front matter" in err


def test_duplicate_role_names(project, zpa):
    shutil.copy(project / "roles/architect.md", project / "roles/architect-2.md")
    err = render_error(zpa, project)
    assert "duplicate role name 'architect'" in err
    assert "roles/architect-2.md" in err and "roles/architect.md" in err


def test_name_must_match_file(project, zpa):
    role = project / "roles/reviewer.md"
    edit(role, "name: reviewer", "name: critic")
    err = render_error(zpa, project)
    assert "differs from its file name" in err


def test_unknown_role_in_hands_off_to(project, zpa):
    role = project / "roles/architect.md"
    edit(role, "hands_off_to: [developer, reviewer]", "hands_off_to: [developer, reveiwer]")
    err = render_error(zpa, project)
    assert f"roles/architect.md:{line_of(role, 'hands_off_to')}" in err
    assert "unknown role 'reveiwer'" in err and "did you mean 'reviewer'" in err


def test_unknown_zed_tool(project, zpa):
    role = project / "roles/reviewer.md"
    edit(role, "tools: [read_file,", "tools: [read_files,")
    err = render_error(zpa, project)
    assert "unknown Zed tool 'read_files'" in err and "did you mean 'read_file'" in err
    assert f"roles/reviewer.md:{line_of(role, 'tools:')}" in err


def test_unknown_must_not_owner(project, zpa):
    role = project / "roles/reviewer.md"
    edit(role, "    owner: architect", "    owner: architects")
    err = render_error(zpa, project)
    assert f"roles/reviewer.md:{line_of(role, 'owner: architects')}" in err


def test_unknown_handoff_schema(project, zpa):
    role = project / "roles/reviewer.md"
    edit(role, "handoff: review-handoff", "handoff: memo")
    err = render_error(zpa, project)
    assert "unknown hand-off schema 'memo'" in err and "review-handoff" in err


def test_unknown_role_in_pipeline(project, zpa):
    team = project / "team.toml"
    edit(team, 'role = "ml-engineer"', 'role = "ml-engneer"')
    err = render_error(zpa, project)
    assert f"team.toml:{line_of(team, 'ml-engneer')}" in err
    assert "did you mean 'ml-engineer'" in err


def test_unknown_node_in_needs(project, zpa):
    team = project / "team.toml"
    edit(team, 'needs = ["data-engineer", "model-architect"]', 'needs = ["data-engineer", "modeller"]')
    err = render_error(zpa, project)
    assert "needs unknown node 'modeller'" in err
    assert f"team.toml:{line_of(team, 'modeller')}" in err


def test_pipeline_cycle(project, zpa):
    team = project / "team.toml"
    edit(team, '[pipelines.software.nodes.architect]\nrole = "architect"\n',
         '[pipelines.software.nodes.architect]\nrole = "architect"\nneeds = ["developer"]\n')
    err = render_error(zpa, project)
    assert "cycle" in err and "architect -> developer -> architect" in err
    line = line_of(team, 'needs = ["developer"]')
    assert f"team.toml:{line}" in err


def test_unknown_thread_role(project, zpa):
    team = project / "team.toml"
    edit(team, 'threads = ["architect", "developer", "reviewer"]', 'threads = ["architect", "developer", "tester"]')
    err = render_error(zpa, project)
    assert f"team.toml:{line_of(team, 'threads =')}" in err and "'tester'" in err


def test_invalid_toml(project, zpa):
    team = project / "team.toml"
    edit(team, "threshold = 0.9", "threshold = ")
    err = render_error(zpa, project)
    assert f"team.toml:{line_of(team, 'threshold =')}" in err and "not valid TOML" in err


def test_team_schema_error_has_line(project, zpa):
    team = project / "team.toml"
    edit(team, "threshold = 0.9", "threshold = 9")
    err = render_error(zpa, project)
    assert f"team.toml:{line_of(team, 'threshold = 9')}" in err
    assert "/check/threshold" in err


def test_failed_validation_writes_nothing(rendered, zpa):
    before = {p: p.read_bytes() for p in rendered.rglob("*") if p.is_file() and "roles" not in p.parts}
    edit(rendered / "roles/reviewer.md", "handoff: review-handoff", "handoff: memo")
    render_error(zpa, rendered)
    after = {p: p.read_bytes() for p in rendered.rglob("*") if p.is_file() and "roles" not in p.parts}
    assert before == after


def test_validation_cache_does_not_hide_a_new_error(rendered, zpa):
    # A source that rendered before and then broke is caught, not served from the manifest.
    edit(rendered / "roles/developer.md", "title: Developer", "title: 42")
    err = render_error(zpa, rendered)
    assert "/title" in err


@pytest.mark.parametrize("check_flag", ["--check", "--diff"])
def test_check_also_validates(rendered, zpa, check_flag):
    edit(rendered / "roles/developer.md", "handoff: code-handoff", "handoff: nope")
    r = zpa("render", check_flag, "--root", rendered)
    assert r.code == 2 and "unknown hand-off schema" in r.err
