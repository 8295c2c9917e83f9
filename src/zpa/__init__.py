"""zed-parallel-agents: one source of role definitions for Zed threads and API agents."""

__version__ = "0.1.0"
