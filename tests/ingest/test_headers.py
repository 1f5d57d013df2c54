"""Header detection: title rows, decorated headers, alias priority and the two-row merged header."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pytest

from pipelines.ingest.grid import GRID_LEDGER
from pipelines.ingest.headers import Header, find_header, money_unit
from pipelines.sources import ROSTER, SOURCES


def _grid(rows: Sequence[Sequence[str | None]]) -> tuple[pl.DataFrame, list[str]]:
    width = max(len(row) for row in rows)
    columns = [f"c{i}" for i in range(width)]
    padded = [list(row) + [None] * (width - len(row)) for row in rows]
    return pl.DataFrame(padded, schema={c: pl.String for c in columns}, orient="row"), columns


def _header(rows: Sequence[Sequence[str | None]], source_key: str) -> Header | None:
    cells, columns = _grid(rows)
    return find_header(cells, columns, SOURCES[source_key].fields)


def test_header_below_title_rows() -> None:
    header = _header(
        [
            ("金安区2026年10月低保变动名册",),
            ("填报单位：区民政局", None, None, "日期：2026-10-31"),
            (),
            ("序号", "姓名", "身份证号", "救助类型", "金额"),
            ("1", "张三", "360426199101010071", "低保", "800"),
        ],
        "civil_affairs",
    )
    assert header is not None and header.rows == (3,)
    assert header.fields == {"name": 1, "id_number": 2, "assistance_type": 3, "amount": 4}


def test_decorated_headers_still_match() -> None:
    header = _header(
        [(" 姓 名 ", "身份证\n号码", "乡镇（街道）*", "所在村", "直接经济损失(元)", "房屋倒塌＊")],
        "emergency",
    )
    assert header is not None
    assert header.fields == {
        "name": 0,
        "id_number": 1,
        "township": 2,
        "village": 3,
        "loss": 4,
        "house_collapsed": 5,
    }


def test_household_level_file_takes_the_head_over_the_member() -> None:
    header = _header([("姓名", "户主姓名", "证件号码", "鉴定等级")], "housing")
    assert header is not None and header.fields["name"] == 1


def test_person_level_file_takes_the_member_over_the_head() -> None:
    header = _header([("户主姓名", "姓名", "证件号码", "救助类型")], "civil_affairs")
    assert header is not None and header.fields["name"] == 1


@pytest.mark.parametrize("person", ["救助对象姓名", "申请人姓名", "人员姓名"])
def test_a_person_level_file_names_the_person_before_the_head(person: str) -> None:
    # a 民政 file with 户主姓名 + 户主身份证号 beside the recipient's own columns (wild profile)
    header = _header(
        [("户主姓名", "户主身份证号", person, "证件号码", "救助类型")], "civil_affairs"
    )
    assert header is not None and header.fields["name"] == 2


def test_first_listed_alias_wins_whatever_the_column_order() -> None:
    header = _header([("姓名", "证件号码", "结算日期", "出院日期")], "medical_claims")
    assert header is not None and header.fields["discharge_date"] == 3


def test_roster_head_and_member_are_separate_columns() -> None:
    cells, columns = _grid(
        [
            (
                "乡镇",
                "村",
                "村民组",
                "村组网格名称",
                "户编号",
                "户主姓名",
                "姓名",
                "证件号码",
                "户类型",
            )
        ]
    )
    header = find_header(cells, columns, ROSTER.fields)
    assert header is not None
    assert header.fields["head_name"] == 5 and header.fields["name"] == 6
    assert header.fields["grid"] == 3


def test_two_row_merged_header_combines_parent_and_child() -> None:
    cells, columns = _grid(
        [
            ("三十铺镇（街道、开发区）北山村防止返贫动态监测基层网格工作台账",),
            ("序号", "村组网格名称", "农户数", "村组网格员", None, None, None, None, "村级网格员")
            + (None, None, "备注"),
            (None, None, None, "姓名", "村民组长", "党员", "其他(职务)", "联系电话", "姓名")
            + ("职务", "联系电话", None),
            ("1", "北山组第一网格", "45", "张三", "√", None, None, "13800000001", "李四")
            + ("村支书", "13900000001", None),
        ]
    )
    header = find_header(cells, columns, GRID_LEDGER.fields)
    assert header is not None and header.rows == (1, 2)
    assert header.fields == {
        "grid": 1,
        "households": 2,
        "worker_name": 3,
        "worker_is_group_leader": 4,
        "worker_is_party_member": 5,
        "worker_other_title": 6,
        "worker_phone": 7,
        "village_worker_name": 8,
        "village_worker_title": 9,
        "village_worker_phone": 10,
        "note": 11,
    }
    assert header.body_start == 3


def test_a_title_above_a_plain_header_is_not_a_parent_row() -> None:
    header = _header([("金安区医保结算明细",), ("姓名", "证件号码", "个人自付")], "medical_claims")
    assert header is not None and header.rows == (1,)
    assert header.labels[0] == "姓名"


def test_no_header_in_the_first_rows() -> None:
    assert _header([("说明",), ("本表为空",)], "medical_claims") is None


def test_a_unit_in_brackets_after_a_header_is_still_the_field() -> None:
    """个人自付（元） is the 个人自付 column in 元 (the money unit is applied when the cells are
    read: test_stage.py); a bracket that says whose value it is, or a unit the field cannot be in,
    is another column."""
    header = _header(
        [("姓名", "身份证号（户主）", "医疗总费用（万元）", "统筹支付(元)", "个人自付（元）", "大病保险支付（美元）")],
        "medical_claims",
    )  # fmt: skip
    assert header is not None
    assert header.fields == {"name": 0, "total_cost": 2, "fund_paid": 3, "self_paid": 4}
    guardian = _header(
        [("姓名（监护人）", "身份证号", "保障人数（人）", "金额（元/月）")], "civil_affairs"
    )
    assert guardian is not None
    assert guardian.fields == {"id_number": 1, "covered_people": 2, "amount": 3}


def test_a_date_header_may_show_the_form_it_wants() -> None:
    """入学年月（YYYY-MM）is 入学年月, and 在校状态（在读/辍学）, 是否享受资助（是/否） list their
    field's values; a bracket that is neither (就诊机构（全称）, 学段（见说明）) is another column."""
    header = _header(
        [("学生姓名", "身份证号", "入学年月（YYYY-MM）", "学段（见说明）", "在校状态（在读/辍学）",
          "是否享受资助（是/否）")],
        "education",
    )  # fmt: skip
    assert header is not None
    assert header.fields == {"name": 0, "id_number": 1, "enrol_month": 2, "school_status": 4,
                             "aided": 5}  # fmt: skip
    claims = _header(
        [
            (
                "姓名",
                "身份证号",
                "入院日期（年月日）",
                "出院日期(格式：20261005)",
                "就诊机构（全称）",
            )
        ],
        "medical_claims",
    )
    assert claims is not None
    assert claims.fields == {"name": 0, "id_number": 1, "admission_date": 2, "discharge_date": 3}
    enrollment = _header([("姓名", "身份证号", "参保年度（年）", "参保状态")], "medical_enrollment")
    assert enrollment is not None and enrollment.fields["enroll_year"] == 2


def test_a_yes_no_header_may_list_any_marks_its_cells_are_read_by() -> None:
    """是否解决（已解决/未解决） and 房屋倒塌（Y/N） list the marks parse_yes_no reads, as （是/否）
    does: each is its field. The header check had its own six marks, so such a column was an
    unknown one and the list's 是否解决 went unread (SL01 decides on it)."""
    water = _header([("户主姓名", "身份证号", "乡镇", "村", "是否解决（已解决/未解决）")], "water")
    assert water is not None and water.fields.get("resolved") == 4
    emergency = _header(
        [("户主姓名", "身份证号", "乡镇", "村", "直接经济损失（元）", "房屋倒塌（y/n）")],
        "emergency",
    )
    assert emergency is not None and emergency.fields.get("house_collapsed") == 5
    # a bracket that is not marks stays another column
    other = _header([("户主姓名", "身份证号", "乡镇", "村", "是否解决（见说明）")], "water")
    assert other is None or "resolved" not in other.fields


def test_a_header_may_name_its_unit_as_templates_do() -> None:
    """个人自付（单位：元）, 个人自付/元, 个人自付【元】, 个人自付（¥）, 直接经济损失（单位：万元）: the
    field, in that unit. Each had been an unknown column, the field missing from the file."""
    for written in ("个人自付（单位：元）", "个人自付(单位:元)", "个人自付/元", "个人自付【元】",
                    "个人自付[元]", "个人自付（¥）", "个人自付（￥）", "个人自付（元/人民币）"):  # fmt: skip
        header = _header([("姓名", "身份证号", "入院日期", written)], "medical_claims")
        assert header is not None and header.fields.get("self_paid") == 3, written
        assert money_unit(header.labels[3]) == "元", written
    header = _header([("户主姓名", "身份证号", "直接经济损失（单位：万元）")], "emergency")
    assert header is not None and money_unit(header.labels[2]) == "万元"
    # a slash or bracket that is not a unit stays another column
    for written in ("个人自付/合计", "个人自付【备注】"):
        header = _header([("姓名", "身份证号", "入院日期", written)], "medical_claims")
        assert header is not None and "self_paid" not in header.fields, written


def test_a_header_may_list_its_codes_as_its_cells_write_them() -> None:
    """鉴定等级（A级/B级/C级/D级）, （A、B、C、D级）, 是否享受资助（填是或否）, 入学年月（如：2025-09）:
    each the field (its codes read as parse_enum reads the cells)."""
    for written in (
        "鉴定等级（A级/B级/C级/D级）",
        "鉴定等级（A、B、C、D级）",
        "鉴定等级（a/b/c/d）",
    ):
        header = _header([("户主姓名", "身份证号", "乡镇", "村", written)], "housing")
        assert header is not None and header.fields.get("grade") == 4, written
    education = _header(
        [("学生姓名", "身份证号", "入学年月（如：2025-09）", "是否享受资助（填是或否）")],
        "education",
    )
    assert education is not None
    assert education.fields == {"name": 0, "id_number": 1, "enrol_month": 2, "aided": 3}
    # codes the field does not have are another column
    other = _header([("户主姓名", "身份证号", "乡镇", "村", "鉴定等级（E/F）")], "housing")
    assert other is not None and "grade" not in other.fields


def test_a_header_may_say_more_of_its_own_column() -> None:
    """所在乡镇（街道）, 乡镇/街道, 行政村（社区）, 村(居), 证件号码（身份证）, 身份证号（文本格式）,
    身份证号/证件号码, 姓名（本人）, 参保年度（2026）, 金额（元/人/月）: each its field. Words that
    make it another column stay another column (姓名（监护人）, 乡镇/村, 村/组)."""
    water = _header(
        [("户主姓名", "证件号码（身份证）", "所在乡镇（街道）", "行政村（社区）", "是否解决")],
        "water",
    )
    assert water is not None
    assert water.fields == {"name": 0, "id_number": 1, "township": 2, "village": 3, "resolved": 4}
    slashed = _header([("户主姓名", "身份证号/证件号码", "乡镇/街道", "村(居)")], "water")
    assert slashed is not None
    assert slashed.fields == {"name": 0, "id_number": 1, "township": 2, "village": 3}
    enrollment = _header(
        [("姓名（本人）", "身份证号（文本格式）", "参保年度（2026）", "参保状态")],
        "medical_enrollment",
    )
    assert enrollment is not None
    assert enrollment.fields == {"name": 0, "id_number": 1, "enroll_year": 2, "enroll_status": 3}
    civil = _header([("姓名", "身份证号", "救助类型", "金额（元/人/月）")], "civil_affairs")
    assert civil is not None and civil.fields.get("amount") == 3
    other = _header([("户主姓名", "身份证号", "乡镇/村", "村/组")], "water")
    assert other is not None and "township" not in other.fields and "village" not in other.fields
    guardian = _header([("姓名（监护人）", "身份证号", "救助类型")], "civil_affairs")
    assert guardian is not None and "name" not in guardian.fields


def test_a_household_list_may_head_its_id_column_as_the_heads() -> None:
    """住建/应急/水利 lists name the 户主 (户主姓名) and may head the ID beside it 户主身份证号 or
    身份证号（户主）: the file's ID. In a person-level list that column is the head's ID beside the
    person's, another column."""
    for written in ("户主身份证号", "户主身份证号码", "身份证号（户主）"):
        header = _header([("户主姓名", written, "乡镇", "村", "鉴定等级")], "housing")
        assert header is not None and header.fields.get("id_number") == 1, written
    both = _header([("户主姓名", "户主身份证号", "身份证号", "乡镇", "村")], "water")
    assert both is not None and both.fields["id_number"] == 2  # the plain alias first
    civil = _header([("姓名", "身份证号", "户主姓名", "户主身份证号", "救助类型")], "civil_affairs")
    assert civil is not None and civil.fields["id_number"] == 1
    alone = _header([("姓名", "户主身份证号", "救助类型", "金额")], "civil_affairs")
    assert alone is None or "id_number" not in alone.fields


def test_an_id_header_naming_the_name_columns_person_is_the_id() -> None:
    """学生姓名 beside 学生身份证号, 患者姓名 beside 患者身份证号码: the same person's ID (the contract's
    name headers name the person by these roles). Had been unread: the list matched by name and
    place only, and the 5,000-member district's claims and enrollment lists so headed left 64 and
    101 records ambiguous. Beside 姓名, any role but 户主 is the person's; another role than the
    name's, or two candidates, stay unread."""

    def ids(row: tuple[str, ...], source: str) -> int | None:
        header = _header([row], source)
        assert header is not None
        return header.fields.get("id_number")

    assert ids(("学生姓名", "性别", "学生身份证号", "学校", "学段"), "education") == 2
    assert ids(("患者姓名", "患者身份证号码", "个人自付"), "medical_claims") == 1
    assert ids(("参保人姓名", "参保人身份证号（文本格式）", "参保状态"), "medical_enrollment") == 1
    assert ids(("姓名", "学生身份证号", "学校", "学段"), "education") == 1
    # a person-level list naming only the 户主: the 户主's ID is that person's
    assert ids(("户主姓名", "户主身份证号", "救助类型", "金额"), "civil_affairs") == 1
    # someone else's ID
    assert ids(("学生姓名", "监护人身份证号", "学校", "学段"), "education") is None
    assert ids(("救助对象姓名", "申请人身份证号", "救助类型"), "civil_affairs") is None
    assert ids(("参保人姓名", "患者身份证号", "个人自付"), "medical_claims") is None
    assert ids(("姓名", "户主身份证号", "救助类型", "金额"), "civil_affairs") is None
    # two candidates: neither; the contract's own alias first
    assert ids(("姓名", "学生身份证号", "申请人身份证号", "学校"), "education") is None
    assert ids(("学生姓名", "学生身份证号", "身份证号", "学校"), "education") == 2
    roster = find_header(*_grid([("姓名", "户主姓名", "户主身份证号", "户编号")]), ROSTER.fields)
    assert roster is not None and "id_number" not in roster.fields


def test_a_templates_note_on_a_header_keeps_its_field() -> None:
    """证件号码（18位） had been an unknown column: the file matched by name alone."""
    header = _header(
        [("姓名（必填）", "证件号码（18位）", "救助类型（必填）", "金额（选填）")], "civil_affairs"
    )
    assert header is not None
    assert header.fields == {"name": 0, "id_number": 1, "assistance_type": 2, "amount": 3}
