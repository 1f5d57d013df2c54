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

# invisible format characters that copy-paste from web systems leaves around or inside a
# number: soft hyphen, Arabic letter mark, Mongolian vowel separator, zero-width marks (and
# LRM/RLM), bidi embeddings/overrides U+202A–202E and isolates U+2066–2069, word joiner and
# invisible operators, BOM. NFKC leaves every one of them in place. And the control characters
# a database export leaves in a cell (NUL, BEL …; not TAB or line breaks). Every cell parser
# (ingest/parse.py) drops the same ones.
INVISIBLE = (
    "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\\x00-\\x08\\x0e-\\x1f\\x7f"
)
# whitespace (incl. NBSP, ideographic space after NFKC), the invisible marks and quotes
_STRIP_CHARS = rf"[\s\u00a0\u2028\u2029{INVISIBLE}'\"`‘’“”]"
# a cell the cleaning cannot change: the common case, checked once and left alone
_PLAIN = r"^(?:[0-9]{17}[0-9X]|[0-9]{15})$"
# Excel writes E+17, LibreOffice E+017
_SCI = r"^([0-9])(?:\.([0-9]+))?E\+?0?([0-9]{1,2})$"
_D18 = r"^[0-9]{17}[0-9X]$"
_D15 = r"^[0-9]{15}$"
_D20 = r"^[0-9]{17}[0-9X][0-9]{2,4}$"
# a 20–22-digit number whose digits after the 15th significant one are all zero: Excel's
# rounding (a real 残疾人证号 ends in its category 1–7 and grade 1–4, never 00)
_ROUNDED_LONG = r"^[0-9]{15}0{5,7}$"
_PLACEHOLDER = r"^(?:0+|[-—–_/\\.·*]+)$"
# exponents of the numbers an ID can be: 15 digits (legacy), 18, and 20–22 (残疾人证号)
_LEGACY_EXPONENT = 14
_ID_EXPONENTS = (17, 19, 20, 21)


# what a hand-typed ID cell may carry around the number: a label before it (身份证号：, ID), a note
# in brackets after it (（户主）), hyphens between its area, birth date and sequence (NFKC folded)
_ID_LABEL = r"^(?:公民身份号码|身份证号码|身份证号|身份证|证件号码|证件号|ID):?"
_ID_NOTE = r"^([0-9]{17}[0-9X]|[0-9]{15})\([^()0-9]*\)$"  # a note, not a number
_ID_HYPHENS = r"^([0-9]{6})-([0-9]{6}(?:[0-9]{2})?)-([0-9]{3}[0-9X]?)$"
_ID_STEPS = (
    (r"^=", ""),
    (r"^([0-9]{17})×", "${1}X"),
    (r"^([0-9]+)\.0+$", "${1}"),
    (r"^G([0-9]{17}[0-9X])$", "${1}"),
    (_ID_LABEL, ""),
    (_ID_NOTE, "${1}"),
    (_ID_HYPHENS, "${1}${2}${3}"),
)
# the same steps for one cell in Python (re's \g<1> for polars' ${1})
_ID_STEPS_RE = tuple(
    (re.compile(pattern), re.sub(r"\$\{(\d+)\}", r"\\g<\1>", replacement))
    for pattern, replacement in _ID_STEPS
)


def clean_id_text(value: object) -> str:
    """One cell as clean_id_expr cleans a column: NFKC, strip spaces, invisible marks and
    quotes, undo text protection (a leading ' or TAB, Excel's ="…"), upper-case, × typed for
    the check character X, drop a G prefix and a trailing .0, a label before the number
    (身份证号：), a note in brackets after it (（户主）) and hyphens between its parts."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    text = re.sub(_STRIP_CHARS, "", text).upper()
    for pattern, replacement in _ID_STEPS_RE:
        text = pattern.sub(replacement, text)
    return text


def checksum_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if not re.fullmatch(r"[0-9]{17}", first17):
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
    """Vectorised clean_id_text (NFKC optional: normalise_ids applies it only where needed)."""
    expr = (pl.col(column) if isinstance(column, str) else column).cast(pl.String)
    if nfkc:
        expr = expr.str.normalize("NFKC")
    expr = expr.str.replace_all(_STRIP_CHARS, "").str.to_uppercase()
    for pattern, replacement in _ID_STEPS:
        expr = expr.str.replace(pattern, replacement)
    return expr


ID_STRUCT = pl.Struct(
    {
        "id_number": pl.String,
        "id_status": pl.String,
        "id_birth": pl.Date,
        "id_area": pl.String,
        "id_prefix": pl.String,
    }
)


def normalise_id_expr(column: str | pl.Expr) -> pl.Expr:
    """Struct {id_number, id_status, id_birth, id_area, id_prefix} for a column of raw ID cells,
    vectorised."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.map_batches(lambda batch: normalise_ids(batch).to_struct(), return_dtype=ID_STRUCT)


def _cleaned(values: pl.Series) -> pl.Series:
    """clean_id_text over a column, touching only the cells that need it: most cells already
    are 18 or 15 plain digits, and NFKC runs only where a non-ASCII character is present."""
    raw = values.cast(pl.String)
    todo = ~raw.str.contains(_PLAIN).fill_null(True)
    if not todo.any():
        return raw
    positions = todo.arg_true()
    part = raw.gather(positions)
    wide = part.str.contains(r"[^\x00-\x7f]").fill_null(False)
    if wide.any():
        where = wide.arg_true()
        part = part.scatter(where, part.gather(where).str.normalize("NFKC"))
    part = part.to_frame("v").select(clean_id_expr("v", nfkc=False)).to_series()
    return raw.scatter(positions, part)


def _last_certain(digits: pl.Expr) -> pl.Expr:
    """How many leading digits of a rounded number are certain: all before its last non-zero
    digit. Rounding may have raised that digit by one and turned the 9s after it into 0s
    (…0731|96… becomes …0732|00…), so neither it nor the zeros after it are known."""
    return digits.str.strip_chars_end("0").str.len_chars() - 1


def normalise_ids(
    values: pl.Series, groups: pl.Series | None = None, damaged: pl.Series | None = None
) -> pl.DataFrame:
    """Classify a column of raw ID cells: id_number, id_status, id_birth, id_area, id_prefix
    (DESIGN.md).

    Cleaning (clean_id_text): NFKC, spaces of either width, invisible format characters
    (zero-width, bidi U+202A–202E/U+2066–2069, soft hyphen, U+180E), quotes and text
    protection (a leading ' or TAB, Excel's ="…") are removed; × typed for the check
    character X reads as X.

    Excel keeps 15 significant digits, so a destroyed 18-digit ID ends in 000, and one in
    eleven of those passes the checksum by chance. Such a value counts as destroyed when its
    checksum or date fails, when its group (one file's column) shows the damage elsewhere (a
    value in scientific notation, a rounded 20–22-digit 残疾人证号, or one ending in 000 that
    fails its checksum or date), or when `damaged` says the file stored IDs as numbers; in a
    clean column it is a real ID ending in 000 (about 1 in 1,100 are). A 20–22-digit number
    whose digits after the 15th are all zero is a rounded 残疾人证号: always destroyed.

    What survives of a destroyed ID: only digits before the last non-zero one of the
    surviving significant digits are certain (the 15 Excel keeps, or the mantissa shown in
    scientific notation, whose last digit was rounded for display), because rounding may
    have raised that digit and carried through 9s. `id_area` is the 6-digit area code only
    when all six digits are certain and start with a province code, else null (never a
    prefix); `id_birth` only when all eight (legacy: six) birth digits are certain and form
    a real date. So `3.41502E+17` keeps neither (its sixth digit may have been 1), while
    `341502199001011000` keeps both and `341502199001010000` only the area. `id_prefix` is
    every certain digit of a destroyed ID, as the start of the 18-digit ID, when they begin
    with a province code: `341502200711020000` keeps no birth date, but its prefix
    `3415022007110` still says the holder was born in November 2007, and `3.42401E+17` keeps
    `34240` (whatever its sixth digit was, it is no ID of 341502: of two namesakes in one
    village, the one born elsewhere is told from the local one).
    """
    # Built step by step on a frame: one nested expression repeats its shared parts per use.
    cleaned_values = _cleaned(values)
    frame = pl.DataFrame(
        {
            "cleaned": cleaned_values,
            "group": groups if groups is not None else pl.repeat(0, len(values), eager=True),
            "damaged": damaged
            if damaged is not None
            else pl.repeat(False, len(values), eager=True),
        }
    ).lazy()
    cleaned = pl.col("cleaned")
    frame = frame.with_columns(
        is_missing=cleaned.is_null()
        | (cleaned == "")
        | cleaned.is_in(PLACEHOLDERS)
        | cleaned.str.contains(_PLACEHOLDER),
        is_sci=cleaned.str.contains(_SCI),
        is_18=cleaned.str.contains(_D18),
        is_15=cleaned.str.contains(_D15),
        is_20=cleaned.str.contains(_D20),
        rounded_long=cleaned.str.contains(_ROUNDED_LONG),
    )
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
        rounded=pl.col("is_18")
        & (pl.col("base18").str.slice(15, 3) == "000")
        & pl.col("base18").str.slice(0, 2).is_in(PROVINCE_CODES),
    )
    is_18, is_15, is_20 = pl.col("is_18"), pl.col("is_15"), pl.col("is_20")
    date_ok, check_ok = pl.col("born").is_not_null(), pl.col("check_ok")
    failing = ~check_ok | ~date_ok
    damage_seen = pl.col("is_sci") | pl.col("rounded_long") | (pl.col("rounded") & failing)
    frame = (
        frame.with_columns(
            rounded=pl.col("rounded")
            & (failing | damage_seen.any().over("group") | pl.col("damaged").fill_null(False))
        )
        .with_columns(
            id_status=pl.when("is_missing")
            .then(pl.lit(MISSING))
            .when("is_sci")
            .then(pl.lit(DESTROYED))
            .when(is_18 & pl.col("rounded"))
            .then(pl.lit(DESTROYED))
            .when(is_18 & ~date_ok)
            .then(pl.lit(BAD_DATE))
            .when(is_18 & check_ok)
            .then(pl.lit(VALID))
            .when(is_18)
            .then(pl.lit(BAD_CHECKSUM))
            .when(is_15 & date_ok)
            .then(pl.lit(CONVERTED15))
            .when(is_15)
            .then(pl.lit(BAD_DATE))
            .when("rounded_long")
            .then(pl.lit(DESTROYED))
            .when(is_20 & date_ok & check_ok)
            .then(pl.lit(DISABILITY20))
            .when(is_20 & date_ok)
            .then(pl.lit(BAD_CHECKSUM))
            .otherwise(pl.lit(INVALID)),
            # Scientific notation shows the leading digits of the number (the mantissa) and
            # how many digits it has (exponent + 1): 18 → 17, legacy 15 → 14, 残疾人证号 19–21.
            sci=cleaned.str.extract_groups(_SCI),
        )
        .with_columns(
            mantissa=pl.concat_str(
                [pl.col("sci").struct.field("1"), pl.col("sci").struct.field("2").fill_null("")]
            ),
            exponent=pl.col("sci").struct.field("3").cast(pl.Int64, strict=False),
        )
    )
    status, mantissa, exponent = pl.col("id_status"), pl.col("mantissa"), pl.col("exponent")
    is_sci = pl.col("is_sci")
    # the digits that survived a destroyed ID, and how many of them are certain
    digits = pl.when(is_sci).then(mantissa).otherwise(cleaned)
    certain = (
        pl.when(is_sci)
        .then(_last_certain(mantissa))
        .otherwise(_last_certain(cleaned.str.slice(0, 15)))
    )
    legacy = is_sci & (exponent == _LEGACY_EXPONENT)
    eighteen = ~is_sci | exponent.is_in(_ID_EXPONENTS)
    # every certain digit, as the start of the 18-digit ID (a legacy number gets its 19), when
    # they begin with a province code; the area is its first six, when all six are certain
    destroyed_prefix = pl.when(
        (legacy | eighteen) & (certain >= 2) & digits.str.slice(0, 2).is_in(PROVINCE_CODES)
    ).then(
        pl.when(legacy & (certain > 6))
        .then(
            pl.concat_str([digits.str.slice(0, 6), pl.lit("19"), digits.str.slice(6, certain - 6)])
        )
        .otherwise(digits.str.slice(0, certain))
    )
    destroyed_area = pl.when(certain >= 6).then(destroyed_prefix.str.slice(0, 6))
    destroyed_birth = (
        pl.when(legacy & (certain >= 12))
        .then(_date8(pl.concat_str([pl.lit("19"), digits.str.slice(6, 6)])))
        .when(eighteen & (certain >= 14))
        .then(_date8(digits.str.slice(6, 8)))
    )
    has_digits = is_18 | is_15 | is_20
    return frame.select(
        id_number=pl.when(has_digits & status.is_in((*USABLE_STATUSES, BAD_CHECKSUM))).then(
            pl.col("base18")
        ),
        id_status=status,
        id_birth=pl.when(status == DESTROYED)
        .then(destroyed_birth)
        .when(has_digits & (status != BAD_DATE))
        .then(pl.col("born"))
        .cast(pl.Date),
        id_area=pl.when(status == DESTROYED)
        .then(destroyed_area)
        .when(is_18 | is_15 | (is_20 & date_ok))
        .then(pl.col("base18").str.slice(0, 6)),
        id_prefix=pl.when(status == DESTROYED).then(destroyed_prefix),
    ).collect()
