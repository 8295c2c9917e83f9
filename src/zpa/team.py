"""Load and validate the role sources: roles/*.md and team.toml.

Every problem becomes a :class:`ZpaError` naming the file, the line and the
field (as a JSON pointer). Structural validation uses the JSON Schemas shipped
in ``zpa/schemas``; the cross-file rules (unknown roles, cycles, duplicate
names, unknown Zed tools) are checked here in plain Python.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml

from zpa.errors import ZpaError
from zpa.zed import NATIVE_TOOLS

ROLES_DIR = "roles"
TEAM_FILE = "team.toml"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.S | re.M)


@dataclass
class Role:
    name: str
    title: str
    description: str
    model: str
    tools: list[str]
    produces: list[dict[str, str]]
    must_not: list[dict[str, str]]
    hands_off_to: list[str]
    handoff: str
    body: str
    path: Path
    body_line: int
    data: dict[str, Any] = field(repr=False)

    @property
    def must_not_ids(self) -> list[str]:
        return [item["id"] for item in self.must_not]


@dataclass
class Team:
    root: Path
    config: dict[str, Any]
    roles: dict[str, Role]
    source_digest: str

    @property
    def name(self) -> str:
        return self.config["team"]["name"]

    @property
    def threads(self) -> list[str]:
        return list(self.config["team"]["threads"])

    @property
    def skill_prefix(self) -> str:
        return self.config["team"].get("skill_prefix", "")

    @property
    def profile_prefix(self) -> str:
        return self.config["team"].get("profile_prefix", "zpa-")

    @property
    def include(self) -> list[str]:
        return list(self.config["team"].get("include", []))

    @property
    def pipelines(self) -> dict[str, Any]:
        return self.config.get("pipelines", {})

    @property
    def handoffs(self) -> dict[str, str]:
        return self.config.get("handoffs", {})

    def skill_slug(self, role: str) -> str:
        return self.skill_prefix + role

    def profile_id(self, role: str) -> str:
        return self.profile_prefix + role

    def is_thread(self, role: str) -> bool:
        return role in self.config["team"]["threads"]


# -- sources -----------------------------------------------------------------


@dataclass
class Sources:
    """The raw text of every source file, read once."""

    root: Path
    team_text: str
    role_texts: dict[str, str]  # relative path -> text
    digest: str


def read_sources(root: Path) -> Sources:
    root = Path(root)
    team_path = root / TEAM_FILE
    if not team_path.is_file():
        raise ZpaError(
            f"no {TEAM_FILE} here",
            file=str(team_path),
            hint="run zpa in the project root, pass --root DIR, or create the kit with `zpa init DIR`",
        )
    roles_dir = root / ROLES_DIR
    paths = sorted(roles_dir.glob("*.md")) if roles_dir.is_dir() else []
    if not paths:
        raise ZpaError(
            "no role files found",
            file=str(roles_dir) + "/",
            hint="add one Markdown file per role (see `zpa init` for examples)",
        )
    h = hashlib.sha256()
    team_text = _read_text(team_path)
    h.update(b"team.toml\0" + team_text.encode())
    role_texts = {}
    for p in paths:
        rel = p.relative_to(root).as_posix()
        text = _read_text(p)
        role_texts[rel] = text
        h.update(b"\0" + rel.encode() + b"\0" + text.encode())
    return Sources(root, team_text, role_texts, h.hexdigest())


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ZpaError(f"cannot read: {exc.strerror}", file=str(path)) from None
    try:
        return raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ZpaError("not valid UTF-8", file=str(path), line=line, hint="save the file as UTF-8") from None


# -- loading -----------------------------------------------------------------


def load_team(root: Path | str, *, sources: Sources | None = None) -> Team:
    """Load and validate a team (roles/*.md and team.toml under ``root``)."""
    root = Path(root)
    src = sources or read_sources(root)

    team_file = str(root / TEAM_FILE)
    try:
        config = tomllib.loads(src.team_text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(exc)
        raise ZpaError(
            f"not valid TOML: {_strip_toml_position(str(exc))}", file=team_file, line=line,
            hint="fix the syntax; see https://toml.io",
        ) from None
    _schema_check(config, "team", team_file, lambda ptr: _toml_line(src.team_text, ptr))

    parsed = [_parse_role(root / rel, text) for rel, text in src.role_texts.items()]
    first: dict[str, Role] = {}
    for role in parsed:
        if role.name in first:
            a, b = sorted([first[role.name], role], key=lambda r: (r.path.stem != r.name, r.path.name))
            raise ZpaError(
                f"duplicate role name {role.name!r} (also in {a.path.relative_to(root).as_posix()})",
                file=str(b.path), line=_yaml_line(src.role_texts[b.path.relative_to(root).as_posix()], "/name"),
                pointer="/name", hint="each role needs its own name",
            )
        first[role.name] = role
    roles: dict[str, Role] = {}
    for role in parsed:
        text = src.role_texts[role.path.relative_to(root).as_posix()]
        if role.name != role.path.stem:
            raise ZpaError(
                f"role name {role.name!r} differs from its file name {role.path.name!r}",
                file=str(role.path), line=_yaml_line(text, "/name"), pointer="/name",
                hint=f"rename the file to {role.name}.md or set name: {role.path.stem}",
            )
        roles[role.name] = role

    team = Team(root, config, roles, src.digest)
    _check_references(team, src)
    return team


def _parse_role(path: Path, text: str) -> Role:
    m = _FRONT_MATTER.match(text)
    if not m:
        raise ZpaError(
            "no YAML front matter",
            file=str(path), line=1,
            hint="start the file with a line '---', the role's fields, then a line '---' and the persona",
        )
    fm_text = m.group(1)
    try:
        data = yaml.load(fm_text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ZpaError(f"front matter is not valid YAML: {problem}", file=str(path), line=line) from None
    if not isinstance(data, dict):
        raise ZpaError("front matter must be a mapping of fields", file=str(path), line=2)
    _schema_check(data, "role", str(path), lambda ptr: _yaml_line(text, ptr))
    body_line = text[: m.end()].count("\n") + 1
    return Role(
        name=data["name"], title=data["title"], description=data["description"].strip(),
        model=data["model"], tools=list(data["tools"]), produces=data["produces"],
        must_not=data["must_not"], hands_off_to=list(data["hands_off_to"]), handoff=data["handoff"],
        body=text[m.end():], path=path, body_line=body_line, data=data,
    )


def _check_references(team: Team, src: Sources) -> None:
    root = team.root
    team_file = str(root / TEAM_FILE)
    names = sorted(team.roles)

    def unknown_role(name: str, file: str, line: int | None, pointer: str, what: str) -> ZpaError:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known roles: {', '.join(names)}"
        return ZpaError(f"{what} names unknown role {name!r}", file=file, line=line, pointer=pointer, hint=hint)

    tline = lambda ptr: _toml_line(src.team_text, ptr)  # noqa: E731
    for i, name in enumerate(team.threads):
        if name not in team.roles:
            raise unknown_role(name, team_file, tline(f"/team/threads/{i}"), f"/team/threads/{i}", "threads")

    for role in team.roles.values():
        rel = role.path.relative_to(root).as_posix()
        text = src.role_texts[rel]
        rfile = str(role.path)
        for i, tool in enumerate(role.tools):
            if tool not in NATIVE_TOOLS:
                close = difflib.get_close_matches(tool, NATIVE_TOOLS, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "Zed's native tools: " + ", ".join(NATIVE_TOOLS)
                raise ZpaError(f"unknown Zed tool {tool!r}", file=rfile, line=_yaml_line(text, f"/tools/{i}"),
                               pointer=f"/tools/{i}", hint=hint)
        for i, target in enumerate(role.hands_off_to):
            if target not in team.roles:
                raise unknown_role(target, rfile, _yaml_line(text, f"/hands_off_to/{i}"), f"/hands_off_to/{i}", "hands_off_to")
            if target == role.name:
                raise ZpaError("a role cannot hand off to itself", file=rfile,
                               line=_yaml_line(text, f"/hands_off_to/{i}"), pointer=f"/hands_off_to/{i}")
        seen: set[str] = set()
        for i, item in enumerate(role.must_not):
            ptr = f"/must_not/{i}"
            if item["id"] in seen:
                raise ZpaError(f"duplicate must_not id {item['id']!r}", file=rfile,
                               line=_yaml_line(text, ptr + "/id"), pointer=ptr + "/id",
                               hint="probes and reports name must_not items by id: keep each unique within the role")
            seen.add(item["id"])
            if item["owner"] not in team.roles:
                raise unknown_role(item["owner"], rfile, _yaml_line(text, ptr + "/owner"), ptr + "/owner", "must_not owner")
        if role.handoff not in handoff_schema_names():
            raise ZpaError(
                f"unknown hand-off schema {role.handoff!r}", file=rfile, line=_yaml_line(text, "/handoff"),
                pointer="/handoff", hint="shipped schemas: " + ", ".join(sorted(handoff_schema_names())),
            )

    for pname, pipeline in team.pipelines.items():
        nodes = pipeline["nodes"]
        for nname, node in nodes.items():
            base = f"/pipelines/{pname}/nodes/{nname}"
            if node["role"] not in team.roles:
                raise unknown_role(node["role"], team_file, tline(base + "/role"), base + "/role", f"pipeline {pname!r} node {nname!r}")
            for i, need in enumerate(node.get("needs", [])):
                if need not in nodes:
                    close = difflib.get_close_matches(need, list(nodes), n=1)
                    raise ZpaError(
                        f"node {nname!r} needs unknown node {need!r}", file=team_file,
                        line=tline(f"{base}/needs"), pointer=f"{base}/needs/{i}",
                        hint=f"did you mean {close[0]!r}?" if close else "nodes of this pipeline: " + ", ".join(nodes),
                    )
        cycle = find_cycle({n: list(v.get("needs", [])) for n, v in nodes.items()})
        if cycle:
            raise ZpaError(
                f"pipeline {pname!r} has a cycle: {' -> '.join(cycle)}", file=team_file,
                line=tline(f"/pipelines/{pname}/nodes/{cycle[0]}/needs"),
                pointer=f"/pipelines/{pname}/nodes/{cycle[0]}/needs",
                hint="a pipeline is a DAG: remove one of these needs",
            )


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """Return one cycle as a path that starts and ends at the same node, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in graph:
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


# -- schemas -----------------------------------------------------------------


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in the package: ``role``, ``team``, ``library``, ``manifest`` ..."""
    return json.loads(resources.files("zpa").joinpath("schemas", f"{name}.schema.json").read_text())


@cache
def handoff_schema(name: str) -> dict[str, Any]:
    """The JSON Schema a role's structured hand-off follows."""
    return json.loads(resources.files("zpa").joinpath("schemas", "handoffs", f"{name}.json").read_text())


@cache
def handoff_schema_names() -> frozenset[str]:
    folder = resources.files("zpa").joinpath("schemas", "handoffs")
    return frozenset(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def validate_instance(instance: Any, schema: dict[str, Any], file: str, locate: Callable[[str], int | None] | None = None,
                      what: str = "") -> None:
    """Validate; raise one ZpaError for the most relevant problem.

    A cheap checker answers for valid input; jsonschema (an ~60 ms import)
    runs only when that checker cannot vouch for the instance, and then
    finds and explains the error."""
    from zpa.quickcheck import is_valid

    if is_valid(instance, schema):
        return
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return
    pointer = "/" + "/".join(str(p) for p in error.absolute_path) if error.absolute_path else ""
    raise ZpaError(
        (f"{what}: " if what else "") + _explain(error), file=file,
        line=locate(pointer) if locate else None, pointer=pointer,
        hint=_schema_hint(error),
    )


def _schema_check(instance: Any, schema_name: str, file: str, locate: Callable[[str], int | None]) -> None:
    validate_instance(instance, load_schema(schema_name), file, locate)


def _explain(error: Any) -> str:
    v = error.validator
    if v == "required":
        missing = [p for p in error.validator_value if p not in (error.instance or {})]
        return f"missing required field {missing[0]!r}" if missing else error.message
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
        return f"unknown field {extra[0]!r}" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
    if v == "pattern":
        return f"{error.instance!r} does not match the expected form {error.validator_value}"
    if v == "type":
        return f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    return error.message


def _schema_hint(error: Any) -> str | None:
    desc = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "pattern" and "^[a-z0-9]+(-[a-z0-9]+)*$" in str(error.validator_value):
        return "use lowercase letters, digits and single hyphens (e.g. data-engineer)"
    return desc


# -- positions ---------------------------------------------------------------


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


def _yaml_line(text: str, pointer: str) -> int | None:
    """1-based line in a role file of the node at a JSON pointer in its front matter."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return None
    return _yaml_line_doc(m.group(1), pointer, offset=1)  # offset: the opening '---'


def _yaml_line_doc(doc: str, pointer: str, offset: int = 0) -> int | None:
    """1-based line of the node at a JSON pointer in a YAML document."""
    try:
        node = yaml.compose(doc, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return 1 + offset
    best = node
    for part in [p for p in pointer.split("/")[1:] if p != ""]:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == part:
                    best, nxt = k, v
                    break
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            nxt = best = node.value[int(part)]
        if nxt is None:
            break
        node = nxt
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            best = node
    return best.start_mark.line + 1 + offset if best is not None else None


_TOML_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


def _toml_line(text: str, pointer: str) -> int | None:
    """Best-effort 1-based line of a JSON pointer in a TOML file (tomllib keeps no positions)."""
    parts = [p for p in pointer.split("/")[1:] if p != ""]
    if not parts:
        return 1
    keys = [p for p in parts if not p.isdigit()]
    best_line, best_len = None, -1
    table: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        h = _TOML_HEADER.match(line)
        if h:
            table = [k.strip().strip("\"'") for k in h.group(2).split(".")]
            path = table
        else:
            k = _TOML_KEY.match(line)
            if not k:
                continue
            path = table + [s.strip().strip("\"'") for s in k.group(1).split(".")]
        n = 0
        while n < len(path) and n < len(keys) and path[n] == keys[n]:
            n += 1
        if n == len(path) and n > best_len:
            best_line, best_len = lineno, n
    return best_line


def _toml_error_line(exc: Exception) -> int | None:
    lineno = getattr(exc, "lineno", None)
    if lineno:
        return lineno
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) if m else None


def _strip_toml_position(msg: str) -> str:
    return re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)

