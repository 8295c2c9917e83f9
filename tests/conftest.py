from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

# A fake key that tests search for in every file written: it must never land anywhere.
SENTINEL = "sk-ant-SENTINEL-do-not-leak-1234567890"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def zpa(capsys):
    """Run the zpa CLI in-process, as a user would from a shell."""
    from zpa.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of this repo's role sources (no generated files yet)."""
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(REPO / "team.toml", root / "team.toml")
    shutil.copytree(REPO / "roles", root / "roles")
    if (REPO / "probes").is_dir():
        shutil.copytree(REPO / "probes", root / "probes")
    return root


@pytest.fixture
def rendered(project, zpa) -> Path:
    r = zpa("render", "--root", project)
    assert r.code == 0, r.err
    return project


@pytest.fixture
def api(monkeypatch):
    """A real local Anthropic-compatible server, with the sentinel key in the environment."""
    from support.server import FakeAnthropic

    monkeypatch.setenv("ANTHROPIC_API_KEY", SENTINEL)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A temp HOME (and no ZED_CONFIG_DIR): nothing touches the real one."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("ZED_CONFIG_DIR", raising=False)
    return h


@pytest.fixture(scope="session")
def rendered_once(tmp_path_factory) -> Path:
    """One rendered copy of the repo's sources for tests that only read it."""
    from zpa.render import render

    root = tmp_path_factory.mktemp("rendered") / "proj"
    root.mkdir()
    shutil.copy(REPO / "team.toml", root / "team.toml")
    shutil.copytree(REPO / "roles", root / "roles")
    render(root)
    return root
