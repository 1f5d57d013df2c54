"""Every form an ID cell arrives in: raw cell -> (id_status, id_number, id_birth, id_area).

The table lists what clerks and Excel do to an ID; the properties below check, on generated
IDs, that whatever survives of a destroyed ID is true (never a wrong area or birth date), and
that the vectorised checksum agrees with an independent formula (python-stdnum's cn.ric:
check = (1 - 2·int(body, 13)) mod 11).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest

from pipelines.matching import ids

V = "360426199101010071"  # public test vector, valid
V_BIRTH, V_AREA = date(1991, 1, 1), "360426"
X_ID = "34150219900101005X"  # synthetic, valid, check character X
X_BIRTH = date(1990, 1, 1)
LEGACY = "110223790813697"  # converts to 110223197908136972


def _valid(first17: str) -> str:
    return first17 + ids.checksum_char(first17)


# 1999-07-31 with order code 9xx: rounding the 16th digit up carries into the day (…0732)
CARRIED = "341502199907320000"
DISABILITY = V + "71"  # 残疾人证号: ID + category 7 + grade 1

VALID = ("valid", V, V_BIRTH, V_AREA)
VALID_X = ("valid", X_ID, X_BIRTH, "341502")

CASES: list[tuple[str | None, tuple[str, str | None, date | None, str | None]]] = [
    # clean, cased, spaced, full-width
    (V, VALID),
    (X_ID, VALID_X),
    (X_ID.lower(), VALID_X),
    (f" {V} ", VALID),
    (f"\u3000{V}\u3000", VALID),
    ("360426 1991 0101 0071", VALID),
    ("３６０４２６１９９１０１０１００７１", VALID),
    ("３４１５０２１９９００１０１００５Ｘ", VALID_X),
    # × typed for the check character X
    ("34150219900101005×", VALID_X),
    (" 34150219900101005× ", VALID_X),
    # invisible format characters around or inside
    (f"\u202a{V}\u202c", VALID),
    (f"\u202b{V}\u202c", VALID),
    (f"\u202d{V}\u202c", VALID),
    (f"\u202e{V}", VALID),
    (f"\u2066{V}\u2069", VALID),
    (f"\u2067{V}\u2069", VALID),
    (f"\u2068{V}\u2069", VALID),
    (f"{V[:6]}\u00ad{V[6:]}", VALID),
    (f"{V}\u00ad", VALID),
    (f"\u180e{V}", VALID),
    (f"{V[:10]}\u200b{V[10:]}", VALID),
    (f"{V}\u200c\u200d", VALID),
    (f"\u200e{V}\u200f", VALID),
    (f"\ufeff{V}", VALID),
    (f"{V[:3]}\u2060{V[3:]}", VALID),
    (f"\u061c{V}", VALID),
    # text protection and quotes
    (f"'{V}", VALID),
    (f"\t{V}", VALID),
    (f"{V}\t", VALID),
    (f'="{V}"', VALID),
    (f"＝＂{V}＂", VALID),
    (f"'{X_ID[:17]}×", VALID_X),
    (f'"{V}"', VALID),
    (f"“{V}”", VALID),
    (f"‘{V}’", VALID),
    (f"{V}.0", VALID),
    (f"G{V}", VALID),
    # hand-typed: a label before it, a note after it, hyphens between its parts
    (f"身份证号：{V}", VALID),
    (f"身份证:{V}", VALID),
    (f"ID {V}", VALID),
    (f"{V}（户主）", VALID),
    (f"{V}(本人)", VALID),
    (f"{V[:6]}-{V[6:14]}-{V[14:]}", VALID),
    (
        f"{LEGACY[:6]}-{LEGACY[6:12]}-{LEGACY[12:]}",
        ("converted15", "110223197908136972", date(1979, 8, 13), "110223"),
    ),
    (f"{V[:6]}-{V[6:10]}-{V[10:14]}-{V[14:]}", ("invalid", None, None, None)),  # not the ID's parts
    (f"东桥镇{V}", ("invalid", None, None, None)),  # a place is no label
    (f"{V}（{X_ID}）", ("invalid", None, None, None)),  # another ID in the note: which one?
    # legacy, 残疾人证号, checksum and date failures
    (LEGACY, ("converted15", "110223197908136972", date(1979, 8, 13), "110223")),
    (f"'{LEGACY}", ("converted15", "110223197908136972", date(1979, 8, 13), "110223")),
    (DISABILITY, ("disability20", V, V_BIRTH, V_AREA)),
    (f"\u202a{DISABILITY}\u202c", ("disability20", V, V_BIRTH, V_AREA)),
    (V + "7101", ("disability20", V, V_BIRTH, V_AREA)),  # 22 digits
    ("34150219900101005×11", ("disability20", X_ID, X_BIRTH, "341502")),
    ("360426199101010072", ("bad_checksum", "360426199101010072", V_BIRTH, V_AREA)),
    ("360426199113010071", ("bad_date", None, None, V_AREA)),
    ("360426209901010071", ("bad_date", None, None, V_AREA)),  # born in the future
    # Excel: rounded to 15 significant digits (what survives: digits before the last non-zero
    # one of the 15; the area when all 6 are certain, the birth date when all 8 are)
    ("341502199001011000", ("destroyed", None, X_BIRTH, "341502")),
    ("341502199001011000.0", ("destroyed", None, X_BIRTH, "341502")),
    ("341502199001010000", ("destroyed", None, None, "341502")),  # day may have carried
    (CARRIED, ("destroyed", None, None, "341502")),  # carried into the day: not bad_date
    ("341502199907319000", ("destroyed", None, date(1999, 7, 31), "341502")),
    # rounded 残疾人证号 (20–22 digits, zeros after the 15th): never disability20/bad_checksum
    ("34150219900101100000", ("destroyed", None, X_BIRTH, "341502")),
    ("341502199001011000000", ("destroyed", None, X_BIRTH, "341502")),
    ("3415021990010110000000", ("destroyed", None, X_BIRTH, "341502")),
    ("341502192805190000000", ("destroyed", None, None, "341502")),  # the 9 may be 8+carry
    ("341502199001010000000", ("destroyed", None, None, "341502")),
    # Excel: scientific notation (the mantissa's last shown digit is rounded for display)
    ("3.41502E+17", ("destroyed", None, None, None)),  # 34150[1-2]: no whole area code
    ("3.41502e+17", ("destroyed", None, None, None)),
    ("3.415021E+17", ("destroyed", None, None, "341502")),
    ("3.4150219900101E+17", ("destroyed", None, None, "341502")),
    ("3.41502199001011E+17", ("destroyed", None, X_BIRTH, "341502")),
    ("3.4E+17", ("destroyed", None, None, None)),
    ("3.42402E+14", ("destroyed", None, None, None)),  # from 342401680603944
    ("3.424016806039E+14", ("destroyed", None, date(1968, 6, 3), "342401")),
    ("1.10223790813697E+14", ("destroyed", None, date(1979, 8, 13), "110223")),
    ("3.41502E+19", ("destroyed", None, None, None)),  # a 20-digit 残疾人证号
    ("3.41502199001011E+19", ("destroyed", None, X_BIRTH, "341502")),
    ("3.41502199001011E+21", ("destroyed", None, X_BIRTH, "341502")),
    ("3.41502199001011E+16", ("destroyed", None, None, None)),  # 17 digits: not an ID
    # no ID at all
    (None, ("missing", None, None, None)),
    ("", ("missing", None, None, None)),
    ("\u202a\u202c", ("missing", None, None, None)),
    ("'", ("missing", None, None, None)),
    ("无", ("missing", None, None, None)),
    ("/", ("missing", None, None, None)),
    ("0", ("missing", None, None, None)),
    ("不详", ("missing", None, None, None)),
    ("12345", ("invalid", None, None, None)),
    ("L3415021029650983", ("invalid", None, None, None)),
    ("×", ("invalid", None, None, None)),
    ("3604261991×1010071", ("invalid", None, None, None)),  # × only stands for the last X
]


ORDER = ("id_status", "id_number", "id_birth", "id_area")


def _rows(cells: list[str | None]) -> list[tuple]:
    return ids.normalise_ids(pl.Series(cells, dtype=pl.String)).select(ORDER).rows()


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_every_id_form(raw: str | None, expected: tuple) -> None:
    assert _rows([raw]) == [expected]


def test_the_table_reads_alike_as_one_column() -> None:
    assert _rows([raw for raw, _ in CASES] * 2) == [expected for _, expected in CASES] * 2


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_scalar_cleaning_matches_the_column(raw: str | None, expected: tuple) -> None:
    number = expected[1]
    if expected[0] in ("valid", "disability20", "bad_checksum"):
        assert ids.clean_id_text(raw)[:18] == number


# --- generated corpus: what survives is never wrong ------------------------------------------


def _random_id(rng: random.Random) -> tuple[str, date]:
    born = date(1925, 1, 1) + timedelta(days=rng.randrange(36_000))
    area = rng.choice(("341502", "342401", "340104", "650102", "110101", "440305"))
    return _valid(f"{area}{born:%Y%m%d}{rng.randrange(1000):03d}"), born


def _round_digits(digits: str, keep: int) -> str:
    """A digit string rounded (half up) to `keep` significant digits, zero-filled."""
    kept = Decimal(digits).scaleb(keep - len(digits)).quantize(Decimal(1), ROUND_HALF_UP)
    text = str(int(kept))
    return text + "0" * (len(digits) - len(text))


def _scientific(digits: str, shown: int) -> str:
    mantissa = _round_digits(digits, shown)
    exponent = len(digits) - 1 + (len(mantissa) - len(digits))
    body = mantissa[:shown].rstrip("0") or "0"
    return f"{body[0]}.{body[1:]}E+{exponent}" if len(body) > 1 else f"{body}E+{exponent}"


def _damaged_corpus(n: int, seed: int) -> list[tuple[str, str, date]]:
    """(damaged cell, true ID, true birth date): rounded or truncated to 15 digits, rounded
    残疾人证号, scientific notation with 6..15 digits shown, 15-digit legacy numbers too."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        true_id, born = _random_id(rng)
        if true_id.endswith("X"):
            continue  # a number cell cannot hold an X
        digits = rng.choice(
            (
                true_id,
                true_id + f"{rng.randint(1, 7)}{rng.randint(1, 4)}",
                true_id + f"{rng.randint(1, 7)}{rng.randint(1, 4)}01",
                true_id[:6] + true_id[8:17] if 1900 <= born.year <= 1999 else true_id,
            )
        )
        form = rng.randrange(3)
        if form == 0 and len(digits) > 15:
            cell = _round_digits(digits, 15)
        elif form == 1 and len(digits) > 15:
            cell = digits[:15] + "0" * (len(digits) - 15)  # typed: Excel truncates
        else:
            cell = _scientific(digits, rng.randint(6, min(15, len(digits))))
        out.append((cell, true_id, born))
    return out


def test_what_survives_of_a_destroyed_id_is_true() -> None:
    corpus = _damaged_corpus(4000, seed=11)
    frame = ids.normalise_ids(pl.Series([cell for cell, _, _ in corpus]))
    kept_area = kept_birth = 0
    for (cell, true_id, born), row in zip(corpus, frame.iter_rows(named=True), strict=True):
        assert row["id_status"] == "destroyed", cell
        assert row["id_number"] is None
        if row["id_area"] is not None:
            kept_area += 1
            assert row["id_area"] == true_id[:6], cell
        if row["id_birth"] is not None:
            kept_birth += 1
            assert row["id_birth"] == born, cell
    # most rounded cells keep both (the loss is the 1 in 10 whose 15th digit reads 0)
    assert kept_area > 1000 and kept_birth > 1000


def test_checksum_agrees_with_an_independent_formula() -> None:
    rng = random.Random(5)
    bodies = [
        f"{rng.choice(('341502', '110101'))}19{rng.randint(30, 99)}0{rng.randint(1, 9)}1"
        f"{rng.randint(0, 9)}{rng.randrange(1000):03d}"
        for _ in range(3000)
    ]
    # none ending in 000: those are judged by their column's Excel damage (test_ids.py)
    cells = [c for c in (body + rng.choice("0123456789X") for body in bodies) if c[-3:] != "000"]
    frame = ids.normalise_ids(pl.Series(cells))
    for cell, status in zip(cells, frame["id_status"], strict=True):
        check = (1 - 2 * int(cell[:17], 13)) % 11  # python-stdnum cn.ric.calc_check_digit
        expected = "valid" if cell[17] == ("X" if check == 10 else str(check)) else "bad_checksum"
        assert status == expected, cell
