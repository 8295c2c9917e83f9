"""The cheap schema check may say "valid" only when jsonschema agrees."""

from __future__ import annotations

import copy
import functools
import json

import jsonschema
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO
from zpa.quickcheck import is_valid

SCHEMAS = {name: json.loads((REPO / "src/zpa/schemas" / f"{name}.schema.json").read_text())
           for name in ("role", "team", "probes", "library", "verdict")}


@functools.cache
def _real_instances():
    import tomllib

    out = [("team", tomllib.loads((REPO / "team.toml").read_text()))]
    for p in sorted((REPO / "roles").glob("*.md")):
        out.append(("role", yaml.safe_load(p.read_text().split("---")[1])))
    for p in sorted((REPO / "probes").glob("*.yaml")):
        out.append(("probes", yaml.safe_load(p.read_text())))
    out.append(("library", json.loads((REPO / "rules-library/library.json").read_text())))
    return out


def real_instances():
    return copy.deepcopy(_real_instances())


def test_real_sources_pass_without_jsonschema():
    for name, inst in real_instances():
        assert is_valid(inst, SCHEMAS[name]), name


junk = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=6),
                 st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@settings(max_examples=400, deadline=None)
@given(choice=st.integers(0, 10**6), path_pick=st.integers(0, 10**6), value=junk, delete=st.booleans())
def test_mutations_never_pass_unless_jsonschema_agrees(choice, path_pick, value, delete):
    instances = _real_instances()
    name, inst = instances[choice % len(instances)]
    inst = copy.deepcopy(inst)
    # Pick a random node and replace or delete it.
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + [i])

    walk(inst, [])
    path = paths[path_pick % len(paths)]
    if path:
        parent = inst
        for part in path[:-1]:
            parent = parent[part]
        if delete and isinstance(parent, dict):
            del parent[path[-1]]
        elif delete and isinstance(parent, list):
            parent.pop(path[-1])
        else:
            parent[path[-1]] = value
    truth = jsonschema.Draft202012Validator(SCHEMAS[name]).is_valid(inst)
    if is_valid(inst, SCHEMAS[name]):
        assert truth, (name, path, value)
