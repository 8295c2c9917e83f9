"""`zpa init`: bring the kit's role sources into a project, never overwriting."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from zpa.errors import ZpaError

KIT_ITEMS = ("team.toml", "roles", "probes")


def kit_source() -> Path:
    """Where the default sources live: inside the installed wheel (zpa/kit), or
    at the repository root for an editable install of the kit itself."""
    packaged = Path(str(resources.files("zpa").joinpath("kit")))
    if (packaged / "team.toml").is_file():
        return packaged
    repo = Path(__file__).resolve().parents[2]
    if (repo / "team.toml").is_file() and (repo / "roles").is_dir():
        return repo
    raise ZpaError("the kit's default role sources are missing from this installation",
                   hint="reinstall zed-parallel-agents")


@dataclass
class InitResult:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def init(target: Path | str) -> InitResult:
    """Copy team.toml, roles/ and probes/ into ``target``; existing files stay."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise ZpaError("not a directory", file=str(target))
    target.mkdir(parents=True, exist_ok=True)
    src = kit_source()
    result = InitResult()
    for item in KIT_ITEMS:
        s = src / item
        if s.is_file():
            _copy(s, target / item, item, result)
        elif s.is_dir():
            for f in sorted(p for p in s.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                rel = f.relative_to(src).as_posix()
                _copy(f, target / rel, rel, result)
    return result


def _copy(src: Path, dst: Path, rel: str, result: InitResult) -> None:
    if dst.exists() or dst.is_symlink():
        result.kept.append(rel)
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    result.created.append(rel)
