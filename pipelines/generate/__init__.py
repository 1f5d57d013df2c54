"""Synthetic district generator: raw department extracts with planted rule signals, and their ground truth."""

from __future__ import annotations

from pathlib import Path

from . import core
from .wild import generate_profile, mess_profile


def generate(
    out: Path, months: list[str], members: int = 20_000, seed: int = 1, messy: bool | str = False
) -> dict:
    """A synthetic district in `out` (core.generate), messed as `messy` says: False (clean), True
    or "normal" (the generator's own messes), "heavy" or "wild" (wild/profiles.py)."""
    profile = mess_profile(messy)
    if profile in ("heavy", "wild"):
        return generate_profile(profile, out, months, members, seed)
    return core.generate(out, months, members=members, seed=seed, messy=profile == "normal")


__all__ = ["generate"]
