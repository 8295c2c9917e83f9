"""Property tests for the settings merge: random settings files in many styles.

For any settings object written with any indentation, comments in any gap,
trailing commas or not, LF or CRLF, with or without a BOM: install only
inserts text, the result parses to the original plus the profiles, a second
install changes nothing, and uninstall restores the file byte for byte.
"""

from __future__ import annotations

import difflib
import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zpa.zed import jsonc
from zpa.zed.install import plan_install, plan_uninstall

keys = st.text(alphabet=st.characters(codec="utf-8", exclude_characters='"\\\n\r'), min_size=1, max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=10),
                    st.floats(allow_nan=False, allow_infinity=False, width=32))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(keys, inner, max_size=4)), max_leaves=12)
agent_values = st.one_of(st.none(), st.dictionaries(st.sampled_from(["default_model", "enabled", "profiles", "x"]),
                                                    st.dictionaries(keys, scalars, max_size=2), max_size=3))


def write_jsonc(value, rng: random.Random, unit: str, nl: str, trailing: bool, depth: int = 0) -> str:
    """Serialise with comments sprinkled into the gaps between tokens."""
    def gap() -> str:
        r = rng.random()
        if r < 0.15:
            return " /* c */ "
        if r < 0.25:
            return " // note" + nl + unit * (depth + 1)
        return ""

    if isinstance(value, dict):
        if not value:
            return "{ /* empty */ }" if rng.random() < 0.2 else "{}"
        parts = []
        for k, v in value.items():
            parts.append(unit * (depth + 1) + json.dumps(k) + gap() + ":" + " " + write_jsonc(v, rng, unit, nl, trailing, depth + 1) + gap())
        body = ("," + nl).join(parts) + ("," if trailing else "")
        return "{" + nl + body + nl + unit * depth + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[" + ", ".join(write_jsonc(v, rng, unit, nl, trailing, depth + 1) for v in value) + "]"
    return json.dumps(value)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(keys, values, max_size=5), agent=agent_values, seed=st.integers(0, 10**6),
       unit=st.sampled_from(["  ", "    ", "\t", " "]), nl=st.sampled_from(["\n", "\r\n"]),
       trailing=st.booleans(), bom=st.booleans(), header=st.booleans())
def test_install_and_uninstall_any_settings_file(rendered_once, tmp_path_factory, data, agent, seed, unit, nl,
                                                 trailing, bom, header):
    root = rendered_once
    if agent is not None:
        data = {**data, "agent": agent}
    if isinstance(data.get("agent"), dict) and "profiles" in data["agent"]:
        data["agent"]["profiles"] = {k: v for k, v in data["agent"]["profiles"].items() if not k.startswith("zpa-")}
    rng = random.Random(seed)
    text = ("// my settings" + nl if header else "") + write_jsonc(data, rng, unit, nl, trailing) + nl
    if bom:
        text = "\ufeff" + text
    assert jsonc.loads(text) == data  # the generator writes what it means
    cfg = tmp_path_factory.mktemp("zed")
    settings_path = cfg / "settings.json"
    settings_path.write_bytes(text.encode())
    skills = cfg / "skills"

    plan = plan_install(root, cfg, skills, "user", force=False)
    plan.apply()
    after = settings_path.read_bytes().decode()
    ops = difflib.SequenceMatcher(None, text, after, autojunk=False).get_opcodes()
    assert all(op in ("equal", "insert") for op, *_ in ops)
    profiles = json.loads((root / "zed-settings/agent-profiles.json").read_text())["agent"]["profiles"]
    expected = json.loads(json.dumps(data))
    expected.setdefault("agent", {}).setdefault("profiles", {}).update(profiles)
    assert jsonc.loads(after) == expected
    if nl == "\n":
        assert "\r" not in after
    else:
        assert "\n" not in after.replace("\r\n", "")
    again = plan_install(root, cfg, skills, "user", force=False)
    assert not [c for c in again.changes if c.path == settings_path]
    plan_uninstall(cfg).apply()
    assert settings_path.read_bytes() == text.encode()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(keys, values, max_size=5), agent=agent_values, seed=st.integers(0, 10**6),
       unit=st.sampled_from(["  ", "\t"]), nl=st.sampled_from(["\n", "\r\n"]), trailing=st.booleans())
def test_uninstall_after_user_edits_removes_only_the_profiles(rendered_once, tmp_path_factory, data, agent, seed,
                                                              unit, nl, trailing):
    if agent is not None:
        data = {**data, "agent": agent}
    if isinstance(data.get("agent"), dict) and "profiles" in data["agent"]:
        data["agent"]["profiles"] = {k: v for k, v in data["agent"]["profiles"].items() if not k.startswith("zpa-")}
    text = write_jsonc(data, random.Random(seed), unit, nl, trailing) + nl
    cfg = tmp_path_factory.mktemp("zed")
    settings_path = cfg / "settings.json"
    settings_path.write_bytes(text.encode())
    plan_install(rendered_once, cfg, cfg / "skills", "user", force=False).apply()
    installed = settings_path.read_bytes().decode()
    # The user edits the file afterwards: a new top-level setting.
    edited = jsonc.insert_member(installed, jsonc.parse(installed), "user_added_later", {"on": True},
                                 jsonc.detect_style(installed))
    settings_path.write_bytes(edited.encode())
    plan_uninstall(cfg).apply()
    result = jsonc.loads(settings_path.read_bytes().decode())
    expected = json.loads(json.dumps(data))
    expected["user_added_later"] = {"on": True}
    assert result == expected
