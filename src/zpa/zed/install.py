"""`zpa install` / `zpa uninstall`: put the generated files into Zed, safely.

- Agent profiles merge into the USER settings file (Zed ignores `agent` in a
  project's .zed/settings.json) by splicing text, so the user's comments and
  formatting survive; a backup is written before the first change; writes
  are atomic and keep the file mode.
- Skills are copied to ~/.agents/skills (user) or <project>/.agents/skills.
- What was installed is recorded in <zed config>/zpa-install.json, so
  uninstall removes exactly that: byte-identical when nothing else changed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zpa import __version__
from zpa.errors import ZpaError
from zpa.render import atomic_write
from zpa.zed import jsonc

MANIFEST = "zpa-install.json"
BACKUP_SUFFIX = ".zpa-backup"


def zed_config_dir(explicit: Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("ZED_CONFIG_DIR")
    return Path(env).expanduser() if env else Path.home() / ".config" / "zed"


def skills_dir(scope: str, project: Path, explicit: Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    return (project / ".agents" / "skills") if scope == "project" else Path.home() / ".agents" / "skills"


def sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def canonical(value: Any) -> str:
    return sha(json.dumps(value, sort_keys=True, ensure_ascii=False))


@dataclass
class Change:
    path: Path
    before: bytes | None  # None: the file does not exist
    after: bytes | None  # None: remove the file
    mode: int | None = None
    prune_to: Path | None = None  # after a removal, remove emptied folders up to (not including) this one

    def diff(self) -> str:
        a = (self.before or b"").decode("utf-8", "replace").splitlines(keepends=True)
        b = (self.after or b"").decode("utf-8", "replace").splitlines(keepends=True)
        return "".join(difflib.unified_diff(a, b, fromfile=str(self.path) if self.before is not None else "/dev/null",
                                            tofile=str(self.path) if self.after is not None else "/dev/null"))


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    manifest_path: Path | None = None

    def apply(self) -> None:
        for c in self.changes:
            if c.after is None:
                if c.path.exists():
                    c.path.unlink()
                    _prune(c.path.parent, c.prune_to)
            else:
                atomic_write(c.path, c.after, c.mode)
        if self.manifest_path is not None:
            if self.manifest is None:
                self.manifest_path.unlink(missing_ok=True)
            else:
                atomic_write(self.manifest_path, json.dumps(self.manifest, indent=2) + "\n")


def _prune(folder: Path, stop: Path | None) -> None:
    """Remove ``folder`` if empty, and its emptied parents below ``stop`` (only ``folder`` without one)."""
    stop_at = stop.resolve() if stop is not None else None
    while True:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
        if stop_at is None or folder.resolve() == stop_at or stop_at not in folder.resolve().parents:
            return


def read_manifest(config_dir: Path) -> dict[str, Any]:
    path = config_dir / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise ZpaError("the install record is not valid JSON", file=str(path),
                       hint="restore it or delete it (then zpa treats nothing as installed)") from None


# -- install -----------------------------------------------------------------


def plan_install(root: Path, config_dir: Path, skills_target: Path, scope: str, force: bool) -> Plan:
    fragment_path = root / "zed-settings" / "agent-profiles.json"
    if not fragment_path.is_file():
        raise ZpaError("no generated Zed profiles", file=str(fragment_path), hint="run `zpa render` first")
    profiles: dict[str, Any] = json.loads(fragment_path.read_text(encoding="utf-8"))["agent"]["profiles"]
    manifest = read_manifest(config_dir) or {"generated_by": f"zpa {__version__}", "settings": None, "skills": {}}
    manifest["generated_by"] = f"zpa {__version__}"
    plan = Plan(manifest=manifest, manifest_path=config_dir / MANIFEST)
    _plan_settings(plan, config_dir / "settings.json", profiles, manifest, force)
    _plan_skills(plan, root, skills_target, scope, manifest, force)
    return plan


def _plan_settings(plan: Plan, path: Path, profiles: dict[str, Any], manifest: dict[str, Any], force: bool) -> None:
    before = path.read_bytes() if path.exists() else None
    record = manifest.get("settings") or {}
    installed: dict[str, str] = dict(record.get("profiles", {}))
    text = before.decode("utf-8") if before is not None else ""
    if before is not None and not text.lstrip("\ufeff").strip():
        text = text + "{}"  # an empty file: start an object after whatever whitespace it had
    elif before is None:
        text = "{}\n"
    root = jsonc.parse(text, str(path))
    if root.kind != "object":
        raise ZpaError("settings.json does not hold an object", file=str(path), line=1)
    original = jsonc.to_python(root)
    style = jsonc.detect_style(text)
    created_agent = record.get("created_agent", False)
    created_profiles = record.get("created_profiles", False)
    for pid, value in profiles.items():
        root = jsonc.parse(text, str(path))
        agent = jsonc.find(root, "agent")
        if agent is None:
            text = jsonc.insert_member(text, root, "agent", {"profiles": {pid: value}}, style)
            created_agent = created_profiles = True
            installed[pid] = canonical(value)
            continue
        if agent.value.kind != "object":
            raise ZpaError('"agent" in settings.json is not an object', file=str(path),
                           line=text.count("\n", 0, agent.key_start) + 1, hint="fix it in Zed, then install again")
        prof = jsonc.find(agent.value, "profiles")
        if prof is None:
            text = jsonc.insert_member(text, agent.value, "profiles", {pid: value}, style)
            created_profiles = True
            installed[pid] = canonical(value)
            continue
        if prof.value.kind != "object":
            raise ZpaError('"agent.profiles" in settings.json is not an object', file=str(path),
                           line=text.count("\n", 0, prof.key_start) + 1)
        existing = jsonc.find(prof.value, pid)
        if existing is None:
            text = jsonc.insert_member(text, prof.value, pid, value, style)
            installed[pid] = canonical(value)
        elif jsonc.to_python(existing.value) == value:
            pass  # already as wanted; a user-written twin stays the user's
        elif pid in installed or force:
            if pid not in installed:
                plan.notes.append(f"profile {pid}: replacing your own profile of that id (--force)")
            text = jsonc.replace_value(text, existing, value, style)
            installed[pid] = canonical(value)
        else:
            plan.notes.append(f"profile {pid}: settings.json already has a profile with this id that zpa did not "
                              f"install; left as it is (use --force to replace it, or set profile_prefix in team.toml)")
    for pid in [p for p in installed if p not in profiles]:  # a role that is no longer a thread
        text, removed = _without_profile(text, path, pid)
        if removed:
            original.get("agent", {}).get("profiles", {}).pop(pid, None)
            plan.notes.append(f"profile {pid}: removed (its role is no longer a thread)")
        del installed[pid]
    expected = dict(original)
    merged_agent = dict(expected.get("agent", {}))
    merged_profiles = dict(merged_agent.get("profiles", {}))
    result = jsonc.loads(text, str(path))
    for pid in profiles:
        if pid in installed:
            merged_profiles[pid] = profiles[pid]
    merged_agent["profiles"] = merged_profiles
    expected["agent"] = merged_agent
    if result != expected:  # never write a file that does not mean what we intended
        raise ZpaError("internal error: the merged settings do not parse to the intended object; nothing was written",
                       file=str(path), hint="please report this with a copy of your settings file")
    after = text.encode("utf-8")
    if before is None or after != before:
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        if before is not None and not record.get("backup"):
            plan.changes.append(Change(backup, None, before))
            record["backup"] = str(backup)
        mode = (path.stat().st_mode & 0o7777) if before is not None else 0o644
        plan.changes.append(Change(path, before, after, mode))
        if before is None:
            record["created"] = True
    record.update({"path": str(path), "after_sha256": sha(after), "profiles": installed,
                   "created_agent": created_agent, "created_profiles": created_profiles})
    record.setdefault("created", False)
    record.setdefault("backup", None)
    plan.manifest["settings"] = record  # type: ignore[index]


def _plan_skills(plan: Plan, root: Path, target_dir: Path, scope: str, manifest: dict[str, Any], force: bool) -> None:
    library = root / "rules-library"
    lib = json.loads((library / "library.json").read_text(encoding="utf-8"))
    skills = manifest.setdefault("skills", {})
    for entry in lib["skills"]:
        slug = entry["slug"]
        src = library / slug
        dest = target_dir / slug
        key = str(dest.absolute())
        files = {p.relative_to(src).as_posix(): p.read_bytes() for p in sorted(src.rglob("*")) if p.is_file()}
        mine = skills.get(key)
        if dest.exists():
            current = {p.relative_to(dest).as_posix(): p.read_bytes() for p in sorted(dest.rglob("*")) if p.is_file()}
            if mine is None and not force:
                plan.notes.append(f"skill {slug}: {dest} exists and was not installed by zpa; left as it is "
                                  f"(use --force to replace it, or set skill_prefix in team.toml)")
                continue
            if mine is not None and {k: sha(v) for k, v in current.items()} != mine["files"] and not force:
                plan.notes.append(f"skill {slug}: {dest} was edited since zpa installed it; left as it is "
                                  f"(use --force to overwrite your edits)")
                continue
            for rel in sorted(set(current) - set(files)):
                plan.changes.append(Change(dest / rel, current[rel], None))
        for rel, data in files.items():
            before = (dest / rel).read_bytes() if (dest / rel).is_file() else None
            if before != data:
                plan.changes.append(Change(dest / rel, before, data, 0o644))
        skills[key] = {"slug": slug, "scope": scope, "project": str(root.resolve()) if scope == "project" else None,
                       "files": {k: sha(v) for k, v in files.items()}}
    if scope == "project":
        plan.notes.append("project skills load only in trusted worktrees: trust this folder in Zed")


# -- uninstall ---------------------------------------------------------------


def plan_uninstall(config_dir: Path, project: Path | None = None) -> Plan:
    """Undo what install recorded. With ``project``, only that project's skills."""
    manifest = read_manifest(config_dir)
    plan = Plan(manifest=manifest or None, manifest_path=config_dir / MANIFEST)
    if not manifest:
        plan.notes.append(f"nothing to uninstall: no {MANIFEST} in {config_dir}")
        plan.manifest_path = None
        return plan
    skills = manifest.get("skills", {})
    for key in list(skills):
        info = skills[key]
        if project is not None and info.get("project") != str(project.resolve()):
            continue
        dest = Path(key)
        if not dest.exists():
            del skills[key]
            continue
        current = {p.relative_to(dest).as_posix(): p.read_bytes() for p in sorted(dest.rglob("*")) if p.is_file()}
        if {k: sha(v) for k, v in current.items()} != info["files"]:
            plan.notes.append(f"skill {info['slug']}: {dest} was edited since install; kept")
        else:
            for rel, data in current.items():
                plan.changes.append(Change(dest / rel, data, None))
        del skills[key]
    if project is None and manifest.get("settings"):
        _plan_settings_removal(plan, manifest["settings"])
        manifest["settings"] = None
    if not manifest.get("settings") and not manifest.get("skills"):
        plan.manifest = None
    return plan


def _plan_settings_removal(plan: Plan, record: dict[str, Any]) -> None:
    path = Path(record["path"])
    backup = Path(record["backup"]) if record.get("backup") else None
    if not path.exists():
        plan.notes.append(f"{path} no longer exists; nothing to remove there")
        return
    current = path.read_bytes()
    if sha(current) == record.get("after_sha256"):
        # Untouched since install: put back exactly what was there.
        if record.get("created"):
            plan.changes.append(Change(path, current, None))
        elif backup is not None and backup.is_file():
            plan.changes.append(Change(path, current, backup.read_bytes(), path.stat().st_mode & 0o7777))
        else:
            _remove_profiles(plan, path, current, record)
    else:
        _remove_profiles(plan, path, current, record)
    if backup is not None and backup.is_file():
        plan.changes.append(Change(backup, backup.read_bytes(), None))


def _without_profile(text: str, path: Path, pid: str) -> tuple[str, bool]:
    """``text`` without the profile ``agent.profiles.<pid>``, and whether it was there."""
    root = jsonc.parse(text, str(path))
    agent = jsonc.find(root, "agent")
    prof = jsonc.find(agent.value, "profiles") if agent and agent.value.kind == "object" else None
    member = jsonc.find(prof.value, pid) if prof and prof.value.kind == "object" else None
    if member is None:
        return text, False
    return jsonc.remove_member(text, prof.value, member), True


def _remove_profiles(plan: Plan, path: Path, current: bytes, record: dict[str, Any]) -> None:
    text = current.decode("utf-8")
    for pid in record.get("profiles", {}):
        text, _ = _without_profile(text, path, pid)
    root = jsonc.parse(text, str(path))
    agent = jsonc.find(root, "agent")
    if agent is not None and agent.value.kind == "object":
        prof = jsonc.find(agent.value, "profiles")
        if record.get("created_profiles") and prof is not None and prof.value.kind == "object" and not prof.value.members:
            text = jsonc.remove_member(text, agent.value, prof)
            root = jsonc.parse(text, str(path))
            agent = jsonc.find(root, "agent")
        if record.get("created_agent") and agent is not None and agent.value.kind == "object" and not agent.value.members:
            text = jsonc.remove_member(text, root, agent)
    after = text.encode("utf-8")
    if after != current:
        plan.changes.append(Change(path, current, after, path.stat().st_mode & 0o7777))
        plan.notes.append(f"{path} was edited since install: removed only zpa's profiles, kept your edits")
