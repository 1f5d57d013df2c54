"""Digests of the code a stored result was computed by: a change to that code, or to a library
it computes with, changes the fingerprint of every result it made, so nothing computed by older
code is reused (staged rows and keyed members: pipelines/staging.py; ties: pipelines/linkage.py;
warnings: pipelines/evaluation.py)."""

from __future__ import annotations

import functools
import hashlib
import sys
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# the libraries whose behaviour the results depend on: reading cells, SQL, names, spellings
LIBRARIES = ("duckdb", "polars", "pyarrow", "fastexcel", "opencc", "pypinyin")


@functools.cache
def code_digest(patterns: tuple[str, ...]) -> bytes:
    """sha256 over the path and bytes of every file of the package matching `patterns`, and the
    versions of Python and of the LIBRARIES."""
    digest = hashlib.sha256(repr((sys.version_info[:3], library_versions())).encode())
    for pattern in patterns:
        for path in sorted(PACKAGE.glob(pattern)):
            digest.update(path.relative_to(PACKAGE).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.digest()


def library_versions() -> tuple[tuple[str, str], ...]:
    return tuple((name, metadata.version(name)) for name in LIBRARIES)
