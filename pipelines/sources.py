"""The source registry: every folder of the raw layout, its department, header aliases and field types."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class FieldType(StrEnum):
    TEXT = "text"
    ID = "id"  # 证件号码: normalised by pipelines.matching.ids
    NAME = "name"  # a person's name: cleaned, never fuzzed at ingest
    DATE = "date"
    MONTH = "month"  # 入学年月: a year and month, stored as the first day of the month
    AMOUNT = "amount"  # 元 / 万元: blank = unknown (null), never zero
    INT = "int"
    YEAR = "year"  # 参保年度: four digits, 2026 / 2026.0 / 2026年度; 26 is ambiguous
    YESNO = "yesno"  # 是/否 -> bool


@dataclass(frozen=True)
class Field:
    """One canonical column: its code name, accepted headers, type, and whether a row needs it."""

    name: str
    headers: tuple[str, ...]
    type: FieldType = FieldType.TEXT
    required: bool = False
    # Values the field may hold; anything else is a reject. Empty = free text.
    allowed: tuple[str, ...] = ()
    # Other spellings departments use for an allowed value: (as written, allowed value); for a
    # 是/否 field, the field's own words for yes and no (房屋倒塌: 倒塌 is 是), as written -> 是/否
    synonyms: tuple[tuple[str, str], ...] = ()
    # the unit an AMOUNT column is in (a cell that says 万 or 元 itself is converted to it)
    unit: str = "元"
    # a long number written as text (户编号) that Excel destroys when it takes it for a number:
    # shown in scientific notation, or stored with only its first 15 digits (ingest/table.py)
    long_code: bool = False
    # a warning rule decides on it (tests/rules/test_catalogue.py keeps the two in step): a table
    # without its column gives each of its rows a field problem, so the rule counts them as
    # 不可判断 and an absence rule is blocked, instead of taking the unknown for "no"
    decides: bool = False
    # a required field of the roster whose cell is blank or unreadable without the row losing
    # its identity (户类型): a field problem, the row kept with the field null (contract §2),
    # not a rejected row; whatever needs the field says it could not tell (不可判断)
    keeps_row: bool = False
    # a column the contract does not list that departments send and a rule reads when it is
    # there (a vehicle's 机动车状态): never required, never written by the generators
    beyond_contract: bool = False


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    department: str
    fields: tuple[Field, ...]
    # household-level files name the 户主 (户主姓名 is the name alias there)
    household_level: bool = False
    # a department record needs a name or a usable ID; roster/grid/feedback have their own rules
    is_department: bool = True

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.key} has no field {name!r}")


def normalise_header(text: object) -> str:
    """Header cell -> comparable key: NFKC (full-width brackets fold), no whitespace, no '*'."""
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKC", str(text))
    return re.sub(r"[\s*＊]+", "", folded)


NAME_HEADERS = (
    "姓名",
    "人员姓名",
    "户主姓名",
    "学生姓名",
    "参保人姓名",
    "患者姓名",
    "救助对象姓名",
    "申请人姓名",
)
ID_HEADERS = ("证件号码", "身份证号", "身份证号码", "公民身份号码", "身份证件号码")
TOWNSHIP_HEADERS = ("乡镇", "乡镇（街道）", "所在乡镇", "乡镇街道")
VILLAGE_HEADERS = ("村", "行政村", "村（社区）", "所在村")
GROUP_HEADERS = ("组", "村民组", "村民小组")

YES_NO = ("是", "否")


# a household-level file names the 户主, and the 户主's ID beside the name (户主身份证号); in a
# person-level file that header is another column (the head's ID beside the person's)
HEAD_ID_HEADERS = ("户主身份证号", "户主身份证号码", "户主证件号码", "户主公民身份号码")


def _common(
    *, name_headers: tuple[str, ...] = NAME_HEADERS, id_headers: tuple[str, ...] = ID_HEADERS
) -> tuple[Field, ...]:
    return (
        Field("name", name_headers, FieldType.NAME),
        Field("id_number", id_headers, FieldType.ID),
        Field("township", TOWNSHIP_HEADERS),
        Field("village", VILLAGE_HEADERS),
        Field("group", GROUP_HEADERS),
    )


def _dept(
    key: str,
    title: str,
    department: str,
    *fields: Field,
    household_level: bool = False,
) -> Source:
    # household-level files name the 户主: when a file has both 户主姓名 and 姓名, take 户主姓名;
    # a person-level file names the person (救助对象姓名 …) and 户主姓名 only when nothing else
    others = tuple(h for h in NAME_HEADERS if h != "户主姓名")
    name_headers = ("户主姓名", *others) if household_level else (*others, "户主姓名")
    return Source(
        key=key,
        title=title,
        department=department,
        fields=_common(
            name_headers=name_headers,
            id_headers=(*ID_HEADERS, *HEAD_ID_HEADERS) if household_level else ID_HEADERS,
        )
        + tuple(fields)
        + (DEPARTMENT_BIRTH_DATE, DEPARTMENT_REMARK),
        household_level=household_level,
    )


# not among the contract's columns, but many departments' files carry it (残疾人证, 户籍, 学生,
# 参保名册): the record's own birth date tells namesakes without a usable ID apart, as the
# contract's matching by "name + 乡镇 + 村 (+ birth date, where known)" asks (an independent probe,
# indep38: a grandfather's death and his grandson's, same name, same household, no IDs, left
# 待确认 though the file's 出生日期 told them apart). A date without its day is no birth date here
DEPARTMENT_BIRTH_DATE = Field(
    "birth_date", ("出生日期", "出生年月日", "出生年月"), FieldType.DATE, beyond_contract=True
)
# not among the contract's columns either: a 备注 that says the row is void (作废, 录入错误, 非本辖区)
# or that the person died changes what a person reading the row takes from it (rules.spec.
# VOID_REMARK: such a row is 不可判断 for the district, never a visit). An independent probe
# (indep42) found 备注 作废, 已死亡 and 非本辖区 rows sent to townships: 7 false warnings, 2 红
DEPARTMENT_REMARK = Field(
    "remark", ("备注", "备注说明", "备注栏", "情况说明"), beyond_contract=True
)


ROSTER = Source(
    key="roster",
    title="农户花名册",
    department="乡村振兴局",
    is_department=False,
    fields=(
        Field("township", TOWNSHIP_HEADERS, required=True),
        Field("village", VILLAGE_HEADERS, required=True),
        Field("group", GROUP_HEADERS),
        Field("grid", ("网格", "村组网格名称", "网格名称"), required=True),
        Field("household_id", ("户编号",), required=True, long_code=True),
        # in the roster 户主姓名 is its own column, so it is not a name alias here
        Field("head_name", ("户主姓名",), FieldType.NAME),
        Field("name", tuple(h for h in NAME_HEADERS if h != "户主姓名"), FieldType.NAME, True),
        Field("id_number", ID_HEADERS, FieldType.ID),
        Field("relation", ("与户主关系",)),
        Field(
            "household_type",
            ("户类型",),
            required=True,
            keeps_row=True,
            allowed=("脱贫户", "监测户", "一般农户"),
            synonyms=(
                ("普通农户", "一般农户"),
                ("普通户", "一般农户"),
                ("农户", "一般农户"),
                ("其他农户", "一般农户"),
                ("非脱贫户", "一般农户"),
                ("非监测户", "一般农户"),
                # 建档立卡户: the households registered poor before 2021, all 脱贫户 since
                ("建档立卡户", "脱贫户"),
                ("稳定脱贫户", "脱贫户"),
                ("脱贫不享受政策户", "脱贫户"),
                ("防返贫监测对象", "监测户"),
                ("防止返贫监测对象", "监测户"),
                ("纳入监测户", "监测户"),
                ("监测帮扶户", "监测户"),
                ("一般户", "一般农户"),
                ("一般", "一般农户"),
                ("非贫困户", "一般农户"),
                ("非建档立卡户", "一般农户"),
                ("监测对象", "监测户"),
                ("防返贫监测户", "监测户"),
                ("防止返贫监测户", "监测户"),
                # the three 监测对象类别 (contract §3) written where the household type goes
                ("脱贫不稳定户", "监测户"),
                ("边缘易致贫户", "监测户"),
                ("突发严重困难户", "监测户"),
                # their shorthands: 边缘户 (边缘易致贫户), 脱贫监测户 (脱贫不稳定户), 突发困难户
                ("边缘户", "监测户"),
                ("边缘易致贫", "监测户"),
                ("脱贫监测户", "监测户"),
                ("脱贫不稳定", "监测户"),
                ("突发困难户", "监测户"),
                ("突发严重困难", "监测户"),
                ("脱贫人口", "脱贫户"),
                ("已脱贫户", "脱贫户"),
                ("建档立卡脱贫户", "脱贫户"),
            ),
        ),  # fmt: skip
        Field("sex", ("性别",)),
        Field("birth_date", ("出生日期",), FieldType.DATE),
        Field("monitor_category", ("监测对象类别",)),
        Field("risk_eliminated", ("风险是否消除", "风险是否已消除"), FieldType.YESNO),
        Field("labor_skill", ("劳动技能",)),
        Field("health", ("健康状况",)),
        Field("household_size", ("家庭人口数",), FieldType.INT),
        Field("phone", ("联系电话",)),
        Field("income_per_capita", ("家庭年人均纯收入",), FieldType.AMOUNT),
    ),
)

# The grid ledger (附件2) has its own parser (two-row header, title-row 乡镇/村); these are the
# flat CSV headers, also used as the canonical columns of the parsed workbook.
GRID = Source(
    key="grid",
    title="防止返贫动态监测基层网格工作台账",
    department="乡村振兴局",
    is_department=False,
    fields=(
        # a ledger titled with its village only leaves its 乡镇 to the roster (roster.py)
        Field("township", TOWNSHIP_HEADERS),
        Field("village", VILLAGE_HEADERS, required=True),
        Field("grid", ("村组网格名称", "网格"), required=True),
        Field("households", ("农户数",), FieldType.INT),
        Field("worker_name", ("村组网格员姓名",), FieldType.NAME),
        Field("worker_phone", ("村组网格员电话", "村组网格员联系电话")),
        Field("village_worker_name", ("村级网格员姓名",), FieldType.NAME),
        Field("village_worker_title", ("村级网格员职务",)),
        Field("village_worker_phone", ("村级网格员电话", "村级网格员联系电话")),
    ),
)

DEPARTMENT_SOURCES: tuple[Source, ...] = (
    _dept(
        "medical_claims",
        "医保结算明细",
        "医保局",
        Field("institution", ("就诊机构",)),
        Field("admission_date", ("入院日期",), FieldType.DATE),
        Field("discharge_date", ("出院日期", "结算日期"), FieldType.DATE),
        Field("total_cost", ("医疗总费用",), FieldType.AMOUNT),
        Field("fund_paid", ("统筹支付",), FieldType.AMOUNT),
        Field("critical_illness_paid", ("大病保险支付",), FieldType.AMOUNT),
        Field("assistance_paid", ("医疗救助支付",), FieldType.AMOUNT),
        Field("self_paid", ("个人自付",), FieldType.AMOUNT, decides=True),
    ),
    _dept(
        "medical_enrollment",
        "医保参保名册",
        "医保局",
        Field("enroll_year", ("参保年度",), FieldType.YEAR),
        Field(
            "enroll_status",
            ("参保状态",),
            decides=True,
            allowed=("正常参保", "未参保", "暂停"),
            synonyms=(
                ("参保", "正常参保"),
                ("已参保", "正常参保"),
                ("正常", "正常参保"),
                ("参保缴费", "正常参保"),
                # 城乡居民医保 is enrolment by paying the year's premium: paid is enrolled
                ("正常缴费", "正常参保"),
                ("已缴费", "正常参保"),
                ("缴费正常", "正常参保"),
                ("参保正常", "正常参保"),
                ("在保", "正常参保"),
                ("暂停缴费", "暂停"),
                ("中止参保", "暂停"),
                ("未参加", "未参保"),
                ("停保", "暂停"),
                ("暂停参保", "暂停"),
                # withdrawn from the insurance: not enrolled
                ("退保", "未参保"),
                ("已退保", "未参保"),
            ),
        ),  # fmt: skip
        Field("subsidized", ("资助参保",), FieldType.YESNO),
    ),
    _dept(
        "civil_affairs",
        "社会救助变动名册",
        "民政局",
        Field(
            "assistance_type",
            ("救助类型",),
            required=True,
            allowed=("低保", "特困", "临时救助"),
            synonyms=(
                ("农村低保", "低保"),
                ("城乡低保", "低保"),
                ("低保户", "低保"),
                ("低保对象", "低保"),
                ("最低生活保障", "低保"),
                ("农村最低生活保障", "低保"),
                # the scheme's full name (城乡居民最低生活保障) and its people (低保户, 低保人员)
                ("城乡居民最低生活保障", "低保"),
                ("农村居民最低生活保障", "低保"),
                ("城市居民最低生活保障", "低保"),
                ("最低生活保障金", "低保"),
                ("农村低保户", "低保"),
                ("城市低保户", "低保"),
                ("低保人员", "低保"),
                ("特困供养", "特困"),
                ("特困人员", "特困"),
                ("特困人员供养", "特困"),
                ("特困供养人员", "特困"),
                ("农村特困供养", "特困"),
                # the scheme's official name is 特困人员救助供养; not 分散供养 / 集中供养 alone
                # (orphans are 集中/分散供养 too)
                ("特困人员救助供养", "特困"),
                ("特困救助供养", "特困"),
                ("特困户", "特困"),
                ("特困对象", "特困"),
                # the two ways 特困 people are supported, as 民政's systems name the category
                ("分散特困", "特困"),
                ("集中特困", "特困"),
                ("农村特困", "特困"),
                ("城市特困", "特困"),
                ("分散供养特困人员", "特困"),
                ("分散供养特困", "特困"),
                ("集中供养特困", "特困"),
                ("农村特困人员救助供养", "特困"),
                ("城市特困人员救助供养", "特困"),
                ("集中供养特困人员", "特困"),
                ("特困人员分散供养", "特困"),
                ("特困人员集中供养", "特困"),
                ("五保", "特困"),  # merged into 特困 in 2014: still written so
                ("五保户", "特困"),
                ("城市低保", "低保"),
                ("城镇低保", "低保"),
                ("临时救助金", "临时救助"),
                ("临时性救助", "临时救助"),
                ("临时救助对象", "临时救助"),
                ("急难型临时救助", "临时救助"),
                ("支出型临时救助", "临时救助"),
            ),
        ),  # fmt: skip
        Field(
            "change_type",
            ("变动类型",),
            decides=True,
            allowed=("新增", "退出", "在保"),
            synonyms=(
                ("新纳入", "新增"),
                ("新批", "新增"),
                ("纳入", "新增"),
                ("首次纳入", "新增"),
                ("新纳入保障", "新增"),
                ("新增对象", "新增"),
                ("新增人员", "新增"),
                ("停保", "退出"),
                ("取消", "退出"),
                ("终止", "退出"),
                ("注销", "退出"),
                ("退出保障", "退出"),
                ("退保", "退出"),
                ("取消保障", "退出"),
                ("停止保障", "退出"),
                # not 停发 (a payment may be held for a while) or 减员 (a member out, the
                # household still in): either may be one or the other
                ("续保", "在保"),
                ("正常", "在保"),
                ("正常在保", "在保"),
                ("正常发放", "在保"),
                ("继续享受", "在保"),
            ),
        ),  # fmt: skip
        Field("covered_people", ("保障人数",), FieldType.INT),
        Field("amount", ("金额",), FieldType.AMOUNT),
        Field("change_date", ("变动日期",), FieldType.DATE),
    ),
    _dept(
        "education",
        "学生名册",
        "教育局",
        Field("student_no", ("学籍号",)),
        Field("school", ("学校",)),
        Field(
            "stage",
            ("学段",),
            decides=True,
            allowed=("学前", "小学", "初中", "高中", "中职", "高校"),
            synonyms=(
                ("幼儿园", "学前"),
                ("学前班", "学前"),
                ("学前教育", "学前"),
                ("学前阶段", "学前"),
                ("小学阶段", "小学"),
                ("普通小学", "小学"),
                ("初级中学", "初中"),
                ("初中阶段", "初中"),
                ("普通初中", "初中"),
                ("高级中学", "高中"),
                ("高中阶段", "高中"),
                ("中等职业教育", "中职"),
                ("中等职业学校", "中职"),
                ("职业高中", "中职"),
                ("技工学校", "中职"),
                ("大学本科", "高校"),
                ("普通本科", "高校"),
                ("本科生", "高校"),
                ("大学专科", "高校"),
                ("专科生", "高校"),
                ("高职高专", "高校"),
                ("高等职业教育", "高校"),
                ("高等院校", "高校"),
                ("普通高校", "高校"),
                # not 中学 (初中 or 高中), 职校 (中职 or 高职), 九年一贯制 or 义务教育
                ("普高", "高中"),
                ("普通高中", "高中"),
                ("职高", "中职"),
                ("中专", "中职"),
                ("技校", "中职"),
                ("本科", "高校"),
                ("专科", "高校"),
                ("大专", "高校"),
                ("高职", "高校"),
                ("大学", "高校"),
                ("研究生", "高校"),
                ("硕士", "高校"),
                ("博士", "高校"),
                ("高等教育", "高校"),
            ),
        ),  # fmt: skip
        Field("grade", ("年级",)),
        Field(
            "school_status",
            ("在校状态",),
            decides=True,
            allowed=("在读", "辍学", "休学", "毕业"),
            synonyms=(
                ("在校", "在读"),
                ("就读", "在读"),
                ("在校生", "在读"),
                ("正常在读", "在读"),
                ("在学", "在读"),
                ("辍学在家", "辍学"),
                ("已辍学", "辍学"),
                ("中途辍学", "辍学"),
                ("休学中", "休学"),
                ("辍学中", "辍学"),
                # registered and attending (not 在籍 alone)
                ("在籍在读", "在读"),
                ("因病休学", "休学"),
                ("毕业离校", "毕业"),
                # not 离校 (毕业 or 辍学) or 在籍 (registered, not necessarily attending)
                ("失学", "辍学"),
                ("失学辍学", "辍学"),
                ("退学", "辍学"),
                ("已毕业", "毕业"),
            ),
        ),  # fmt: skip
        Field("enrol_month", ("入学年月",), FieldType.MONTH, decides=True),
        Field(
            "aided",
            ("是否享受资助",),
            FieldType.YESNO,
            decides=True,
            synonyms=(
                ("已资助", "是"),
                ("享受资助", "是"),
                ("已享受资助", "是"),
                ("未资助", "否"),
                ("无资助", "否"),
                ("没有资助", "否"),
                ("未享受资助", "否"),
                # not 已申请 / 申请中 (applied for, not yet granted)
            ),
        ),  # fmt: skip
    ),
    _dept(
        "public_security",
        "户籍变动",
        "公安分局",
        Field(
            "change_type",
            ("变动类型",),
            required=True,
            allowed=("死亡", "迁出", "迁入", "出生"),
            synonyms=(
                ("死亡注销", "死亡"),
                ("注销（死亡）", "死亡"),
                ("注销(死亡)", "死亡"),
                ("注销户口(死亡)", "死亡"),
                ("死亡销户", "死亡"),
                ("因死亡注销", "死亡"),
                ("死亡注销户口", "死亡"),
                ("去世", "死亡"),
                ("已故", "死亡"),
                ("病故", "死亡"),
                ("亡故", "死亡"),
                ("身故", "死亡"),
                ("逝世", "死亡"),
                # not 注销 alone: death, moving out, joining the army all cancel a 户口
                ("迁出注销", "迁出"),
                ("户口迁出", "迁出"),
                ("外迁", "迁出"),
                ("户口迁入", "迁入"),
                ("新生儿登记", "出生"),
                ("新生儿入户", "出生"),
                ("出生入户", "出生"),
                ("出生申报", "出生"),
                ("出生登记", "出生"),
                ("迁入登记", "迁入"),
            )
            # the cancellation and its cause, as the 户籍 system prints them (户口注销-死亡,
            # 注销：迁出, 户口注销（死亡）)
            + tuple(
                (form.format(cancel, sep, cause), cause)
                for cause in ("死亡", "迁出")
                for cancel in ("户口注销", "注销户口", "注销")
                for sep in ("-", "—", "－", ":", "：", "/", "、")
                for form in ("{0}{1}{2}", "{2}{1}{0}")
            )
            + tuple((f"户口注销({cause})", cause) for cause in ("死亡", "迁出")),
        ),  # fmt: skip
        Field("change_date", ("变动日期",), FieldType.DATE),
        Field("address", ("住址",)),
    ),
    _dept(
        "vehicles",
        "机动车登记",
        "公安分局",
        Field("plate", ("号牌号码",)),
        Field(
            "vehicle_type",
            ("车辆类型",),
            required=True,
            allowed=(
                "小型轿车",
                "小型普通客车",
                "中型客车",
                "轻型货车",
                "三轮汽车",
                "摩托车",
                "拖拉机",
            ),
            # the names and codes of the 机动车类型 standard (GA 802) the 交警 system exports;
            # not 小型客车 / 小型汽车 alone (a 号牌 kind covering several types)
            synonyms=(
                ("轿车", "小型轿车"),
                ("小轿车", "小型轿车"),
                ("K33", "小型轿车"),
                ("K33小型轿车", "小型轿车"),
                ("K31", "小型普通客车"),
                ("K31小型普通客车", "小型普通客车"),
                ("中型普通客车", "中型客车"),
                ("K21", "中型客车"),
                ("K21中型普通客车", "中型客车"),
                ("轻型普通货车", "轻型货车"),
                ("轻型厢式货车", "轻型货车"),
                ("H31", "轻型货车"),
                ("H31轻型普通货车", "轻型货车"),
                ("N11", "三轮汽车"),
                ("普通二轮摩托车", "摩托车"),
                ("二轮摩托车", "摩托车"),
                ("普通正三轮摩托车", "摩托车"),
                ("轻便二轮摩托车", "摩托车"),
                ("手扶拖拉机", "拖拉机"),
                ("轮式拖拉机", "拖拉机"),
            ),
        ),  # fmt: skip
        Field("register_date", ("初次登记日期",), FieldType.DATE),
        # not in the contract's columns: the 交警 system exports it, and a car 注销 or 报废 is
        # no longer the member's (rules/catalogue.py, _NOT_ENDED)
        Field("status", ("机动车状态", "车辆状态", "状态"), beyond_contract=True),
    ),
    _dept(
        "housing",
        "农村房屋安全鉴定",
        "住建局",
        Field(
            "grade",
            ("鉴定等级",),
            required=True,
            allowed=("A", "B", "C", "D"),
            # the 鉴定导则's words: C 局部危险 / 局部危房, D 整体危险 / 整幢危房
            synonyms=tuple(
                (form.format(g), g)
                for g in ("C", "D")
                for form in ("{}级危房", "{}类危房", "{}级危房户", "{}级危险房屋", "危房({}级)")
            )
            + (
                ("局部危房", "C"),
                ("局部危险", "C"),
                ("整幢危房", "D"),
                ("整栋危房", "D"),
                ("整体危险", "D"),
            ),
        ),
        Field("appraisal_date", ("鉴定日期",), FieldType.DATE),
        household_level=True,
    ),
    _dept(
        "property",
        "商品房登记",
        "不动产登记中心",
        Field("location", ("坐落",)),
        Field("floor_area", ("建筑面积",), FieldType.AMOUNT, unit="平方米"),
        Field("register_date", ("登记日期",), FieldType.DATE),
    ),
    _dept(
        "disability",
        "残疾人证",
        "残联",
        Field("category", ("残疾类别",)),
        Field(
            "disability_level",
            ("残疾等级",),
            decides=True,
            allowed=("一级", "二级", "三级", "四级"),
            synonyms=(
                ("1级", "一级"),
                ("2级", "二级"),
                ("3级", "三级"),
                ("4级", "四级"),
                ("1", "一级"),
                ("2", "二级"),
                ("3", "三级"),
                ("4", "四级"),
                ("一", "一级"),
                ("二", "二级"),
                ("三", "三级"),
                ("四", "四级"),
                # 壹/贰/叁/肆 as on a cheque, and Roman numerals (Ⅰ级 folds to I级)
                ("壹级", "一级"),
                ("贰级", "二级"),
                ("叁级", "三级"),
                ("肆级", "四级"),
                ("I级", "一级"),
                ("II级", "二级"),
                ("III级", "三级"),
                ("IV级", "四级"),
            )
            # the card writes the category with the level (肢体二级, 视力一级)
            + tuple(
                (form.format(kind, level), level)
                for level in ("一级", "二级", "三级", "四级")
                for kind in ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
                for form in ("{}{}", "{1}{0}")
            )
            + tuple((f"{level}残疾", level) for level in ("一级", "二级", "三级", "四级")),
        ),  # fmt: skip
        Field("issue_date", ("发证日期",), FieldType.DATE, decides=True),
        Field("living_subsidy", ("困难残疾人生活补贴",), FieldType.YESNO),
        Field("care_subsidy", ("重度残疾人护理补贴",), FieldType.YESNO, decides=True),
        # not in the contract's columns: a card 注销 (its holder died or moved away) is no one's
        Field("status", ("证件状态", "残疾证状态", "持证状态", "状态"), beyond_contract=True),
    ),
    _dept(
        "emergency",
        "受灾户名单",
        "应急局",
        Field("disaster_type", ("灾种",)),
        Field("disaster_date", ("受灾日期",), FieldType.DATE),
        Field("loss", ("直接经济损失（元）", "直接经济损失"), FieldType.AMOUNT, decides=True),
        Field(
            "house_collapsed",
            ("房屋倒塌",),
            FieldType.YESNO,
            decides=True,
            # not 部分倒塌 or 损坏 (倒塌 or not is what the column asks)
            synonyms=(
                ("倒塌", "是"),
                ("已倒塌", "是"),
                ("全倒", "是"),
                ("全部倒塌", "是"),
                ("未倒塌", "否"),
                ("无倒塌", "否"),
                ("没倒塌", "否"),
                ("没有倒塌", "否"),
            ),
        ),  # fmt: skip
        household_level=True,
    ),
    _dept(
        "hrss",
        "就业失业登记",
        "人社局",
        Field(
            "register_type",
            ("登记类型",),
            required=True,
            allowed=("失业登记", "就业登记"),
            synonyms=(
                ("失业", "失业登记"),
                ("就业", "就业登记"),
                ("登记失业", "失业登记"),
                ("登记就业", "就业登记"),
                ("失业人员登记", "失业登记"),
                ("失业人员", "失业登记"),
                ("就业人员登记", "就业登记"),
                ("灵活就业登记", "就业登记"),
                ("灵活就业", "就业登记"),
            ),
        ),  # fmt: skip
        Field("register_date", ("登记日期",), FieldType.DATE),
    ),
    _dept(
        "public_servants",
        "财政供养人员名单",
        "区委组织部",
        Field("employer", ("单位",)),
        Field("position", ("职务",)),
        Field("hire_date", ("入职日期",), FieldType.DATE),
    ),
    _dept(
        "market",
        "市场主体登记",
        "市场监管局",
        Field("entity_name", ("主体名称",)),
        Field("credit_code", ("统一社会信用代码",)),
        Field(
            "role",
            ("身份",),
            decides=True,
            allowed=("法定代表人", "股东", "经营者"),
            synonyms=(
                ("法人", "法定代表人"),
                ("法人代表", "法定代表人"),
                ("投资人", "股东"),
                ("出资人", "股东"),
                ("自然人股东", "股东"),
                # not 法人股东 (a company holds the share)
                ("个体工商户经营者", "经营者"),
                ("个体工商户", "经营者"),
                ("个体户", "经营者"),
                ("个体经营者", "经营者"),
                ("负责人", "经营者"),
            ),
        ),  # fmt: skip
        Field(
            "capital", ("注册资本（万元）", "注册资本"), FieldType.AMOUNT, unit="万元", decides=True
        ),
        Field("established_date", ("成立日期",), FieldType.DATE),
        # not in the contract's columns: an entity 注销 or 吊销 is run by no one
        Field(
            "status", ("登记状态", "经营状态", "企业状态", "主体状态", "状态"), beyond_contract=True
        ),
    ),
    _dept(
        "petition",
        "信访登记",
        "信访局",
        Field("matter", ("信访事项",)),
        Field("register_date", ("登记日期",), FieldType.DATE, required=True),
    ),
    _dept(
        "water",
        "饮水安全排查",
        "水利局",
        Field("problem_type", ("问题类型",)),
        Field(
            "resolved",
            ("是否解决",),
            FieldType.YESNO,
            required=True,
            # the 排查整改 words: 已整改 is solved, 未整改 / 待解决 is not; not 整改中 (as 正在解决)
            synonyms=(
                ("已整改", "是"),
                ("整改完成", "是"),
                ("已完成整改", "是"),
                ("未整改", "否"),
                ("待整改", "否"),
                ("待解决", "否"),
            ),
        ),  # fmt: skip
        household_level=True,
    ),
)

# The township's own warning list returned with 核实结果 filled in (contract section 5). Clerks
# reorder, add and delete columns; only 预警编号 is needed to find the warning.
FEEDBACK = Source(
    key="feedback",
    title="乡镇核实结果",
    department="乡镇",
    is_department=False,
    fields=(
        Field("warning_id", ("预警编号",), required=True),
        Field("township", TOWNSHIP_HEADERS),
        Field("village", VILLAGE_HEADERS),
        Field("household_id", ("户编号",), long_code=True),
        Field("rule", ("预警代码",)),
        Field("verdict", ("核实结果",)),
        Field("verification_note", ("核实说明",)),
        Field("verifier", ("核实人",), FieldType.NAME),
        Field("verified_date", ("核实日期",), FieldType.DATE),
    ),
)

SOURCES: dict[str, Source] = {s.key: s for s in (ROSTER, GRID, *DEPARTMENT_SOURCES, FEEDBACK)}
DEPARTMENT_KEYS: tuple[str, ...] = tuple(s.key for s in DEPARTMENT_SOURCES)
FEEDBACK_KEY = FEEDBACK.key
# every folder of raw/<M>/ the pipeline reads
ALL_SOURCE_KEYS: tuple[str, ...] = ("roster", "grid", *DEPARTMENT_KEYS, FEEDBACK_KEY)
