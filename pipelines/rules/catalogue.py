"""The rule catalogue of the contract (section 4) as data: code, name, source, level, scope."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pipelines.sources import SOURCES


class Level(StrEnum):
    HOUSEHOLD = "户"
    PERSON = "人"


class Scope(StrEnum):
    ALL = "全部"
    MONITORED = "重点"


class Direction(StrEnum):
    RISK = "风险"
    SUPPORT = "帮扶"
    PRECISION = "精准"


MONITORED_TYPES = ("脱贫户", "监测户")


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    source: str
    level: Level
    scope: Scope
    risk_type: str
    direction: Direction
    # fires because a member is NOT in the source: only on a complete month (contract §4)
    absence: bool = False

    @property
    def department(self) -> str:
        return SOURCES[self.source].department


_H, _P = Level.HOUSEHOLD, Level.PERSON
_ALL, _MON = Scope.ALL, Scope.MONITORED
_R, _S, _X = Direction.RISK, Direction.SUPPORT, Direction.PRECISION

RULES: tuple[Rule, ...] = (
    Rule("YB01", "医疗自付费用高", "medical_claims", _H, _ALL, "因病", _R),
    Rule("YB02", "未参保", "medical_enrollment", _P, _MON, "基本医疗保障", _S, absence=True),
    Rule("MZ01", "新纳入低保特困", "civil_affairs", _H, _ALL, "收入骤减或支出骤增", _R),
    Rule("MZ02", "临时救助", "civil_affairs", _H, _ALL, "突发严重困难", _R),
    Rule("MZ03", "退出低保", "civil_affairs", _H, _MON, "收入骤减或支出骤增", _R),
    Rule("JY01", "义务教育辍学", "education", _P, _ALL, "义务教育保障", _R),
    Rule("JY02", "新入学大学生", "education", _P, _ALL, "因学", _R),
    Rule("JY03", "在校生未享受资助", "education", _P, _MON, "因学", _S),
    Rule("GA01", "家庭成员死亡", "public_security", _P, _ALL, "缺劳动力", _R),
    Rule("GA02", "拥有机动车", "vehicles", _P, _MON, "—", _X),
    Rule("ZJ01", "危房", "housing", _H, _ALL, "住房安全", _R),
    Rule("ZJ02", "购买商品房", "property", _P, _MON, "—", _X),
    Rule("CL01", "新增残疾", "disability", _P, _ALL, "因残", _R),
    Rule("CL02", "重度残疾未享补贴", "disability", _P, _MON, "因残", _S),
    Rule("YJ01", "受灾损失大", "emergency", _H, _ALL, "因灾", _R),
    Rule("RS01", "失业登记", "hrss", _P, _ALL, "务工就业不稳", _R),
    Rule("CZ01", "财政供养人员", "public_servants", _P, _MON, "—", _X),
    Rule("SJ01", "经营市场主体", "market", _P, _MON, "—", _X),
    Rule("XF01", "涉访户", "petition", _H, _ALL, "其他", _R),
    Rule("SL01", "饮水不安全", "water", _H, _ALL, "饮水安全", _R),
)

RULES_BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}
