"""Mess profiles beyond the generator's own: `heavy` (its messes, more often) and `wild` (an
independent writer of the same district in other clerks' habits). See profiles.py."""

from .profiles import PROFILES, generate_profile, mess_profile

__all__ = ["PROFILES", "generate_profile", "mess_profile"]
