#!/usr/bin/env python3
"""The seed's ML demo: (Data Engineer || Model Architect) -> ML Engineer, whose
train.py is then compared with baseline/train.py by `zpa compare`.

    python scripts/ml_agents.py
    python scripts/ml_agents.py "Classify the digits with a small CNN" --compare-seeds 3

A thin wrapper over `zpa run ml`; every `zpa run` flag works.
"""

import sys

from zpa.cli import main

DEFAULT_TASK = ("Train a classifier for scikit-learn's bundled 8x8 digits (load_digits) that beats 97 % test "
                "accuracy on a CPU in a few seconds, following the baseline interface contract.")

if __name__ == "__main__":
    args = sys.argv[1:]
    task = args[0] if args and not args[0].startswith("-") else None
    flags = args[1:] if task else args
    main(["run", "ml", "--task", task or DEFAULT_TASK, *flags])
