"""Token usage and cost, from the dated price table in zpa/data/prices.toml."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from zpa.errors import ZpaError

DEFAULT_MIN_CACHE_TOKENS = 4096


@dataclass
class Usage:
    """Tokens of one call. ``input`` excludes cached tokens, as the API reports it."""

    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(self.input + other.input, self.output + other.output,
                     self.cache_write + other.cache_write, self.cache_read + other.cache_read)

    @property
    def total_input(self) -> int:
        return self.input + self.cache_write + self.cache_read

    def as_dict(self) -> dict[str, int]:
        return {"input": self.input, "output": self.output, "cache_write": self.cache_write, "cache_read": self.cache_read}

    @classmethod
    def from_api(cls, usage: Any) -> "Usage":
        get = (lambda k: usage.get(k)) if isinstance(usage, dict) else (lambda k: getattr(usage, k, None))
        return cls(int(get("input_tokens") or 0), int(get("output_tokens") or 0),
                   int(get("cache_creation_input_tokens") or 0), int(get("cache_read_input_tokens") or 0))


@cache
def price_table() -> dict[str, Any]:
    override = os.environ.get("ZPA_PRICES")
    try:
        if override:
            text = Path(override).read_text(encoding="utf-8")
        else:
            text = resources.files("zpa").joinpath("data", "prices.toml").read_text(encoding="utf-8")
        return tomllib.loads(text)
    except OSError as exc:
        raise ZpaError(f"cannot read the price table: {exc.strerror}", file=override) from None
    except tomllib.TOMLDecodeError as exc:
        raise ZpaError(f"price table is not valid TOML: {exc}", file=override or "zpa/data/prices.toml") from None


def model_prices(model: str) -> dict[str, Any] | None:
    models = price_table().get("models", {})
    if model in models:
        return models[model]
    base = re.sub(r"-(\d{8}|latest)$", "", model)  # dated snapshots price like their family
    return models.get(base)


def min_cache_tokens(model: str) -> int:
    p = model_prices(model) or {}
    return int(p.get("min_cache_tokens", DEFAULT_MIN_CACHE_TOKENS))


def cost_usd(model: str, usage: Usage, *, batch: bool = False, cache_ttl: str = "5m") -> float | None:
    """Cost of one call, or None when the model has no price (never a guess)."""
    p = model_prices(model)
    if p is None:
        return None
    table = price_table()
    inp, out = float(p["input"]), float(p["output"])
    for tier in p.get("tiers", []):
        if usage.total_input > int(tier["above_input_tokens"]):
            inp, out = float(tier["input"]), float(tier["output"])
    mult = table.get("cache", {})
    write_mult = float(mult.get("write_1h" if cache_ttl == "1h" else "write_5m", 1.25))
    read_price = float(p["cache_read"]) if "cache_read" in p else inp * float(mult.get("read", 0.1))
    total = (usage.input * inp + usage.cache_write * inp * write_mult + usage.cache_read * read_price
             + usage.output * out) / 1_000_000
    if batch:
        total *= float(table.get("batch", {}).get("discount", 0.5))
    return round(total, 8)


def worst_case_cost(model: str, input_tokens: int, max_tokens: int, *, batch: bool = False) -> float | None:
    """Upper bound on a call's cost before it starts: all input uncached (or written to cache), full max_tokens."""
    return cost_usd(model, Usage(input=0, output=max_tokens, cache_write=input_tokens), batch=batch)


def approx_tokens(text: str) -> int:
    """A middle-of-the-road estimate (~4 characters a token) for persona sizes and cache thresholds."""
    return len(text) // 4


def estimate_tokens(text: str) -> int:
    """A deliberately generous token estimate (~3 characters a token) for budgets and cache thresholds."""
    return (len(text) + 2) // 3
