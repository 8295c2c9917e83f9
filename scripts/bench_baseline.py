#!/usr/bin/env python3
"""Train the baseline over several seeds and report accuracy and time (mean ± std).

Usage: python scripts/bench_baseline.py [--seeds 5] [-- extra baseline flags, e.g. --model cnn]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    args = sys.argv[1:]
    seeds = 5
    if args[:1] == ["--seeds"]:
        seeds, args = int(args[1]), args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            out = Path(tmp) / str(seed)
            subprocess.run([sys.executable, str(REPO / "baseline/train.py"), "--seed", str(seed), "--out", str(out),
                            "--quiet", *args], check=True)
            m = json.loads((out / "metrics.json").read_text())
            rows.append(m)
            print(f"seed {seed}: test_accuracy {m['test_accuracy']:.4f}  train_seconds {m['train_seconds']:.3f}"
                  f"  samples/s {m['samples_per_second']:.0f}  peak_rss_mb {m['peak_rss_mb']}")
    for key in ("test_accuracy", "train_seconds", "samples_per_second"):
        vals = [r[key] for r in rows]
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print(f"{key}: {statistics.fmean(vals):.4f} ± {sd:.4f} (n={len(vals)}, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
