"""Synthetic persons: valid and unique resident IDs that agree with the other columns, reproducibly."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from zhengwu.errors import ValidationError
from zhengwu.identifiers import counties, parse_resident_id
from zhengwu.synthetic import PERSON_SCHEMA, generate_persons, person_pool
from zhengwu.synthetic import names as tables
from zhengwu.synthetic import persons as persons_module
from zhengwu.synthetic._common import BLOCK_ROWS, Chooser, GroupedChooser

AS_OF = dt.date(2026, 1, 1)
SAMPLE = 20_000
PHONE = re.compile(r"^1[3-9][0-9]{9}$")


def table(**kwargs: Any) -> pa.Table:
    return pa.Table.from_batches(list(generate_persons(**kwargs)), schema=PERSON_SCHEMA)


@pytest.fixture(scope="module")
def sample() -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = table(count=SAMPLE, seed=2026).to_pydict()
    return rows


def test_every_resident_id_is_valid_and_agrees_with_its_row(sample: dict[str, list[Any]]) -> None:
    columns = ("resident_id", "birth_date", "sex", "household_region_code")
    for rid, born, sex, home in zip(*(sample[c] for c in columns), strict=True):
        parsed = parse_resident_id(rid, strict=True, today=AS_OF)
        assert parsed.birth_date == born
        assert parsed.sex == ("male" if sex == "M" else "female")
        assert parsed.region_code == home


def test_resident_ids_are_unique(sample: dict[str, list[Any]]) -> None:
    assert len(set(sample["resident_id"])) == SAMPLE


def test_check_digits_match_an_independent_computation(sample: dict[str, list[Any]]) -> None:
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    for rid in sample["resident_id"][:2000]:
        total = sum(int(d) * w for d, w in zip(rid[:17], weights, strict=True))
        assert rid[17] == "10X98765432"[total % 11]


def test_regions_belong_to_the_province_and_were_valid_when_the_number_was_issued(
    sample: dict[str, list[Any]],
) -> None:
    known = {r.code: r for r in counties(current_only=False, under="330000")}
    current = {r.code for r in counties(current_only=True, under="330000")}
    for home, now, born in zip(
        sample["household_region_code"], sample["current_region_code"], sample["birth_date"], strict=True
    ):
        region = known[home]
        issued = max(born.year, persons_module.FIRST_ISSUE_YEAR)
        assert region.valid_from is None or region.valid_from <= issued
        assert region.valid_to is None or region.valid_to >= issued
        assert now in current
    homes = Counter(sample["household_region_code"])
    assert len(homes) > 80  # spread over the province, historical codes included
    assert any(not known[code].current for code in homes)


def test_addresses_start_with_the_household_region(sample: dict[str, list[Any]]) -> None:
    known = {r.code: r for r in counties(current_only=False, under="330000")}
    for home, address in zip(sample["household_region_code"], sample["household_address"], strict=True):
        assert address.startswith(known[home].full_name)
        assert "号" in address


def test_sex_ratio_ages_and_status_are_plausible(sample: dict[str, list[Any]]) -> None:
    males = sample["sex"].count("M") / SAMPLE
    assert 0.49 < males < 0.535
    ages = np.asarray([(AS_OF - born).days / 365.2425 for born in sample["birth_date"]])
    assert ages.min() >= 0 and ages.max() < 101.1
    assert 0.15 < (ages < 18).mean() < 0.25
    assert 0.15 < (ages >= 60).mean() < 0.28
    for status, born, died in zip(sample["status"], sample["birth_date"], sample["death_date"], strict=True):
        assert status in ("living", "deceased")
        if status == "deceased":
            assert born < died < AS_OF
        else:
            assert died is None
    assert 0.005 < sample["status"].count("deceased") / SAMPLE < 0.05


def test_phones_look_like_mainland_mobiles(sample: dict[str, list[Any]]) -> None:
    for phone, born in zip(sample["phone"], sample["birth_date"], strict=True):
        if phone is None:
            assert (AS_OF - born).days < 10 * 365.2425 + 1
        else:
            assert PHONE.match(phone)
    assert sum(p is not None for p in sample["phone"]) > 0.85 * SAMPLE


def test_ethnicity_is_mostly_han_with_a_realistic_mix(sample: dict[str, list[Any]]) -> None:
    codes = {c for c, _, _ in tables.ETHNICITIES}
    counts = Counter(sample["ethnicity"])
    assert set(counts) <= codes
    assert 0.95 < counts["01"] / SAMPLE < 0.99
    assert counts["22"] > 0  # 畲族, the province's own minority
    assert len(counts) > 8


def test_names_are_varied(sample: dict[str, list[Any]]) -> None:
    names = sample["name"]
    assert all(2 <= len(n) <= 4 for n in names)
    surnames = Counter(n[:2] if n[:2] in dict(tables.SURNAMES_COMPOUND) else n[0] for n in names)
    assert 0.05 < surnames["王"] / SAMPLE < 0.1
    assert len(surnames) > 150
    assert any(s in surnames for s, _ in tables.SURNAMES_COMPOUND)
    given = {n[2:] if n[:2] in dict(tables.SURNAMES_COMPOUND) else n[1:] for n in names}
    assert len(given) > 8000
    assert len(set(names)) > 0.9 * SAMPLE


def test_character_pools_are_large_and_sex_specific() -> None:
    assert len(tables.GIVEN_MALE) >= 250 and len(tables.GIVEN_FEMALE) >= 250
    top = [s for s, _ in tables.SURNAMES_TOP]
    assert len(top) == len(set(top)) >= 100
    assert not set(top) & set(tables.SURNAMES_TAIL)


def test_same_seed_same_rows_different_seed_different_rows() -> None:
    first = table(count=3000, seed=7)
    assert first.equals(table(count=3000, seed=7))
    other = table(count=3000, seed=8)
    assert not first.equals(other)
    assert len(set(first["resident_id"].to_pylist()) & set(other["resident_id"].to_pylist())) < 30


def test_chunk_size_does_not_change_rows() -> None:
    count = BLOCK_ROWS + 2345  # crosses a block boundary inside a chunk
    small = table(count=count, chunk_size=1000)
    large = table(count=count, chunk_size=100_000)
    odd = table(count=count, chunk_size=777)
    assert small.equals(large) and odd.equals(large)
    assert [b.num_rows for b in generate_persons(count=2500, chunk_size=1000)] == [1000, 1000, 500]


def test_the_first_rows_do_not_depend_on_the_count() -> None:
    assert table(count=1500).equals(table(count=4000).slice(0, 1500))


def test_uniqueness_holds_when_every_cell_shares_few_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    # Four buckets for the whole province: nearly every row shares a counter with other cells.
    monkeypatch.setattr(persons_module, "BUCKETS", 4)
    ids = table(count=1500, chunk_size=400)["resident_id"].to_pylist()
    assert len(set(ids)) == len(ids)
    for rid in ids:
        parse_resident_id(rid, today=AS_OF)


def test_running_out_of_sequence_numbers_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(persons_module, "BUCKETS", 1)
    with pytest.raises(ValidationError) as info:
        table(count=3000)
    assert info.value.code == "synthetic.capacity"


@pytest.mark.parametrize("province", ["110000", "500000", "650000"])
def test_other_provinces(province: str) -> None:
    rows = table(count=1500, province_code=province).to_pydict()
    known = {r.code for r in counties(current_only=False, under=province)}
    for rid in rows["resident_id"]:
        assert parse_resident_id(rid, today=AS_OF).region_code in known
    assert len(set(rows["resident_id"])) == 1500


def test_ages_count_back_from_as_of() -> None:
    as_of = dt.date(2000, 6, 1)
    rows = table(count=2000, as_of=as_of).to_pydict()
    assert max(rows["birth_date"]) < as_of
    for rid in rows["resident_id"]:
        parse_resident_id(rid, today=as_of)


def test_person_pool_matches_the_living_persons() -> None:
    rows = table(count=3000).to_pydict()
    pool = person_pool(count=3000)
    pairs = zip(rows["resident_id"], rows["status"], strict=True)
    living = {rid for rid, status in pairs if status == "living"}
    ids = {bytes(row).decode() for row in pool.id_matrix}
    assert ids == living
    assert np.all(np.diff(pool.birth_day) >= 0)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"count": -1}, "synthetic.count"),
        ({"count": 10, "chunk_size": 0}, "synthetic.chunk_size"),
        ({"count": 10, "seed": -5}, "synthetic.seed"),
        ({"count": 10, "province_code": "330100"}, "synthetic.province"),
        ({"count": 10, "province_code": "999999"}, "region_code.unknown"),
        ({"count": 10, "province_code": "33"}, "region_code.length"),
        ({"count": 10, "as_of": dt.date(1900, 1, 1)}, "synthetic.as_of"),
    ],
)
def test_bad_arguments_are_validation_errors(kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ValidationError) as info:
        generate_persons(**kwargs)
    assert info.value.code == code


def test_choosers_follow_their_weights() -> None:
    rng = np.random.default_rng(1)
    picks = Chooser([1, 0, 3]).pick(rng.random(40_000))
    assert set(np.unique(picks)) == {0, 2}
    assert 0.72 < (picks == 2).mean() < 0.78
    grouped = GroupedChooser([[(10, 1.0), (11, 1.0)], [(20, 1.0)]])
    groups = np.asarray([0, 1] * 500)
    got = grouped.pick(groups, rng.random(1000))
    assert set(got[groups == 0]) == {10, 11} and set(got[groups == 1]) == {20}
    # A uniform number that rounds to the group's upper edge stays inside the group.
    assert grouped.pick(np.asarray([0]), np.asarray([np.nextafter(1.0, 0)]))[0] == 11
