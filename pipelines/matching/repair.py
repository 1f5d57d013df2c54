"""ID repair candidates: the valid ID numbers one substitution or one adjacent transposition away."""

from __future__ import annotations

import numpy as np
import polars as pl

# GB 11643-1999, ISO 7064 MOD 11-2: weights of positions 1–17 and the check character by S mod 11.
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = b"10X98765432"
# Multiplicative inverse of each weight modulo 11 (11 is prime, every weight is invertible):
# it turns "which digit at position i makes the checksum right" into one multiplication.
_INVERSE = np.array([pow(int(w), -1, 11) for w in WEIGHTS], dtype=np.int64)
_CHECK_VALUE = np.full(256, -1, dtype=np.int64)
for _value, _char in enumerate(CHECK_CHARS):
    _CHECK_VALUE[_char] = _value
_ZERO = ord("0")


def _well_formed(
    keys: pl.Series, id_numbers: pl.Series, pattern: str
) -> tuple[np.ndarray, np.ndarray]:
    ok = id_numbers.cast(pl.String).str.contains(pattern).fill_null(False)
    kept = id_numbers.filter(ok).cast(pl.String).to_list()
    ids = np.array(kept, dtype="S18").view(np.uint8).reshape(-1, 18)
    return keys.filter(ok).to_numpy(), ids


def _frame(keys: list[np.ndarray], rows: list[np.ndarray]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema={"key": pl.Int64, "neighbour": pl.String})
    neighbours = np.concatenate(rows).view("S18").ravel().astype("U18")
    return pl.DataFrame(
        {"key": np.concatenate(keys).astype(np.int64), "neighbour": pl.Series(neighbours)}
    )


def checksum_neighbours(keys: pl.Series, id_numbers: pl.Series) -> pl.DataFrame:
    """For 18-character IDs whose check character fails, every ID with a correct check character
    that is one substitution or one adjacent transposition away.

    MOD 11-2 catches every single substitution and every adjacent transposition, so a typo'd
    ID always fails its check and, at each position, at most one digit repairs it: the search
    space is ~35 candidates per ID instead of ~170. Returns `key, neighbour`.
    """
    key_values, ids = _well_formed(keys, id_numbers, r"^[0-9X]{18}$")
    # X counts as 10 so that an X typed into the body (or swapped there from the check
    # position) can be repaired like any other character.
    values = np.where(ids == ord("X"), 10, ids.astype(np.int64) - _ZERO)
    body = values[:, :17]
    check = _CHECK_VALUE[ids[:, 17]]
    body_x = (body == 10).sum(axis=1)
    total = body @ WEIGHTS
    keep = (body_x <= 1) & ((total % 11) != check)
    key_values, ids, body, check, body_x, total = (
        key_values[keep],
        ids[keep],
        body[keep],
        check[keep],
        body_x[keep],
        total[keep],
    )
    check_chars = np.frombuffer(CHECK_CHARS, dtype=np.uint8)
    out_keys: list[np.ndarray] = []
    out_rows: list[np.ndarray] = []

    def emit(ok: np.ndarray, rows: np.ndarray) -> None:
        out_keys.append(key_values[ok])
        out_rows.append(rows)

    for i in range(17):
        current = body[:, i]
        rest = total - current * WEIGHTS[i]
        digit = ((check - rest) * _INVERSE[i]) % 11
        ok = (digit <= 9) & (digit != current) & (body_x - (current == 10) == 0)
        rows = ids[ok].copy()
        rows[:, i] = digit[ok] + _ZERO
        emit(ok, rows)

    clean = body_x == 0
    rows = ids[clean].copy()
    rows[:, 17] = check_chars[total[clean] % 11]
    emit(clean, rows)

    for i in range(16):
        a, b = body[:, i], body[:, i + 1]
        swapped = total - a * WEIGHTS[i] - b * WEIGHTS[i + 1] + b * WEIGHTS[i] + a * WEIGHTS[i + 1]
        ok = clean & (a != b) & ((swapped % 11) == check)
        rows = ids[ok].copy()
        rows[:, [i, i + 1]] = rows[:, [i + 1, i]]
        emit(ok, rows)

    # The last body character swapped with the check character (`…X7` for `…7X`).
    last = body[:, 16]
    new_last = np.where(check >= 0, ids[:, 17].astype(np.int64) - _ZERO, -1)
    swapped = total - last * WEIGHTS[16] + new_last * WEIGHTS[16]
    ok = (
        (body_x - (last == 10) == 0)
        & (new_last >= 0)
        & (new_last <= 9)
        & (_CHECK_VALUE[ids[:, 16]] == swapped % 11)
        & (ids[:, 16] != ids[:, 17])
    )
    rows = ids[ok].copy()
    rows[:, [16, 17]] = rows[:, [17, 16]]
    emit(ok, rows)

    return _frame(out_keys, out_rows)


def legacy_neighbours(keys: pl.Series, id_numbers: pl.Series) -> pl.DataFrame:
    """For IDs converted from 15-digit legacy numbers (no check digit, so a typo passes
    unnoticed): the 18-character forms of every 15-digit number one substitution or one
    adjacent transposition away from the original. Returns `key, neighbour`.
    """
    key_values, ids = _well_formed(keys, id_numbers, r"^[0-9]{6}19[0-9]{9}[0-9X]$")
    legacy = np.concatenate([ids[:, :6], ids[:, 8:17]], axis=1)
    out_keys: list[np.ndarray] = []
    variants: list[np.ndarray] = []
    for i in range(15):
        for digit in range(10):
            ok = legacy[:, i] != digit + _ZERO
            rows = legacy[ok].copy()
            rows[:, i] = digit + _ZERO
            out_keys.append(key_values[ok])
            variants.append(rows)
    for i in range(14):
        ok = legacy[:, i] != legacy[:, i + 1]
        rows = legacy[ok].copy()
        rows[:, [i, i + 1]] = rows[:, [i + 1, i]]
        out_keys.append(key_values[ok])
        variants.append(rows)
    if not variants:
        return _frame([], [])
    legacy_rows = np.concatenate(variants)
    century = np.full((legacy_rows.shape[0], 2), [ord("1"), ord("9")], dtype=np.uint8)
    body = np.concatenate([legacy_rows[:, :6], century, legacy_rows[:, 6:]], axis=1)
    total = (body.astype(np.int64) - _ZERO) @ WEIGHTS
    check = np.frombuffer(CHECK_CHARS, dtype=np.uint8)[total % 11][:, None]
    return _frame(out_keys, [np.concatenate([body, check], axis=1)])
