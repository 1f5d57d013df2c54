"""What `make setup` leaves behind: a venv whose installed packages start without compiling."""

import importlib.util
import sys
from pathlib import Path

import pytest

# the packages every `fangfan run` imports before its first step (dagster's storage pulls in
# sqlalchemy and alembic when the instance is made)
STARTUP_PACKAGES = ("dagster", "sqlalchemy", "alembic", "pandera", "polars", "duckdb")


def _made_by_uv() -> bool:
    return (Path(sys.prefix) / "pyvenv.cfg").read_text(encoding="utf-8").find("uv = ") >= 0


@pytest.mark.skipif(
    sys.prefix == sys.base_prefix or not _made_by_uv(), reason="not the venv `make setup` builds"
)
@pytest.mark.parametrize("package", STARTUP_PACKAGES)
def test_installed_packages_carry_their_bytecode(package):
    """Where PYTHONDONTWRITEBYTECODE is set (CI, this kind of machine) Python never writes a
    .pyc: a venv installed without bytecode compiles ~650 modules from source at every start
    (2.9 s of each run). `make setup` has uv compile them once, at install (UV_COMPILE_BYTECODE)."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin
    cached = Path(importlib.util.cache_from_source(spec.origin))
    assert cached.is_file(), f"{package} installed without bytecode: {cached} missing"
