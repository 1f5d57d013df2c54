"""Digests of the code a stored result was computed by: a change to that code changes the
fingerprint of every result it made, so nothing computed by older code is reused (staged rows
and keyed members: pipelines/staging.py; ties: pipelines/linkage.py; warnings:
pipelines/evaluation.py)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@functools.cache
def code_digest(patterns: tuple[str, ...]) -> bytes:
    """sha256 over the path and bytes of every file of the package matching `patterns`."""
    digest = hashlib.sha256()
    for pattern in patterns:
        for path in sorted(PACKAGE.glob(pattern)):
            digest.update(path.relative_to(PACKAGE).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.digest()
