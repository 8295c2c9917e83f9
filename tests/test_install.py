"""zpa install / uninstall / doctor / open, against temp config dirs and a temp HOME."""

from __future__ import annotations

import difflib
import json
import os
import stat
from pathlib import Path

import pytest

from zpa.zed import jsonc

CORPUS = Path(__file__).parent / "fixtures" / "zed-settings"
VALID = sorted(p.name for p in CORPUS.glob("*.json") if not p.name.startswith("invalid"))
CONFLICTING = {"user-same-id.json"}



@pytest.fixture
def zed_dir(home):
    d = home / ".config" / "zed"
    d.mkdir(parents=True)
    return d


def profiles(project):
    return json.loads((project / "zed-settings/agent-profiles.json").read_text())["agent"]["profiles"]


def install(zpa, project, zed_dir, *args):
    return zpa("install", "--root", project, "--zed-config-dir", zed_dir, *args)


def uninstall(zpa, project, zed_dir, *args):
    return zpa("uninstall", "--root", project, "--zed-config-dir", zed_dir, *args)


def only_insertions(before: str, after: str) -> bool:
    ops = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    return all(op in ("equal", "insert") for op, *_ in ops)


def test_corpus_is_big_enough():
    assert len(VALID) >= 15
    assert len(list(CORPUS.glob("invalid*.json"))) >= 2


@pytest.mark.parametrize("name", VALID)
def test_install_preserves_idempotent_and_uninstalls_exactly(zpa, rendered, zed_dir, name):
    original = (CORPUS / name).read_bytes()
    settings = zed_dir / "settings.json"
    settings.write_bytes(original)
    os.chmod(settings, 0o600)
    r = install(zpa, rendered, zed_dir)
    assert r.code == 0, r.err
    after = settings.read_bytes()
    text_before, text_after = original.decode(), after.decode()
    wanted = profiles(rendered)
    merged = jsonc.loads(text_before) or {}
    agent = dict(merged.get("agent", {}))
    prof = dict(agent.get("profiles", {}))
    if name in CONFLICTING:
        prof.update({k: v for k, v in wanted.items() if k not in prof})
        assert "zpa-reviewer" in r.err and "--force" in r.err
    else:
        prof.update(wanted)
        # every byte the user wrote is still there, in order: the kit only inserted
        assert only_insertions(text_before, text_after)
    agent["profiles"] = prof
    merged["agent"] = agent
    assert jsonc.loads(text_after) == merged
    if "\r\n" in text_before:
        assert "\n" not in text_after.replace("\r\n", "")
    if text_before.startswith("\ufeff"):
        assert after.startswith(b"\xef\xbb\xbf")
    if "\n\t" in text_before:
        assert '\n\t\t\t"zpa-architect"' in text_after or '\t"zpa-architect"' in text_after
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    assert (zed_dir / "settings.json.zpa-backup").read_bytes() == original
    # idempotent
    r2 = install(zpa, rendered, zed_dir)
    assert r2.code == 0 and settings.read_bytes() == after
    # exact uninstall
    r3 = uninstall(zpa, rendered, zed_dir)
    assert r3.code == 0, r3.err
    assert settings.read_bytes() == original
    assert not (zed_dir / "settings.json.zpa-backup").exists()
    assert not (zed_dir / "zpa-install.json").exists()


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("invalid*.json")))
def test_invalid_settings_are_refused_untouched(zpa, rendered, zed_dir, name):
    settings = zed_dir / "settings.json"
    settings.write_bytes((CORPUS / name).read_bytes())
    r = install(zpa, rendered, zed_dir)
    assert r.code == 2
    assert "Traceback" not in r.err
    import re
    assert re.search(r"settings\.json:\d+:\d+", r.err)
    assert settings.read_bytes() == (CORPUS / name).read_bytes()
    assert not (zed_dir / "settings.json.zpa-backup").exists()


def test_missing_settings_file_is_created_and_removed(zpa, rendered, zed_dir):
    settings = zed_dir / "settings.json"
    r = install(zpa, rendered, zed_dir)
    assert r.code == 0
    assert jsonc.loads(settings.read_text())["agent"]["profiles"] == profiles(rendered)
    uninstall(zpa, rendered, zed_dir)
    assert not settings.exists()


def test_zed_config_dir_env_is_honoured(zpa, rendered, tmp_path, monkeypatch, home):
    cfg = tmp_path / "zedcfg"
    cfg.mkdir()
    monkeypatch.setenv("ZED_CONFIG_DIR", str(cfg))
    assert zpa("install", "--root", rendered).code == 0
    assert (cfg / "settings.json").is_file()
    assert not (home / ".config/zed/settings.json").exists()


def test_force_replaces_a_user_profile_and_uninstall_then_removes_it(zpa, rendered, zed_dir):
    settings = zed_dir / "settings.json"
    settings.write_bytes((CORPUS / "user-same-id.json").read_bytes())
    r = install(zpa, rendered, zed_dir, "--force")
    assert "replacing your own profile" in r.err
    assert jsonc.loads(settings.read_text())["agent"]["profiles"]["zpa-reviewer"] == profiles(rendered)["zpa-reviewer"]
    uninstall(zpa, rendered, zed_dir)
    assert settings.read_bytes() == (CORPUS / "user-same-id.json").read_bytes()


def test_uninstall_after_user_edits_keeps_them(zpa, rendered, zed_dir):
    settings = zed_dir / "settings.json"
    original = (CORPUS / "agent-existing.json").read_text()
    settings.write_text(original)
    install(zpa, rendered, zed_dir)
    edited = settings.read_text().replace('"theme": "One Dark",', '"theme": "One Dark",\n  "vim_mode": true, // added later')
    settings.write_text(edited)
    r = uninstall(zpa, rendered, zed_dir)
    assert "kept your edits" in r.err
    result = jsonc.loads(settings.read_text())
    expected = jsonc.loads(original)
    expected["vim_mode"] = True
    assert result == expected
    assert "// added later" in settings.read_text() and "// My default model" in settings.read_text()


def test_reinstall_updates_kit_profiles(zpa, rendered, zed_dir):
    install(zpa, rendered, zed_dir)
    role = rendered / "roles/reviewer.md"
    role.write_text(role.read_text().replace("model: claude-haiku-4-5", "model: claude-sonnet-4-6"))
    zpa("render", "--root", rendered)
    r = install(zpa, rendered, zed_dir)
    assert "updated" in r.out
    got = jsonc.loads((zed_dir / "settings.json").read_text())["agent"]["profiles"]["zpa-reviewer"]
    assert got["default_model"]["model"] == "claude-sonnet-4-6"


def test_dry_run_prints_diffs_and_writes_nothing(zpa, rendered, zed_dir, home):
    settings = zed_dir / "settings.json"
    settings.write_text((CORPUS / "default-zed.json").read_text())
    before = settings.read_bytes()
    r = install(zpa, rendered, zed_dir, "--dry-run")
    assert r.code == 0
    assert '+  "agent": {' in r.out and "SKILL.md" in r.out
    assert settings.read_bytes() == before
    assert not (home / ".agents").exists() and not (zed_dir / "zpa-install.json").exists()


def test_skills_install_user_and_project(zpa, rendered, zed_dir, home):
    assert install(zpa, rendered, zed_dir).code == 0
    skill = home / ".agents/skills/reviewer/SKILL.md"
    assert skill.read_bytes() == (rendered / "rules-library/reviewer/SKILL.md").read_bytes()
    assert len(list((home / ".agents/skills").iterdir())) == 6
    r = install(zpa, rendered, zed_dir, "--project")
    assert (rendered / ".agents/skills/architect/SKILL.md").is_file()
    assert "trusted worktrees" in r.err


def test_foreign_skill_is_never_overwritten_without_force(zpa, rendered, zed_dir, home):
    mine = home / ".agents/skills/reviewer/SKILL.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("---\nname: reviewer\ndescription: my own\n---\nMine.\n")
    r = install(zpa, rendered, zed_dir)
    assert "not installed by zpa" in r.err
    assert mine.read_text().endswith("Mine.\n")
    install(zpa, rendered, zed_dir, "--force")
    assert "generated-by: zpa" in mine.read_text()


def test_uninstall_keeps_edited_skills(zpa, rendered, zed_dir, home):
    install(zpa, rendered, zed_dir)
    edited = home / ".agents/skills/developer/SKILL.md"
    edited.write_text(edited.read_text() + "\nmy note\n")
    r = uninstall(zpa, rendered, zed_dir)
    assert "developer" in r.err and "kept" in r.err
    assert edited.is_file()
    assert not (home / ".agents/skills/reviewer").exists()


def test_doctor_reports_shadowed_rules_and_missing_install(zpa, rendered, zed_dir):
    (rendered / "AGENTS.md").write_text("# Our conventions\n")
    (rendered / "CLAUDE.md").write_text("# Claude notes\n")
    r = zpa("doctor", "--root", rendered, "--zed-config-dir", zed_dir, "--json")
    assert r.code == 1
    findings = json.loads(r.out)["findings"]
    shadowed = [f for f in findings if f["check"] == "rules" and f["status"] == "error"]
    assert {f["message"].split()[0] for f in shadowed} == {"AGENTS.md", "CLAUDE.md"}
    assert all("include" in f["fix"] for f in shadowed)
    assert any(f["check"] == "rules" and f["message"] == "Zed reads .rules" for f in findings)
    assert any(f["check"] == "profiles" and f["status"] == "error" for f in findings)
    assert any(f["check"] == "skills" and f["status"] == "error" for f in findings)


def test_doctor_is_happy_after_install(zpa, rendered, zed_dir, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-doctor-secret-value")
    install(zpa, rendered, zed_dir)
    r = zpa("doctor", "--root", rendered, "--zed-config-dir", zed_dir)
    assert r.code == 0, r.out
    assert "sk-doctor-secret-value" not in r.out + r.err
    assert "all good" in r.out


def test_open_prints_links_and_launches(zpa, rendered, tmp_path, monkeypatch):
    r = zpa("open", "--root", rendered, "--task", "add a rate limiter")
    assert "zed://agent?prompt=%2Farchitect%20add%20a%20rate%20limiter" in r.out
    assert "Reviewer (zpa)" in r.out
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "zed.log"
    fake = bin_dir / "zed"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert zpa("open", "--root", rendered, "--launch").code == 0
    assert log.read_text().splitlines() == ["zed://agent?prompt=%2Farchitect", "zed://agent?prompt=%2Fdeveloper",
                                            "zed://agent?prompt=%2Freviewer"]


def test_install_refuses_stale_generated_files(zpa, rendered, zed_dir):
    (rendered / "zed-settings/agent-profiles.json").write_text("{}\n")
    r = install(zpa, rendered, zed_dir)
    assert r.code == 2 and "zpa render" in r.err
