"""ID repair candidates: every valid ID one substitution or adjacent transposition away."""

from __future__ import annotations

import random

import polars as pl

from pipelines.matching.repair import checksum_neighbours, legacy_neighbours
from tests.matching.builders import check_char, make_id, substitute, transpose


def _valid(id_number: str) -> bool:
    return id_number[:17].isdigit() and check_char(id_number[:17]) == id_number[17]


def _brute_force(id_number: str) -> set[str]:
    found = set()
    for position in range(18):
        for char in "0123456789X":
            candidate = substitute(id_number, position, char)
            if candidate != id_number and _valid(candidate):
                found.add(candidate)
    for position in range(17):
        candidate = transpose(id_number, position)
        if candidate != id_number and _valid(candidate):
            found.add(candidate)
    return found


def _neighbours(id_number: str) -> set[str]:
    frame = checksum_neighbours(pl.Series([1], dtype=pl.Int64), pl.Series([id_number]))
    return set(frame["neighbour"])


def test_every_single_typo_is_repairable_and_nothing_else_is_proposed() -> None:
    rng = random.Random(3)
    for _ in range(400):
        true_id = make_id(f"{rng.randint(1940, 2010)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}",
                          rng.randint(0, 999))  # fmt: skip
        if rng.random() < 0.5:
            position = rng.randrange(18)
            typo = substitute(
                true_id, position, rng.choice("0123456789".replace(true_id[position], ""))
            )
        else:
            position = rng.randrange(17)
            typo = transpose(true_id, position)
        if typo == true_id:
            continue
        neighbours = _neighbours(typo)
        assert true_id in neighbours
        assert neighbours == _brute_force(typo)


def test_check_character_x_swapped_into_the_body() -> None:
    true_id = next(
        make_id("19800101", s) for s in range(1000) if make_id("19800101", s).endswith("X")
    )
    assert true_id in _neighbours(transpose(true_id, 16))


def test_valid_and_malformed_ids_propose_nothing() -> None:
    frame = checksum_neighbours(
        pl.Series([1, 2, 3], dtype=pl.Int64),
        pl.Series([make_id("19700101", 11), "34150219700101", None]),
    )
    assert frame.height == 0


def test_legacy_neighbours_cover_a_typo_in_the_15_digit_number() -> None:
    true_id = make_id("19790813", 697, area="110223")
    legacy_typo = substitute(true_id, 9, "1" if true_id[9] != "1" else "2")
    converted = legacy_typo[:17] + check_char(legacy_typo[:17])
    frame = legacy_neighbours(pl.Series([7], dtype=pl.Int64), pl.Series([converted]))
    assert true_id in set(frame["neighbour"])
    assert converted not in set(frame["neighbour"])
    assert all(_valid(n) for n in frame["neighbour"])
