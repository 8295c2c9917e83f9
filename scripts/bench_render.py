#!/usr/bin/env python3
"""Benchmark `zpa render` against peer rule generators, side by side.

Each tool gets its own temp project with six equivalent rule files (this
repo's six role personas). Runs are interleaved (zpa, ruler, rulesync, zpa,
...) so machine load hits all of them alike; medians of --runs runs.

zpa is measured three ways:
  unchanged  sources and outputs match the manifest (the common `zpa render`)
  edited     one persona body changed since the last render (a real regenerate)
  cold       no generated files and no manifest (first render, full validation)

Usage: python scripts/bench_render.py [--runs 10] [--ruler PATH] [--rulesync PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def find(name: str, explicit: str | None) -> str | None:
    if explicit:
        return explicit
    for cand in (shutil.which(name), f"/tmp/{name}/node_modules/.bin/{name}", str(REPO / "node_modules/.bin" / name)):
        if cand and Path(cand).is_file():
            return cand
    return None


def zpa_cmd(root: Path) -> list[str]:
    exe = Path(sys.executable).with_name("zpa")
    return [str(exe) if exe.exists() else "zpa", "render", "--root", str(root)]


def timed(cmd: list[str], cwd: Path, before=None) -> float:
    if before:
        before()
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--ruler")
    ap.add_argument("--rulesync")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="zpa-bench-"))
    zroot = tmp / "zpa"
    zroot.mkdir()
    shutil.copy(REPO / "team.toml", zroot)
    shutil.copytree(REPO / "roles", zroot / "roles")
    subprocess.run(zpa_cmd(zroot), check=True, stdout=subprocess.DEVNULL)
    persona = zroot / "roles/architect.md"
    original = persona.read_text()
    flip = {"n": 0}

    def edit_body() -> None:
        flip["n"] += 1
        persona.write_text(original + f"\n<!-- edit {flip['n']} -->\n")

    def wipe_outputs() -> None:
        for rel in (".rules", "thread-rules", "rules-library", "zed-settings", ".zpa"):
            p = zroot / rel
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    cases: dict[str, tuple[list[str], Path, object]] = {
        "zpa render (unchanged)": (zpa_cmd(zroot), zroot, None),
        "zpa render (edited)": (zpa_cmd(zroot), zroot, edit_body),
        "zpa render (cold)": (zpa_cmd(zroot), zroot, wipe_outputs),
    }
    bodies = {p.stem: (zroot / "rules-library" / p.stem / "SKILL.md").read_text().split("\n---\n", 1)[1]
              for p in sorted((zroot / "roles").glob("*.md"))}
    ruler = find("ruler", args.ruler)
    if ruler:
        rroot = tmp / "ruler"
        (rroot / ".ruler").mkdir(parents=True)
        for name, body in bodies.items():
            (rroot / ".ruler" / f"{name}.md").write_text(body)
        subprocess.run(["git", "init", "-q"], cwd=rroot, check=False)
        cases["ruler apply --agents zed"] = ([ruler, "apply", "--agents", "zed", "--no-gitignore"], rroot, None)
    rulesync = find("rulesync", args.rulesync)
    if rulesync:
        sroot = tmp / "rulesync"
        (sroot / ".rulesync/rules").mkdir(parents=True)
        for name, body in bodies.items():
            (sroot / ".rulesync/rules" / f"{name}.md").write_text(f"---\ntargets: ['*']\n---\n{body}")
        cases["rulesync generate"] = ([rulesync, "generate", "--targets", "agentsmd", "--features", "rules"], sroot, None)

    for cmd, cwd, before in cases.values():  # warm caches once
        timed(cmd, cwd, before)
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.runs):
        for name, (cmd, cwd, before) in cases.items():
            samples[name].append(timed(cmd, cwd, before))
    persona.write_text(original)

    medians = {k: statistics.median(v) for k, v in samples.items()}
    print(f"medians of {args.runs} interleaved runs, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for name, m in medians.items():
        print(f"  {name:<28} {m * 1000:7.1f} ms")
    ref = medians.get("ruler apply --agents zed")
    if ref:
        for name in [k for k in medians if k.startswith("zpa")]:
            print(f"  ratio {name} / ruler: {medians[name] / ref:.2f}")
    else:
        print("  ruler not found: npm i @intellectronica/ruler@0.3.44 (or pass --ruler PATH) for the ratio")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
