#!/usr/bin/env python3
"""Benchmark the DAG runner against the local Anthropic-compatible test server.

Injected latencies (seconds per call, by model): Architect/Opus 1.0,
Developer/Sonnet 2.0, Reviewer/Haiku 1.5 — so one `software` pipeline has a
critical path of 3.0 s and a serial sum of 4.5 s. For 1, 8 and 64 concurrent
pipelines (concurrency bound 3 x N) it reports wall time, mean and minimum
per-pipeline efficiency (critical path / wall), parallel speed-up (sum / wall)
and throughput.

Usage: python scripts/bench_pipeline.py [--sizes 1 8 64] [--latency-scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zpa.llm import LLM, LLMConfig
from zpa.pipeline import run_many
from zpa.team import load_team

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--latency-scale", type=float, default=1.0)
    args = ap.parse_args()
    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-bench-not-a-key")
    k = args.latency_scale
    team = load_team(REPO)
    print(f"software pipeline, injected latency architect {1.0 * k:g} s, developer {2.0 * k:g} s, reviewer {1.5 * k:g} s;"
          f" {os.cpu_count()} CPUs")
    print(f"{'pipelines':>9} {'wall s':>8} {'eff mean':>9} {'eff min':>8} {'sum/wall':>9} {'pipelines/s':>12}")
    # The server runs in its own process, so it does not compete with the runner for the GIL.
    server = subprocess.Popen([sys.executable, str(REPO / "tests/support/server.py"),
                               "--latency", f"claude-opus-4-8={1.0 * k}", "--latency", f"claude-sonnet-4-6={2.0 * k}",
                               "--latency", f"claude-haiku-4-5={1.5 * k}"], stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bench(team, url, args.sizes, Path(tmp))
    finally:
        server.terminate()
        server.wait(10)


def bench(team, url: str, sizes: list[int], tmp: Path) -> None:
    for n in sizes:
        cfg = LLMConfig(base_url=url, concurrency=3 * n)

        async def go() -> tuple[list[dict], float]:
            async with LLM(cfg) as llm:
                t = time.perf_counter()
                records = await run_many(team, "software", [f"feature {i}" for i in range(n)], llm, tmp / f"n{n}", {}, set())
                return records, time.perf_counter() - t

        records, wall = asyncio.run(go())
        effs = [r["efficiency"] for r in records]
        speedup = sum(r["sum_s"] for r in records) / wall
        assert all(r["status"] == "ok" for r in records), [r["status"] for r in records]
        print(f"{n:>9} {wall:>8.2f} {statistics.fmean(effs):>9.3f} {min(effs):>8.3f} {speedup:>9.2f} {n / wall:>12.2f}")


if __name__ == "__main__":
    main()
