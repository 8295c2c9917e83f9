#!/usr/bin/env python3
"""The seed's software demo: Architect -> (Developer || Reviewer) through the API.

    python scripts/agents.py "Add a per-user rate limiter to the API"
    python scripts/agents.py "..." --review-code --base-url http://localhost:11434 --model '*=qwen3:8b'

A thin wrapper over `zpa run software`; every `zpa run` flag works.
"""

import sys

from zpa.cli import main

DEFAULT_TASK = "Add a per-user rate limiter (100 requests per minute) to a small HTTP API."

if __name__ == "__main__":
    args = sys.argv[1:]
    task = args[0] if args and not args[0].startswith("-") else None
    flags = args[1:] if task else args
    main(["run", "software", "--task", task or DEFAULT_TASK, *flags])
