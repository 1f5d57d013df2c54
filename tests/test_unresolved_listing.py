"""The district's list of unresolved records (区级_未匹配与待确认): every unmatched or ambiguous
record, every record withdrawn as 非本人 (read from its own month's staged rows), every row an
absence rule could not decide on and every row a rule could not evaluate for a blank or unreadable
decisive field (不可判断: an independent probe found them counted in the summary, the rows named
nowhere but the warehouse), each with its staged row's cells, in file order."""

from __future__ import annotations

from pipelines.exports.summary import unresolved_listing
from pipelines.warehouse import memory_warehouse

D, M, EARLIER = "d", "2026-10", "2026-09"


def _staged(con, source: str, month: str, row: int, name: str) -> str:
    key = f"{source}|{source}.csv||{row}"
    con.execute(
        f"""INSERT INTO stg_{source} BY NAME
            SELECT ? AS district, ? AS month, ? AS source, ? AS file, ? AS row_number,
                   ? AS record_key, ? AS name, '东桥镇' AS township""",
        [D, month, source, f"{source}.csv", row, key, name],
    )
    return key


def _one_member():
    """A warehouse whose roster has one member, 王玉玲 of household H1."""
    con = memory_warehouse()
    con.execute(
        "INSERT INTO roster_members BY NAME SELECT ? AS district, ? AS month, * FROM (VALUES "
        "('H1|A', 'H1', '王玉玲', '341502197211262862')) t(member_key, household_id, name, id_number)",
        [D, M],
    )
    return con


def test_every_kind_of_entry_is_listed_once_in_file_order():
    con = memory_warehouse()
    con.execute(
        "INSERT INTO roster_members BY NAME SELECT ? AS district, ? AS month, * FROM (VALUES "
        "('H1|A', 'H1', '王玉玲', '341502197211262862'), ('H2|B', 'H2', '王玉玲', NULL)) "
        "t(member_key, household_id, name, id_number)",
        [D, M],
    )
    unmatched = _staged(con, "education", M, 7, "张三")
    ambiguous = _staged(con, "education", M, 3, "王玉玲")
    enrolment = _staged(con, "medical_enrollment", M, 12, "王玉玲")
    withdrawn = _staged(con, "civil_affairs", EARLIER, 5, "李四")  # a record of an earlier month
    _staged(con, "civil_affairs", M, 5, "另一人")  # same key this month: not the withdrawn row
    con.execute(
        "INSERT INTO unmatched_records VALUES (?, ?, 'unmatched', '无候选', [], ?, 'education'),"
        " (?, ?, 'ambiguous', '多个候选', ['H2|B', 'H1|A'], ?, 'education')",
        [D, M, unmatched, D, M, ambiguous],
    )
    con.execute(
        "INSERT INTO negative_pairs BY NAME SELECT ? AS district, ? AS month, 'w1' AS warning_id,"
        " 'civil_affairs' AS source, ? AS record_key, ? AS record_month, 'H1|A' AS member_key",
        [D, M, withdrawn, EARLIER],
    )
    # one row blocks two members' YB02 (listed in member order); a third entry's row is not staged
    con.execute(
        "INSERT INTO rule_undecided BY NAME SELECT ? AS district, ? AS month, * FROM (VALUES "
        "('YB02', '无法判断', 'H2|B', 'medical_enrollment', ?, 'medical_enrollment.csv', 12, '候选'),"
        "('YB02', '无法判断', 'H1|A', 'medical_enrollment', ?, 'medical_enrollment.csv', 12, '候选'),"
        "('YB02', '无法判断', 'H1|A', 'medical_enrollment', 'gone', 'x.csv', 99, '行已删'),"
        "('YB02', '不可判断', 'H1|A', 'medical_enrollment', ?, 'medical_enrollment.csv', 12, '另议')"
        ") t(rule, kind, member_key, source, record_key, file, row_number, reason)",
        [D, M, enrolment, enrolment, enrolment],
    )
    listed = unresolved_listing(con, D, M)
    rows = listed.select("来源", "文件", "行号", "姓名", "类别", "候选人数").rows()
    assert rows == [
        ("civil_affairs", "civil_affairs.csv", 5, "李四", "非本人撤回", 1),
        ("education", "education.csv", 3, "王玉玲", "待确认(多个候选)", 2),
        ("education", "education.csv", 7, "张三", "未匹配", 0),
        ("medical_enrollment", "medical_enrollment.csv", 12, "王玉玲", "不可判断", 1),
        ("medical_enrollment", "medical_enrollment.csv", 12, "王玉玲", "无法判断", 1),
        ("medical_enrollment", "medical_enrollment.csv", 12, "王玉玲", "无法判断", 1),
        ("medical_enrollment", "x.csv", 99, None, "无法判断", 1),
    ]
    candidates = listed["候选人"].to_list()
    assert (
        candidates[1] == "王玉玲（户编号 H1，证件 341502********2862）；王玉玲（户编号 H2，证件 ）"
    )
    assert [c.split("户编号 ")[1][:2] for c in candidates[4:6]] == ["H1", "H2"]
    assert listed["原因"][6].startswith("YB02 无法判断：行已删")
    assert listed["原因"][3] == "YB02 不可判断：另议；本月不下发乡镇，请部门补正这条记录"


def test_an_ambiguous_record_with_one_candidate_is_not_said_to_have_several():
    """indep17: an ID of one member under another person's name is 待确认 with one candidate (the
    ID's holder); its 类别 had read 待确认(多个候选)."""
    con = _one_member()
    conflict = _staged(con, "public_servants", M, 4, "李四")
    con.execute(
        "INSERT INTO unmatched_records VALUES (?, ?, 'ambiguous', '证件号码属他人', ['H1|A'], ?,"
        " 'public_servants')",
        [D, M, conflict],
    )
    rows = unresolved_listing(con, D, M).select("类别", "候选人数").rows()
    assert rows == [("待确认", 1)]


def test_a_member_a_rule_could_not_judge_without_a_row_is_named_from_the_roster():
    """YB02 for a member of a household whose 户类型 is unreadable, missing from the list: no
    department row to name, so the member is named as the roster names them, and the district
    is sent to the roster, not to a department (an independent probe looked for 魏磊 there)."""
    con = memory_warehouse()
    con.execute(
        "INSERT INTO roster_members BY NAME SELECT ? AS district, ? AS month, * FROM (VALUES "
        "('H1|A', 'H1', '魏磊', '341502197912118214', '三十铺镇', '花园村')) "
        "t(member_key, household_id, name, id_number, township, village)",
        [D, M],
    )
    con.execute(
        "INSERT INTO rule_undecided BY NAME SELECT ? AS district, ? AS month, * FROM (VALUES "
        "('YB02', '不可判断', 'H1|A', 'medical_enrollment', NULL, NULL, NULL, '户类型无法识别')"
        ") t(rule, kind, member_key, source, record_key, file, row_number, reason)",
        [D, M],
    )
    listed = unresolved_listing(con, D, M)
    assert listed.select("来源", "行号", "姓名", "证件号码", "乡镇", "村", "类别").rows() == [
        ("medical_enrollment", None, "魏磊", "341502********8214", "三十铺镇", "花园村", "不可判断")
    ]
    assert listed["原因"][0].endswith("请核对花名册中该户的记录")


def test_an_unmatched_record_shown_with_members_of_its_name_says_why_not_them():
    """indep38: a record whose ID found nobody is listed with the members of its name in its 村
    (the matcher's candidates): its reason no longer says nobody of that name was found, but that
    the ID does not agree with them. One without candidates keeps its reason."""
    from pipelines.matching.labels import NAMESAKE_REASONS, REASONS

    con = _one_member()
    shown = _staged(con, "hrss", M, 3, "王玉玲")
    alone = _staged(con, "hrss", M, 4, "张三")
    missing = REASONS["id_not_in_roster"]
    con.execute(
        "INSERT INTO unmatched_records VALUES (?, ?, 'unmatched', ?, ['H1|A'], ?, 'hrss'),"
        " (?, ?, 'unmatched', ?, [], ?, 'hrss')",
        [D, M, missing, shown, D, M, missing, alone],
    )
    listed = unresolved_listing(con, D, M)
    assert listed.select("行号", "类别", "候选人数").rows() == [(3, "未匹配", 1), (4, "未匹配", 0)]
    assert listed["原因"].to_list() == [NAMESAKE_REASONS[missing], missing]
    assert "按姓名也未找到" not in listed["原因"][0] and "同名成员" in listed["原因"][0]
