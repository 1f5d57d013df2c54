"""Resident ID numbers (GB 11643): cleaning, checksum, 15→18 conversion, classification, masking."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import polars as pl

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

# id_status values (docs/DESIGN.md)
VALID = "valid"
CONVERTED15 = "converted15"
DISABILITY20 = "disability20"
BAD_CHECKSUM = "bad_checksum"
BAD_DATE = "bad_date"
DESTROYED = "destroyed"
MISSING = "missing"
INVALID = "invalid"
ID_STATUSES = (
    VALID,
    CONVERTED15,
    DISABILITY20,
    BAD_CHECKSUM,
    BAD_DATE,
    DESTROYED,
    MISSING,
    INVALID,
)
# statuses whose id_number is a usable 18-character key
USABLE_STATUSES = (VALID, CONVERTED15, DISABILITY20)

# what clerks type when there is no ID; compared after cleaning and upper-casing
PLACEHOLDERS = ("无", "暂无", "空", "不详", "未知", "NULL", "NONE", "NAN", "NA", "N/A", "#N/A")
# first two digits of a real 行政区划代码 (provinces, plus 71/81/82): a rounded number that
# starts like this was an ID before Excel destroyed it
PROVINCE_CODES = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
)  # fmt: skip
EARLIEST_BIRTH = date(1880, 1, 1)

# whitespace (incl. NBSP, ideographic space after NFKC), zero-width marks, BOM and quotes
_STRIP_CHARS = r"[\s\u00a0\u200b-\u200f\u2028\u2029\u2060\ufeff'\"`‘’“”]"
_SCI = r"^(\d)(?:\.(\d+))?E\+?(\d{1,2})$"
_D18 = r"^\d{17}[\dX]$"
_D15 = r"^\d{15}$"
_D20 = r"^\d{17}[\dX]\d{2,4}$"
_PLACEHOLDER = r"^(?:0+|[-—–_/\\.·*]+)$"


def clean_id_text(value: object) -> str:
    """DOMAIN §5.2 steps 2–5 for one cell: NFKC, strip marks and quotes, upper-case, drop G/.0."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    text = re.sub(_STRIP_CHARS, "", text).upper()
    text = re.sub(r"^(\d+)\.0+$", r"\1", text)
    return re.sub(r"^G(\d{17}[\dX])$", r"\1", text)


def checksum_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if not re.fullmatch(r"\d{17}", first17):
        raise ValueError("checksum needs exactly 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def _birth_ok(text: str) -> date | None:
    try:
        born = date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    return born if EARLIEST_BIRTH <= born <= date.today() else None


def is_valid_id(value: str) -> bool:
    """True for an 18-character ID with a real birth date and a correct check character."""
    text = clean_id_text(value)
    if not re.fullmatch(_D18, text):
        return False
    return _birth_ok(text[6:14]) is not None and checksum_char(text[:17]) == text[17]


def convert_15_to_18(value: str) -> str:
    """Legacy 15-digit ID -> 18: insert the century 19 and append the check character."""
    text = clean_id_text(value)
    if not re.fullmatch(_D15, text):
        raise ValueError("not a 15-digit ID")
    first17 = text[:6] + "19" + text[6:]
    return first17 + checksum_char(first17)


def birth_date_from_id(value: str) -> date | None:
    """Birth date encoded in an 18- or 15-digit ID (or a 残疾人证号), None when not a real date."""
    text = clean_id_text(value)
    if re.fullmatch(_D15, text):
        return _birth_ok("19" + text[6:12])
    if re.fullmatch(_D18, text) or re.fullmatch(_D20, text):
        return _birth_ok(text[6:14])
    return None


def mask_id(value: object) -> str:
    """Display form: first 6 + '*' + last 4 for 18 characters; other lengths never show more."""
    text = "" if value is None else re.sub(_STRIP_CHARS, "", str(value))
    length = len(text)
    if length == 18:
        return text[:6] + "*" * 8 + text[-4:]
    if length == 15:
        # AAAAAA YYMMDD SSS: hide exactly the birth date
        return text[:6] + "*" * 6 + text[-3:]
    if length > 18:
        # a 残疾人证号's tail is the disability category and grade: show the area code only
        return text[:6] + "*" * (length - 6)
    keep = length // 4
    return text[:keep] + "*" * (length - 2 * keep) + (text[length - keep :] if keep else "")


def _check_value(first17: pl.Expr) -> pl.Expr:
    """Check value 0..10 (10 = X) of a 17-digit string, by integer arithmetic."""
    number = first17.cast(pl.Int64, strict=False)
    total = pl.sum_horizontal(
        ((number // 10 ** (16 - position)) % 10) * weight for position, weight in enumerate(WEIGHTS)
    )
    return (12 - total % 11) % 11


def _date8(digits: pl.Expr) -> pl.Expr:
    born = digits.str.to_date("%Y%m%d", strict=False)
    return pl.when(born.is_between(EARLIEST_BIRTH, date.today())).then(born)


def clean_id_expr(column: str | pl.Expr, *, nfkc: bool = True) -> pl.Expr:
    """Vectorised clean_id_text: NFKC, strip marks and quotes, upper-case, drop a G prefix and .0."""
    expr = (pl.col(column) if isinstance(column, str) else column).cast(pl.String)
    if nfkc:
        expr = expr.str.normalize("NFKC")
    return (
        expr.str.replace_all(_STRIP_CHARS, "")
        .str.to_uppercase()
        .str.replace(r"^(\d+)\.0+$", "${1}")
        .str.replace(r"^G(\d{17}[\dX])$", "${1}")
    )


ID_STRUCT = pl.Struct(
    {"id_number": pl.String, "id_status": pl.String, "id_birth": pl.Date, "id_area": pl.String}
)


def normalise_id_expr(column: str | pl.Expr) -> pl.Expr:
    """Struct {id_number, id_status, id_birth, id_area} for a column of raw ID cells, vectorised."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.map_batches(lambda batch: normalise_ids(batch).to_struct(), return_dtype=ID_STRUCT)


def normalise_ids(
    values: pl.Series, groups: pl.Series | None = None, damaged: pl.Series | None = None
) -> pl.DataFrame:
    """Classify a column of raw ID cells: id_number, id_status, id_birth, id_area (DESIGN.md).

    Excel rounds a number to 15 significant digits, so a destroyed 18-digit ID ends in 000,
    and one in eleven of those passes the checksum by chance. Such a value counts as destroyed
    when its group (one file's column) shows the damage elsewhere (a value in scientific
    notation, or one ending in 000 that fails the checksum) or `damaged` says the file stored
    IDs as numbers; in a clean column it is a real ID ending in 000 (about 1 in 1,100 are).
    """
    # Built step by step on a frame: one nested expression repeats its shared parts per use.
    raw = values.cast(pl.String)
    # NFKC only where a non-ASCII character is present: normalising a whole column is slow
    wide = raw.str.contains(r"[^\x00-\x7f]").fill_null(False)
    if wide.any():
        positions = wide.arg_true()
        raw = raw.scatter(positions, raw.gather(positions).str.normalize("NFKC"))
    frame = pl.DataFrame(
        {
            "raw": raw,
            "group": groups if groups is not None else pl.repeat(0, len(raw), eager=True),
            "damaged": damaged if damaged is not None else pl.repeat(False, len(raw), eager=True),
        }
    ).lazy()
    frame = frame.with_columns(cleaned=clean_id_expr("raw", nfkc=False)).with_columns(
        is_missing=pl.col("cleaned").is_null()
        | (pl.col("cleaned") == "")
        | pl.col("cleaned").is_in(PLACEHOLDERS)
        | pl.col("cleaned").str.contains(_PLACEHOLDER),
        is_sci=pl.col("cleaned").str.contains(_SCI),
        is_18=pl.col("cleaned").str.contains(_D18),
        is_15=pl.col("cleaned").str.contains(_D15),
        is_20=pl.col("cleaned").str.contains(_D20),
    )
    cleaned = pl.col("cleaned")
    frame = frame.with_columns(
        first17=pl.when("is_15")
        .then(pl.concat_str([cleaned.str.slice(0, 6), pl.lit("19"), cleaned.str.slice(6, 9)]))
        .otherwise(cleaned.str.slice(0, 17)),
        given=cleaned.str.slice(17, 1),
    ).with_columns(expected=_check_value(pl.col("first17")))
    expected, given = pl.col("expected"), pl.col("given")
    frame = frame.with_columns(
        check_ok=expected
        == pl.when(given == "X").then(10).otherwise(given.cast(pl.Int64, strict=False)),
        base18=pl.when("is_15")
        .then(
            pl.concat_str(
                [
                    pl.col("first17"),
                    pl.when(expected == 10).then(pl.lit("X")).otherwise(expected.cast(pl.String)),
                ]
            )
        )
        .otherwise(cleaned.str.slice(0, 18)),
    ).with_columns(
        born=_date8(pl.col("base18").str.slice(6, 8)),
        rounded=(pl.col("base18").str.slice(15, 3) == "000")
        & pl.col("base18").str.slice(0, 2).is_in(PROVINCE_CODES),
    )
    is_18, is_15, is_20 = pl.col("is_18"), pl.col("is_15"), pl.col("is_20")
    date_ok, check_ok = pl.col("born").is_not_null(), pl.col("check_ok")
    damage_seen = pl.col("is_sci") | (is_18 & pl.col("rounded") & date_ok & ~check_ok)
    frame = frame.with_columns(
        rounded=pl.col("rounded")
        & (~check_ok | damage_seen.any().over("group") | pl.col("damaged").fill_null(False))
    ).with_columns(
        id_status=pl.when("is_missing")
        .then(pl.lit(MISSING))
        .when("is_sci")
        .then(pl.lit(DESTROYED))
        .when(is_18 & ~date_ok)
        .then(pl.lit(BAD_DATE))
        .when(is_18 & pl.col("rounded"))
        .then(pl.lit(DESTROYED))
        .when(is_18 & check_ok)
        .then(pl.lit(VALID))
        .when(is_18)
        .then(pl.lit(BAD_CHECKSUM))
        .when(is_15 & date_ok)
        .then(pl.lit(CONVERTED15))
        .when(is_15)
        .then(pl.lit(BAD_DATE))
        .when(is_20 & date_ok & check_ok)
        .then(pl.lit(DISABILITY20))
        .when(is_20 & date_ok)
        .then(pl.lit(BAD_CHECKSUM))
        .otherwise(pl.lit(INVALID)),
        # Scientific notation keeps the leading digits of the mantissa: an 18-digit ID has
        # exponent 17, a 15-digit one 14. What survives of the area and birth date is kept.
        mantissa=pl.concat_str(
            [cleaned.str.extract(_SCI, 1), cleaned.str.extract(_SCI, 2).fill_null("")]
        ),
        exponent=cleaned.str.extract(_SCI, 3).cast(pl.Int64, strict=False),
    )
    status, mantissa, exponent = pl.col("id_status"), pl.col("mantissa"), pl.col("exponent")
    has_digits = is_18 | is_15 | is_20
    # A rounded digit can carry into the day: trust the birth date only when the last
    # surviving digit (the 15th for an 18-digit ID, the 13th for a 15-digit one) is not 0.
    sci_birth = (
        pl.when((exponent == 17) & (mantissa.str.len_chars() >= 15))
        .then(_date8(mantissa.str.slice(6, 8)))
        .when((exponent == 14) & (mantissa.str.len_chars() >= 13))
        .then(_date8(pl.concat_str([pl.lit("19"), mantissa.str.slice(6, 6)])))
    )
    area = (
        pl.when("is_sci")
        .then(
            pl.when(exponent.is_in((14, 17)) & (mantissa.str.len_chars() >= 6)).then(
                mantissa.str.slice(0, 6)
            )
        )
        .when(is_18 | is_15 | (is_20 & date_ok))
        .then(pl.col("base18").str.slice(0, 6))
    )
    return frame.select(
        id_number=pl.when(has_digits & status.is_in((*USABLE_STATUSES, BAD_CHECKSUM))).then(
            pl.col("base18")
        ),
        id_status=status,
        id_birth=pl.when("is_sci")
        .then(sci_birth)
        .when(status == DESTROYED)
        .then(pl.when(pl.col("base18").str.slice(14, 1) != "0").then(pl.col("born")))
        .when(has_digits & (status != BAD_DATE))
        .then(pl.col("born"))
        .cast(pl.Date),
        id_area=area,
    ).collect()
