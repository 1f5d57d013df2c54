"""ID rules: checksum, 15→18, masking, and the classification of every mess a department sends."""

from __future__ import annotations

import random
import time
from datetime import date

import polars as pl
import pytest

from pipelines.matching import ids
from tests.ingest.builders import id_ending_000, make_id


@pytest.mark.parametrize(
    "value", ["360426199101010071", "120103198806018241", "230306196304054513"]
)
def test_public_vectors_are_valid(value: str) -> None:
    assert ids.is_valid_id(value)
    assert ids.checksum_char(value[:17]) == value[17]


@pytest.mark.parametrize("value", ["360426199101010072", "230307196304054513"])
def test_public_vectors_fail_the_checksum(value: str) -> None:
    assert not ids.is_valid_id(value)


def test_checksum_char_needs_17_digits() -> None:
    with pytest.raises(ValueError):
        ids.checksum_char("3604261991010100")


def test_15_digit_legacy_id_converts() -> None:
    assert ids.convert_15_to_18("110223790813697") == "110223197908136972"
    assert ids.is_valid_id(ids.convert_15_to_18("110223790813697"))


def test_birth_date_from_id() -> None:
    assert ids.birth_date_from_id("360426199101010071") == date(1991, 1, 1)
    assert ids.birth_date_from_id("110223790813697") == date(1979, 8, 13)
    assert ids.birth_date_from_id("360426199113010071") is None


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("34150219900101123X", "341502********123X"),
        ("110223790813697", "110223******697"),
        # a 残疾人证号's tail is its category and grade: only the area shows
        ("34150219900101123X11", "341502**************"),
        ("12345678", "12****78"),
        ("123", "***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_never_shows_more_than_the_area_and_tail(value: str | None, masked: str) -> None:
    assert ids.mask_id(value) == masked


def _one(raw: str | None) -> dict:
    return ids.normalise_ids(pl.Series([raw], dtype=pl.String)).row(0, named=True)


X_ID = "34150219900101005X"  # synthetic, valid, check character X


@pytest.mark.parametrize(
    ("raw", "status", "number"),
    [
        ("360426199101010071", "valid", "360426199101010071"),
        (X_ID.lower(), "valid", X_ID),
        (X_ID, "valid", X_ID),
        (" 360426199101010071 ", "valid", "360426199101010071"),
        ("３６０４２６１９９１０１０１００７１", "valid", "360426199101010071"),
        ("'360426199101010071", "valid", "360426199101010071"),
        ('"360426199101010071"', "valid", "360426199101010071"),
        ("“360426199101010071”", "valid", "360426199101010071"),
        ("360426\u00a0199101010071", "valid", "360426199101010071"),
        ("3604261991\u200b01010071", "valid", "360426199101010071"),
        ("360426 1991 0101 0071", "valid", "360426199101010071"),
        ("360426199101010071.0", "valid", "360426199101010071"),
        ("G360426199101010071", "valid", "360426199101010071"),
        ("110223790813697", "converted15", "110223197908136972"),
        ("36042619910101007100", "disability20", "360426199101010071"),
        ("360426199101010071123", "disability20", "360426199101010071"),
        ("360426199101010072", "bad_checksum", "360426199101010072"),
        ("360426199113010071", "bad_date", None),
        ("360426209901010071", "bad_date", None),  # born in the future
        ("3.60426E+17", "destroyed", None),
        ("3.60426199101010E+17", "destroyed", None),
        ("3.60426199101010E+017", "destroyed", None),  # as a LibreOffice CSV writes it
        ("341502199001011000", "destroyed", None),
        ("无", "missing", None),
        ("/", "missing", None),
        ("—", "missing", None),
        ("0", "missing", None),
        ("", "missing", None),
        (None, "missing", None),
        ("不详", "missing", None),
        ("L3415021029650983", "invalid", None),
        ("12345", "invalid", None),
    ],
)
def test_every_id_mess_is_classified(raw: str | None, status: str, number: str | None) -> None:
    result = _one(raw)
    assert result["id_status"] == status
    assert result["id_number"] == number


def test_destroyed_scientific_keeps_area_and_birth_where_they_survive() -> None:
    # six digits shown, the sixth rounded for display: the area may be 341501 or 341502
    short = _one("3.41502E+17")
    assert short["id_area"] is None and short["id_birth"] is None
    seven = _one("3.415021E+17")
    assert seven["id_area"] == "341502" and seven["id_birth"] is None
    long = _one("3.41502199001011E+17")
    assert long["id_area"] == "341502" and long["id_birth"] == date(1990, 1, 1)
    assert _one("3.41502199001011E+017") == long  # LibreOffice's three-digit exponent
    legacy = _one("1.10223790813697E+14")
    assert legacy["id_status"] == "destroyed" and legacy["id_birth"] == date(1979, 8, 13)


def test_rounded_id_keeps_area_and_birth_but_no_number() -> None:
    result = _one("341502199001011000")
    assert result == {
        "id_number": None,
        "id_status": "destroyed",
        "id_birth": date(1990, 1, 1),
        "id_area": "341502",
        "id_prefix": "34150219900101",
    }


def test_rounded_id_whose_last_kept_digit_is_zero_keeps_no_birth_date() -> None:
    # 3415021990010109|95xx rounds to …0110|000: the carry moved the day, so it is not trusted
    result = _one("341502199001010000")
    assert result["id_status"] == "destroyed" and result["id_birth"] is None
    # what is certain still says who could hold it: born in January 1990, on day 1–9 or so
    assert result["id_prefix"] == "3415021990010"


def test_a_destroyed_ids_prefix_is_every_certain_digit_as_an_18_digit_start() -> None:
    # the sixth digit may have been rounded up (34150[12]): the five before it are certain
    assert _one("3.41502E+17")["id_prefix"] == "34150"
    assert _one("3.42402E+14")["id_prefix"] == "34240"  # a legacy number from 342401
    assert _one("3.4E+17")["id_prefix"] is None  # no province code is certain
    assert _one("3.415021E+17")["id_prefix"] == "341502"
    assert _one("3.41502199001011E+17")["id_prefix"] == "34150219900101"
    # a legacy 15-digit number: its year gets its 19
    assert _one("1.10223790813697E+14")["id_prefix"] == "1102231979081369"
    assert _one("341502198604280000")["id_prefix"] == "3415021986042"
    # usable IDs need none: their number is compared whole
    assert _one("341502200711019759")["id_prefix"] is None


def test_real_id_ending_000_is_valid_in_a_clean_column() -> None:
    real = id_ending_000()
    frame = ids.normalise_ids(pl.Series([real, make_id(), make_id()]))
    assert frame["id_status"].to_list() == ["valid", "valid", "valid"]
    assert frame["id_number"][0] == real


def test_id_ending_000_is_destroyed_where_its_file_shows_excel_damage() -> None:
    lucky = id_ending_000(date(1985, 6, 1))  # a rounded ID whose checksum holds by chance
    values = pl.Series([lucky, "3.41502E+17", make_id(), lucky, make_id()])
    groups = pl.Series([1, 1, 1, 2, 2])
    frame = ids.normalise_ids(values, groups=groups)
    assert frame["id_status"].to_list() == ["destroyed", "destroyed", "valid", "valid", "valid"]
    marked = ids.normalise_ids(pl.Series([lucky]), damaged=pl.Series([True]))
    assert marked["id_status"][0] == "destroyed" and marked["id_number"][0] is None


def test_expression_form_matches_the_series_form() -> None:
    raw = ["360426199101010071", "3.41502E+17", "110223790813697", None]
    frame = pl.DataFrame({"raw": raw}).select(ids.normalise_id_expr("raw").alias("id"))
    assert frame.unnest("id").to_dicts() == ids.normalise_ids(pl.Series(raw)).to_dicts()


@pytest.mark.slow  # a wall-clock bound: flaky on a busy CI machine, so out of the default suite
def test_normalising_a_large_column_is_vectorised() -> None:
    rng = random.Random(7)
    values = [
        make_id(date(1950 + rng.randrange(60), 1 + rng.randrange(12), 1)) for _ in range(1000)
    ]
    column = pl.Series(values * 200)  # 200k rows
    started = time.perf_counter()
    frame = ids.normalise_ids(column)
    elapsed = time.perf_counter() - started
    assert frame["id_status"].eq("valid").all()
    assert elapsed < 2.0, f"200k IDs took {elapsed:.2f}s"


@pytest.mark.slow
def test_a_million_ids_normalise_in_under_two_seconds() -> None:
    column = pl.Series([make_id() for _ in range(10_000)] * 100)
    started = time.perf_counter()
    ids.normalise_ids(column)
    assert time.perf_counter() - started < 2.0
