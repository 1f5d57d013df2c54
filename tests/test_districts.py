"""Which districts a data root holds (districts.toml, one folder per district, or the README's
single district), and how an asset's partition finds its district's data and warehouse."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pipelines.city.districts import load_city
from pipelines.config import previous_month
from pipelines.partitions import district_of, month_of, partition_key
from pipelines.resources import FangfanResource


def _district(folder: Path, name: str | None = None) -> Path:
    (folder / "raw" / "2026-10").mkdir(parents=True)
    if name:
        (folder / "rules.toml").write_text(f'[district]\nname = "{name}"\n', encoding="utf-8")
    return folder


def test_a_data_directory_is_a_city_of_one(tmp_path, monkeypatch):
    monkeypatch.delenv("FANGFAN_DISTRICT", raising=False)
    root = _district(tmp_path / "data")
    city = load_city(root)
    assert city.single and city.codes == ["data"]
    assert city.district("data").data_dir == root.resolve()
    _district(tmp_path / "named", "金安区")
    assert load_city(tmp_path / "named").codes == ["金安区"]
    assert load_city(tmp_path / "named", "explicit").codes == ["explicit"]
    # nothing there yet (a fresh `make demo`): still one district, named by its folder
    assert load_city(tmp_path / "empty").codes == ["empty"]


def test_districts_toml_declares_code_name_and_data_directory(tmp_path):
    _district(tmp_path / "a", "ignored: districts.toml names it")
    _district(tmp_path / "elsewhere" / "b")
    (tmp_path / "districts.toml").write_text(
        '[[district]]\ncode = "341502"\nname = "金安区"\ndata_dir = "a"\n'
        f'[[district]]\ncode = "341503"\nname = "裕安区"\ndata_dir = "{tmp_path / "elsewhere/b"}"\n',
        encoding="utf-8",
    )
    city = load_city(tmp_path)
    assert not city.single and city.codes == ["341502", "341503"]
    assert city.district("341503").data_dir == (tmp_path / "elsewhere" / "b").resolve()
    assert city.database == tmp_path.resolve() / "warehouse" / "city.duckdb"
    with pytest.raises(KeyError, match="341599"):
        city.district("341599")


def _declare(root: Path, *districts: tuple[str, str, str]) -> None:
    """districts.toml declaring (code, name, data_dir) for each district."""
    (root / "districts.toml").write_text(
        "".join(
            f'[[district]]\ncode = "{code}"\nname = "{name}"\ndata_dir = "{folder}"\n'
            for code, name, folder in districts
        ),
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    ("districts", "refusal"),
    [
        ([("a|b", "甲", "a")], "不能"),
        ([("a", "甲", "a"), ("a", "乙", "b")], "区县代码重复（a"),
        ([("a", "甲", "a"), ("b", "甲", "b")], "区县名称重复（甲"),
    ],
)
def test_districts_toml_refuses_bad_codes_and_duplicates(tmp_path, districts, refusal):
    _declare(tmp_path, *districts)
    with pytest.raises(ValueError, match=refusal):
        load_city(tmp_path)


def test_one_folder_per_district_under_the_root(tmp_path):
    _district(tmp_path / "341502", "金安区")
    _district(tmp_path / "341503")
    (tmp_path / "warehouse").mkdir()  # not a district: no raw/
    city = load_city(tmp_path)
    assert [(d.code, d.name) for d in city.districts] == [
        ("341502", "金安区"),
        ("341503", "341503"),
    ]


def test_district_folders_whose_settings_share_a_name_are_refused(tmp_path):
    """Three district folders whose rules.toml all say 金安区 (what `fangfan generate` writes):
    the city took them as one district name, and a death 公安 reported for one district's member
    was routed into another district's township file, onto a household with the same 户编号 (an
    independent city probe). Refused, naming the folders and what to change (as names declared
    twice in districts.toml are)."""
    for code in ("341501", "341502", "341503"):
        _district(tmp_path / code, "金安区")
    with pytest.raises(ValueError, match="区县名称重复") as refused:
        load_city(tmp_path)
    assert all(code in str(refused.value) for code in ("341501", "341502", "341503"))
    assert "rules.toml" in str(refused.value)


def test_the_resource_resolves_the_partitions_district(tmp_path):
    _district(tmp_path / "341502", "金安区")
    _district(tmp_path / "341503", "裕安区")
    city = FangfanResource(data_dir=str(tmp_path), export_date="2026-11-06")
    key = partition_key("2026-10", "341503")
    context = SimpleNamespace(partition_key=key, partition_keys=[key])
    settings = city.at(context)
    assert settings.layout.root == (tmp_path / "341503").resolve()
    assert (
        settings.layout.database == (tmp_path / "341503" / "warehouse" / "fangfan.duckdb").resolve()
    )
    assert settings.district_key == "裕安区"
    assert settings.export_date == "2026-11-06"
    assert month_of(context.partition_key) == "2026-10"
    assert district_of("341503|2026-10") == "341503" and month_of("341503|2026-10") == "2026-10"
    # a single district answers for its own key, and only for it
    single = FangfanResource(data_dir=str(tmp_path / "341502"))
    assert single.for_district("金安区") is single
    with pytest.raises(KeyError):
        single.for_district("341503")


def test_previous_month():
    assert previous_month("2026-01") == "2025-12"
    assert previous_month("2026-10") == "2026-09"


def test_the_district_sensor_adds_new_districts_as_partitions(tmp_path):
    import dagster as dg

    from pipelines.definitions import build_definitions

    _district(tmp_path / "341502", "金安区")
    _district(tmp_path / "341503", "裕安区")
    fangfan = FangfanResource(data_dir=str(tmp_path))
    sensor = build_definitions(fangfan).resolve_sensor_def("district_partitions_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"fangfan": fangfan})
        result = sensor(context)
        (request,) = result.dynamic_partitions_requests
        assert request.partitions_def_name == "district"
        assert list(request.partition_keys) == ["341502", "341503"]
        instance.add_dynamic_partitions("district", ["341502", "341503"])
        assert isinstance(sensor(context), dg.SkipReason)
