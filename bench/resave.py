"""A district's files as another program writes them: every CSV of raw/ opened in LibreOffice and
saved again, so the pipeline can be measured on files our generator did not write.

    python bench/resave.py SRC OUT FORMAT MODE [--skip roster,grid]

FORMAT: csv (saved as a CSV again), xlsx or xls (saved as a workbook, the CSV replaced).
MODE: guess (columns typed as a spreadsheet guesses them, dates and other special numbers
included: IDs become numbers that the 15-digit rounding destroys, dates become date cells; a CSV
is saved as shown, in GB18030) or text (every column text: IDs protected; a CSV saved as UTF-8).
--skip: source folders left as they are (e.g. roster, whose destroyed 户编号 fails the month).

Needs LibreOffice (`soffice`, Debian's libreoffice-calc-nogui). SRC is copied to OUT first; then
`fangfan run --data-dir OUT` and `fangfan score --data-dir OUT` measure it (docs/SCALE.md 6.4,
6.5). LibreOffice's charset codes: UTF-8 76, GB18030 85.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

UTF8, GB18030 = 76, 85
WORKBOOK_FILTERS = {"xlsx": "Calc MS Excel 2007 XML", "xls": "MS Excel 97"}


def _charset(path: Path) -> int:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return GB18030
    return UTF8


def resave(src: Path, out: Path, target: str, mode: str, skip: set[str]) -> int:
    """Copy the district `src` to `out` and re-save its CSVs; returns how many were re-saved."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(src, out)
    groups: dict[tuple[Path, int], list[Path]] = defaultdict(list)
    for path in sorted((out / "raw").rglob("*.csv")):
        if path.parent.name not in skip:
            groups[(path.parent, _charset(path))].append(path)
    columns = "/".join(f"{i}/2" for i in range(1, 80)) if mode == "text" else ""
    detect_special = "false" if mode == "text" else "true"
    if target == "csv":
        written = UTF8 if mode == "text" else GB18030
        convert = f"csv:Text - txt - csv (StarCalc):44,34,{written},1,,0,false,true,true"
    else:
        convert = f"{target}:{WORKBOOK_FILTERS[target]}"
    done = 0
    for (folder, charset), files in groups.items():
        scratch = folder / "_resaved"
        scratch.mkdir()
        read = (
            f"Text - txt - csv (StarCalc):44,34,{charset},1,{columns},2052,false,{detect_special}"
        )
        subprocess.run(
            ["soffice", "--headless", f"--infilter={read}", "--convert-to", convert,
             "--outdir", str(scratch), *map(str, files)],
            check=True, capture_output=True,
        )  # fmt: skip
        for path in files:
            saved = scratch / path.with_suffix("." + target).name
            path.unlink()
            saved.replace(path.with_suffix("." + target))
            done += 1
        scratch.rmdir()
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("format", choices=["csv", *WORKBOOK_FILTERS])
    parser.add_argument("mode", choices=["guess", "text"])
    parser.add_argument(
        "--skip", default="", help="source folders left as they are, comma-separated"
    )
    args = parser.parse_args()
    skip = {name for name in args.skip.split(",") if name}
    count = resave(args.src, args.out, args.format, args.mode, skip)
    print(f"re-saved {count} CSV files as {args.format} ({args.mode}) in {args.out}")


if __name__ == "__main__":
    main()
