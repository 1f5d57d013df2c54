"""The city's evaluation of records routed to a district: a year's sum (YB01) is the household's
whole year, the district's own claims and those routed to it, not the routed rows alone (an
independent probe, indep28: a routed claim raised YB01 for a household the district's own claims
had taken past the threshold in January, and another household's own 3,000 and routed 2,500 of
October were never summed)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.city.districts import City, District
from pipelines.city.routing import routed_warnings
from pipelines.city.schema import CITY_TABLE, ensure_city_schema
from pipelines.warehouse import connect, open_warehouse
from tests.conftest import World

TARGET = District("341502", "金安区", Path())
SENDER = District("341503", "裕安区", Path())
# a third district that sends only a vehicle of a member whose household's claims were routed
OTHER = District("341504", "叶集区", Path())
OCTOBER = "2026-10"
AUGUST = "2026-08"


def _claim(**values) -> dict:
    return {
        "institution": "六安市人民医院",
        "admission_date": date(2026, int(values.pop("month_number", 10)), 3),
        "discharge_date": None,
        **values,
    }


@pytest.fixture
def city(tmp_path: Path):
    target = World(district=TARGET.name)
    sender = World(district=SENDER.name)
    other = World(district=OTHER.name)
    households = {name: target.household("脱贫户") for name in ("sum", "before", "alone", "aug")}
    members = {
        name: target.member(household, f"王{n}", birth=date(1970 + n, 3, 1))
        for n, (name, household) in enumerate(households.items())
    }
    ids = {m["member_key"]: (m["id_number"], m["name"]) for m in target.members}

    def routed(name: str, amount: int, month: str = OCTOBER) -> dict:
        """A claim of the member in the sender district's list, tied to nobody there."""
        id_number, person = ids[members[name]]
        record_key = sender.record(
            "medical_claims", None, month=month, name=person, id_number=id_number,
            id_status="valid", **_claim(month_number=int(month[5:]), total_cost=amount * 2,
                                        self_paid=amount),
        )  # fmt: skip
        return {
            "district": TARGET.name, "month": month, "district_code": TARGET.code,
            "member_key": members[name], "household_id": households[name],
            "township": "东桥镇", "village": "王岗村", "source": "medical_claims",
            "record_key": record_key, "from_district": SENDER.name, "from_code": SENDER.code,
            "file": "medical_claims.csv", "sheet": None,
            "row_number": int(record_key.rsplit("|", 1)[1]),
            "id_number": id_number, "name": person,
        }  # fmt: skip

    # the district's own claims: October 3,000 beside a routed 2,500; January 6,000 (the
    # threshold passed then); October 4,000 beside 1,500 routed in August
    target.record("medical_claims", members["sum"], total_cost=6000, self_paid=3000, **_claim())
    target.record(
        "medical_claims", members["before"], month="2026-01", total_cost=9000, self_paid=6000,
        **_claim(month_number=1),
    )  # fmt: skip
    target.record("medical_claims", members["aug"], total_cost=8000, self_paid=4000, **_claim())
    october = [routed("sum", 2500), routed("before", 2500), routed("alone", 2500)]
    august = [routed("aug", 1500, AUGUST)]
    id_number, person = ids[members["aug"]]
    car = other.record(
        "vehicles", None, name=person, id_number=id_number, id_status="valid",
        plate="皖N12345", vehicle_type="小型轿车", register_date=date(2026, 10, 8),
    )  # fmt: skip
    october.append(
        {**october[0], "member_key": members["aug"], "household_id": households["aug"],
         "source": "vehicles", "record_key": car, "from_district": OTHER.name,
         "from_code": OTHER.code, "file": "vehicles.csv",
         "row_number": int(car.rsplit("|", 1)[1]), "id_number": id_number, "name": person}
    )  # fmt: skip

    districts = []
    for district, world in ((TARGET, target), (SENDER, sender), (OTHER, other)):
        folder = tmp_path / district.code
        placed = District(district.code, district.name, folder)
        placed.layout.database.parent.mkdir(parents=True)
        with open_warehouse(placed.layout.database) as con:
            world.build(con)
        districts.append(placed)
    city = City(tmp_path, tuple(districts), single=False)
    city.database.parent.mkdir(parents=True)
    with connect(city.database) as con:
        ensure_city_schema(con)
        columns = CITY_TABLE["cross_district_ties"].column_names
        con.register("rows", pl.DataFrame(august).select(columns))
        con.execute("INSERT INTO cross_district_ties SELECT * FROM rows")
    ties = pl.DataFrame(october).select(CITY_TABLE["cross_district_ties"].column_names)
    return city, ties, households


def test_a_routed_claim_is_summed_with_the_households_own_year(city):
    city, ties, households = city
    warnings = routed_warnings(city, OCTOBER, ties).filter(pl.col("rule") == "YB01")
    by_household = {row["household_id"]: row for row in warnings.iter_rows(named=True)}
    # own 3,000 and routed 2,500 in October: 5,500 reached this month
    summed = by_household[households["sum"]]
    assert "合计 5,500.00 元" in summed["evidence"]
    assert summed["evidence"].endswith("（来源区县：裕安区）")
    assert any(key.split("|")[1].startswith("裕安区/") for key in summed["record_keys"])
    assert any(not key.split("|")[1].startswith("裕安区/") for key in summed["record_keys"])
    # 4,000 of its own in October on 1,500 routed in August: reached this month too, its
    # source the district that sent the claim (not the one that sent the member's car)
    assert "合计 5,500.00 元" in by_household[households["aug"]]["evidence"]
    assert by_household[households["aug"]]["evidence"].endswith("（来源区县：裕安区）")
    # January's own 6,000 passed the threshold then: October's routed 2,500 is no new warning;
    # a routed 2,500 alone reaches nothing
    assert set(by_household) == {households["sum"], households["aug"]}
    # every month of the year before October was received: none is said to be missing
    assert not warnings["evidence"].str.contains("未收到").any()
