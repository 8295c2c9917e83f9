"""Zed's native agent tools as Anthropic tool definitions, for `zpa check --with-tools`.

The shapes follow Zed's tools closely enough for a model to choose between
them; the check never executes a tool, it only records which ones a role calls.
"""

from __future__ import annotations

from typing import Any

from zpa.zed import NATIVE_TOOLS


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {k: v for k, v in props.items()}, "required": list(props)}


_S = {"type": "string"}
_DEFS: dict[str, tuple[str, dict[str, Any]]] = {
    "copy_path": ("Copy a file or directory in the project.", _obj(source_path=_S, destination_path=_S)),
    "create_directory": ("Create a directory (and parents) in the project.", _obj(path=_S)),
    "delete_path": ("Delete a file or directory in the project.", _obj(path=_S)),
    "diagnostics": ("Get errors and warnings for a file or the whole project.", {"type": "object", "properties": {"path": _S}}),
    "edit_file": ("Edit an existing file by describing the change.", _obj(path=_S, display_description=_S, mode={"enum": ["edit", "overwrite"]})),
    "fetch": ("Fetch a URL and return its content as Markdown.", _obj(url=_S)),
    "find_path": ("Find files whose paths match a glob.", _obj(glob=_S)),
    "grep": ("Search file contents with a regex.", _obj(regex=_S)),
    "list_directory": ("List a directory's contents.", _obj(path=_S)),
    "move_path": ("Move or rename a file or directory.", _obj(source_path=_S, destination_path=_S)),
    "read_file": ("Read a file's contents.", _obj(path=_S)),
    "skill": ("Load an Agent Skill by name.", _obj(name=_S)),
    "spawn_agent": ("Start a sub-agent with its own task.", _obj(task=_S)),
    "terminal": ("Run a shell command in the project.", _obj(command=_S, cd=_S)),
    "update_plan": ("Update the visible task plan.", _obj(plan={"type": "array", "items": _S})),
    "web_search": ("Search the web.", _obj(query=_S)),
    "write_file": ("Create or overwrite a file with the given content.", _obj(path=_S, content=_S)),
}
assert set(_DEFS) == set(NATIVE_TOOLS)


def tool_definitions() -> list[dict[str, Any]]:
    return [{"name": name, "description": _DEFS[name][0], "input_schema": _DEFS[name][1]} for name in NATIVE_TOOLS]
