"""zpa render: given role sources, the Zed artefacts a user gets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml
from skills_ref.parser import parse_frontmatter
from skills_ref.validator import validate_metadata

from conftest import REPO
from zpa.zed import NATIVE_TOOLS

ROLES = ["architect", "developer", "reviewer", "data-engineer", "model-architect", "ml-engineer"]
THREADS = ["architect", "developer", "reviewer"]


def schema(name):
    return json.loads((REPO / "src/zpa/schemas" / f"{name}.schema.json").read_text())


def test_render_writes_every_zed_artefact(rendered):
    root = rendered
    assert (root / ".rules").is_file()
    for role in THREADS:
        assert (root / "thread-rules" / f"{role}.md").is_file()
    assert (root / "thread-rules/README.md").is_file()
    for role in ROLES:
        assert (root / "rules-library" / role / "SKILL.md").is_file()
    assert (root / "rules-library/library.json").is_file()
    assert (root / "zed-settings/agent-profiles.json").is_file()
    assert (root / "zed-settings/README.md").is_file()
    # Nothing for pipeline-only roles in thread-rules/.
    assert not (root / "thread-rules/data-engineer.md").exists()


def test_skills_validate_as_agent_skills(rendered):
    for role in ROLES:
        folder = rendered / "rules-library" / role
        text = (folder / "SKILL.md").read_text()
        meta, body = parse_frontmatter(text)
        # Zed's key; the reference validator knows only the base spec.
        meta.pop("disable-model-invocation")
        assert yaml.safe_load(text.split("---")[1])["disable-model-invocation"] is True
        assert validate_metadata(meta, folder) == []
        assert meta["name"] == role
        assert "Do not edit" in body


def test_library_manifest_matches_skills(rendered):
    lib = json.loads((rendered / "rules-library/library.json").read_text())
    jsonschema.validate(lib, schema("library"))
    by_slug = {s["slug"]: s for s in lib["skills"]}
    assert sorted(by_slug) == sorted(ROLES)
    import hashlib
    for slug, entry in by_slug.items():
        text = (rendered / "rules-library" / slug / "SKILL.md").read_text()
        body = text.split("\n---\n", 1)[1]
        assert entry["sha256"] == hashlib.sha256(body.encode()).hexdigest()
        assert entry["default"] is (slug in THREADS)


def test_profiles_list_every_tool_and_the_role_model(rendered):
    frag = json.loads((rendered / "zed-settings/agent-profiles.json").read_text())
    profiles = frag["agent"]["profiles"]
    assert sorted(profiles) == sorted(f"zpa-{r}" for r in THREADS)
    assert profiles["zpa-architect"]["default_model"] == {"provider": "anthropic", "model": "claude-opus-4-8"}
    assert profiles["zpa-developer"]["default_model"]["model"] == "claude-sonnet-4-6"
    assert profiles["zpa-reviewer"]["default_model"]["model"] == "claude-haiku-4-5"
    for p in profiles.values():
        assert sorted(p["tools"]) == sorted(NATIVE_TOOLS)
    # Lanes show in the tools: the reviewer cannot edit files or run a terminal.
    assert profiles["zpa-reviewer"]["tools"]["edit_file"] is False
    assert profiles["zpa-reviewer"]["tools"]["terminal"] is False
    assert profiles["zpa-developer"]["tools"]["terminal"] is True


def test_rules_carry_the_team_protocol(rendered):
    text = (rendered / ".rules").read_text()
    for role in THREADS:
        assert f"`/{role}`" in text
    assert "Stay in your lane" in text
    assert "docs/design/" in text


def test_repo_generated_files_are_in_sync(zpa):
    r = zpa("render", "--check", "--root", REPO)
    assert r.code == 0, r.err


def test_second_render_changes_nothing(rendered, zpa):
    before = {p: p.read_bytes() for p in rendered.rglob("*") if p.is_file()}
    r = zpa("render", "--root", rendered)
    assert r.code == 0
    assert "up to date" in r.out
    after = {p: p.read_bytes() for p in rendered.rglob("*") if p.is_file()}
    assert before == after


def test_output_is_lf_with_final_newline(rendered):
    manifest = json.loads((rendered / ".zpa/manifest.json").read_text())
    for rel in [*manifest["files"], ".zpa/manifest.json"]:
        p = rendered / rel
        if True:
            data = p.read_bytes()
            assert b"\r\n" not in data, p
            assert data.endswith(b"\n"), p


def test_editing_a_role_regenerates(rendered, zpa):
    role = rendered / "roles/reviewer.md"
    role.write_text(role.read_text().replace("model: claude-haiku-4-5", "model: claude-sonnet-4-6"))
    assert zpa("render", "--check", "--root", rendered).code == 1
    r = zpa("render", "--root", rendered)
    assert "wrote zed-settings/agent-profiles.json" in r.out
    frag = json.loads((rendered / "zed-settings/agent-profiles.json").read_text())
    assert frag["agent"]["profiles"]["zpa-reviewer"]["default_model"]["model"] == "claude-sonnet-4-6"
    assert zpa("render", "--check", "--root", rendered).code == 0


def test_check_names_a_stale_file(rendered, zpa):
    p = rendered / "thread-rules/developer.md"
    p.write_text(p.read_text() + "hand edit\n")
    r = zpa("render", "--check", "--root", rendered)
    assert r.code == 1
    assert "stale: thread-rules/developer.md" in r.out
    assert "hand edit" in p.read_text()  # --check writes nothing


def test_check_names_a_missing_file(rendered, zpa):
    (rendered / "rules-library/reviewer/SKILL.md").unlink()
    r = zpa("render", "--check", "--root", rendered)
    assert r.code == 1
    assert "missing: rules-library/reviewer/SKILL.md" in r.out


def test_plain_render_repairs_a_hand_edit(rendered, zpa):
    p = rendered / "thread-rules/developer.md"
    good = p.read_text()
    p.write_text(good + "hand edit\n")
    r = zpa("render", "--root", rendered)
    assert "wrote thread-rules/developer.md" in r.out
    assert p.read_text() == good


def add_role(root: Path, name: str) -> None:
    text = (root / "roles/reviewer.md").read_text().replace("name: reviewer", f"name: {name}")
    (root / "roles" / f"{name}.md").write_text(text)


def test_deleted_role_leaves_orphans_that_check_names_and_render_removes(rendered, zpa):
    add_role(rendered, "security-reviewer")
    assert zpa("render", "--root", rendered).code == 0
    skill = rendered / "rules-library/security-reviewer/SKILL.md"
    assert skill.is_file()
    (rendered / "roles/security-reviewer.md").unlink()
    r = zpa("render", "--check", "--root", rendered)
    assert r.code == 1
    assert "orphaned: rules-library/security-reviewer/SKILL.md" in r.out
    r = zpa("render", "--root", rendered)
    assert "removed rules-library/security-reviewer/SKILL.md" in r.out
    assert not skill.parent.exists()


def test_render_never_removes_files_it_did_not_generate(rendered, zpa):
    mine = rendered / "rules-library/my-notes.md"
    mine.write_text("mine\n")
    add_role(rendered, "extra")
    zpa("render", "--root", rendered)
    (rendered / "roles/extra.md").unlink()
    zpa("render", "--root", rendered)
    assert mine.read_text() == "mine\n"


def test_diff_shows_unified_diff_and_writes_nothing(rendered, zpa):
    role = rendered / "roles/architect.md"
    role.write_text(role.read_text().replace("You design; you do not build.", "You design; you never build."))
    r = zpa("render", "--diff", "--root", rendered)
    assert r.code == 1
    assert "--- a/rules-library/architect/SKILL.md" in r.out
    assert "+You design; you never build." in r.out
    assert "never build" not in (rendered / "rules-library/architect/SKILL.md").read_text()


def test_persona_body_sees_team_and_other_roles(rendered):
    skill = (rendered / "rules-library/reviewer/SKILL.md").read_text()
    assert "hand it to the\nDeveloper" in skill  # {{ roles.developer.title }}
    assert "`docs/design/`" in skill  # {{ team.handoffs.design }}
    assert "{{" not in skill


def test_render_does_not_import_heavy_modules(rendered):
    code = (
        "import sys; from zpa.cli import main\n"
        "try: main(['render', '--root', sys.argv[1]])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('anthropic', 'torch', 'rich', 'httpx2', 'numpy', 'jsonschema') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(rendered)], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    out = subprocess.run([sys.executable, "-m", "zpa", "--help"], capture_output=True, text=True, check=True).stdout
    assert "render" in out and "init" in out


def test_strict_undefined_in_a_persona_is_a_user_error(project, zpa):
    role = project / "roles/developer.md"
    text = role.read_text()
    role.write_text(text.replace("You do not judge", "{{ roles.architect.nickname }} You do not judge"))
    lines = role.read_text().splitlines()
    expected_line = next(i for i, ln in enumerate(lines, 1) if "nickname" in ln)
    r = zpa("render", "--root", project)
    assert r.code == 2
    assert f"roles/developer.md:{expected_line}:" in r.err
    assert "nickname" in r.err
    assert "Traceback" not in r.err
    assert not (project / ".rules").exists()  # nothing half-written


def test_jinja_syntax_error_in_a_persona_names_the_line(project, zpa):
    role = project / "roles/reviewer.md"
    role.write_text(role.read_text().replace("## How you work", "## How you work {% if %}"))
    line = next(i for i, ln in enumerate(role.read_text().splitlines(), 1) if "{% if %}" in ln)
    r = zpa("render", "--root", project)
    assert r.code == 2
    assert f"roles/reviewer.md:{line}:" in r.err


def test_no_team_file_says_what_to_do(tmp_path, zpa):
    r = zpa("render", "--root", tmp_path)
    assert r.code == 2
    assert "team.toml" in r.err and "zpa init" in r.err


def test_render_is_deterministic_across_copies(tmp_path, project, zpa):
    other = tmp_path / "other"
    shutil.copytree(project, other)
    zpa("render", "--root", project)
    zpa("render", "--root", other)
    files = sorted(p.relative_to(project) for p in project.rglob("*") if p.is_file())
    for rel in files:
        assert (project / rel).read_bytes() == (other / rel).read_bytes(), rel


def test_generated_files_say_where_they_come_from(rendered):
    for rel in [".rules", "thread-rules/architect.md", "rules-library/architect/SKILL.md", "zed-settings/README.md"]:
        text = (rendered / rel).read_text()
        assert re.search(r"Generated by zpa from .*Do not edit", text), rel


def test_atomic_write_keeps_mode_follows_links_and_never_replaces_devices(tmp_path):
    import os
    import stat

    from zpa.render import atomic_write

    target = tmp_path / "settings.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading
    got = []
    t = threading.Thread(target=lambda: got.append(open(fifo).read()))
    t.start()
    atomic_write(fifo, "through the pipe")
    t.join(5)
    assert got == ["through the pipe"] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_skills_show_the_shape_of_their_hand_off(rendered):
    import re as _re

    for role in ROLES:
        text = (rendered / "rules-library" / role / "SKILL.md").read_text()
        example = json.loads(_re.search(r"in shape:\n\n```json\n(.*?)\n```", text, _re.S).group(1))
        name = yaml.safe_load(text.split("---")[1])["metadata"]["source"]
        front = yaml.safe_load((rendered / name).read_text().split("---")[1])
        schema = json.loads((REPO / "src/zpa/schemas/handoffs" / f"{front['handoff']}.json").read_text())
        assert list(example) == schema["required"]
        assert example["role"] == role


def test_init_names_the_team_after_the_project(tmp_path, zpa):
    target = tmp_path / "acme-api"
    zpa("init", target)
    assert 'name = "acme-api"' in (target / "team.toml").read_text()
    assert "You are the **Reviewer** of acme-api" in (target / "rules-library/reviewer/SKILL.md").read_text()
