"""The mess profiles of `fangfan generate --messy [normal|heavy|wild]`.

- normal: the generator's own messes at their rates (bare `--messy`; unchanged output).
- heavy: the same messes at about 2.5× their rates (heavy.py); the generator still judges every
  record's recoverability, so the truth stays right.
- wild: an independent second opinion on how clerks fill files (district.py).
"""

from __future__ import annotations

from pathlib import Path

PROFILES = ("normal", "heavy", "wild")


def mess_profile(messy: bool | str | None) -> str:
    """'' (clean) or one of PROFILES; True is 'normal'."""
    if messy is None or messy is False or messy == "":
        return ""
    if messy is True:
        return "normal"
    if messy in PROFILES:
        return str(messy)
    raise ValueError(f"messy must be one of {', '.join(PROFILES)}, got {messy!r}")


def generate_profile(profile: str, out: Path, months: list[str], members: int, seed: int) -> dict:
    """heavy and wild (normal and clean are the generator's own modes)."""
    from .. import core

    if profile == "heavy":
        from .heavy import heavy_rates

        with heavy_rates():
            summary = core.generate(out, months, members=members, seed=seed, messy=True)
        summary["messy"] = "heavy"
        return summary
    if profile == "wild":
        from .district import generate_wild

        return generate_wild(out, months, members, seed)
    raise ValueError(f"no such profile here: {profile!r}")
