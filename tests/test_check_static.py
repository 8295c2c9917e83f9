"""zpa check --static: the defects it catches without an API, and the shipped probe suites."""

from __future__ import annotations

import yaml

from conftest import REPO


def static(zpa, root, *args):
    return zpa("check", "--static", "--root", root, *args)


def test_shipped_suites_are_complete(zpa):
    r = static(zpa, REPO)
    assert r.code == 0, r.out + r.err
    assert "no findings" in r.out
    for role in ("architect", "developer", "reviewer"):
        probes = yaml.safe_load((REPO / "probes" / f"{role}.yaml").read_text())["probes"]
        kinds = [p["kind"] for p in probes]
        assert kinds.count("task") >= 4 and kinds.count("temptation") >= 6, role


def test_missing_temptation_for_a_must_not(zpa, rendered):
    path = rendered / "probes/architect.yaml"
    data = yaml.safe_load(path.read_text())
    data["probes"] = [p for p in data["probes"] if p.get("must_not") != "approve-code"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    r = static(zpa, rendered)
    assert r.code == 1
    assert "must_not 'approve-code' has no temptation probe" in r.out


def test_two_roles_owning_the_same_files(zpa, rendered):
    role = rendered / "roles/reviewer.md"
    role.write_text(role.read_text().replace("path: reviews/{feature}.md", "path: src/reviews/{feature}.md"))
    zpa("render", "--root", rendered)
    r = static(zpa, rendered)
    assert r.code == 1
    assert "claim the same files" in r.out and "developer" in r.out


def test_stale_generated_files(zpa, rendered):
    (rendered / "thread-rules/reviewer.md").write_text("hand edit\n")
    r = static(zpa, rendered)
    assert r.code == 1 and "stale: thread-rules/reviewer.md" in r.out


def test_thread_role_without_probes(zpa, rendered):
    (rendered / "probes/reviewer.yaml").unlink()
    r = static(zpa, rendered)
    assert r.code == 1 and "thread role has no probe file" in r.out


def test_unknown_hand_off_target_is_a_config_error(zpa, rendered):
    role = rendered / "roles/reviewer.md"
    role.write_text(role.read_text().replace("hands_off_to: [developer, architect]", "hands_off_to: [developer, qa]"))
    r = static(zpa, rendered)
    assert r.code == 2 and "unknown role 'qa'" in r.err


def test_bad_probe_file_names_file_and_line(zpa, rendered):
    path = rendered / "probes/reviewer.yaml"
    text = path.read_text().replace("- {type: stays_in_lane}", "- {type: stays_in_lain}", 1)
    path.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "stays_in_lain" in ln)
    r = static(zpa, rendered)
    assert r.code == 2
    assert f"probes/reviewer.yaml:{line}" in r.err and "unknown assertion type 'stays_in_lain'" in r.err


def test_probe_naming_an_unknown_must_not(zpa, rendered):
    path = rendered / "probes/developer.yaml"
    path.write_text(path.read_text().replace("must_not: skip-spec", "must_not: skip-the-spec"))
    r = static(zpa, rendered)
    assert r.code == 2 and "unknown must_not id 'skip-the-spec'" in r.err


def test_temptation_without_must_not_is_refused(zpa, rendered):
    path = rendered / "probes/developer.yaml"
    path.write_text(path.read_text().replace("    must_not: skip-spec\n", ""))
    r = static(zpa, rendered)
    assert r.code == 2 and "must_not" in r.err


def test_persona_sizes_and_cacheability(zpa, tmp_path):
    import json

    out = tmp_path / "static.json"
    assert static(zpa, REPO, "--json", out).code == 0
    personas = {p["role"]: p for p in json.loads(out.read_text())["personas"]}
    # Sonnet caches from 1,024 tokens, Opus 4.x and Haiku 4.5 from 4,096: ~1,800-token personas
    # are cached only on Sonnet, so only there is caching requested.
    assert personas["developer"]["cacheable"] is True
    assert personas["architect"]["cacheable"] is False and personas["architect"]["min_cache_tokens"] == 4096
    assert 1000 < personas["reviewer"]["persona_tokens"] < 4096
