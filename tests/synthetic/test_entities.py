"""Synthetic legal entities: valid, unique USCCs, consistent columns, representatives from the persons."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from zhengwu.errors import ValidationError
from zhengwu.identifiers import counties, org_code_check_digit, parse_org_code, parse_uscc, uscc_check_char
from zhengwu.identifiers.uscc import ALPHABET
from zhengwu.synthetic import ENTITY_SCHEMA, PERSON_SCHEMA, generate_entities, generate_persons
from zhengwu.synthetic import names as tables
from zhengwu.synthetic.entities import ENTITY_KINDS, USCC_REFORM, org_check, uscc_check

AS_OF = dt.date(2026, 1, 1)
SAMPLE = 20_000
PERSONS = 4000


def table(**kwargs: Any) -> pa.Table:
    return pa.Table.from_batches(list(generate_entities(**kwargs)), schema=ENTITY_SCHEMA)


@pytest.fixture(scope="module")
def sample() -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = table(count=SAMPLE, persons_count=PERSONS).to_pydict()
    return rows


@pytest.fixture(scope="module")
def persons() -> dict[str, list[Any]]:
    batches = generate_persons(count=PERSONS)
    rows: dict[str, list[Any]] = pa.Table.from_batches(list(batches), schema=PERSON_SCHEMA).to_pydict()
    return rows


def test_every_uscc_is_valid_and_agrees_with_its_row(sample: dict[str, list[Any]]) -> None:
    known = {r.code for r in counties(current_only=False, under="330000")}
    for i, value in enumerate(sample["uscc"]):
        parsed = parse_uscc(value, strict=True)
        assert parsed.entity_type == sample["entity_type"][i]
        assert parsed.registration_authority_code == sample["registration_authority_code"][i]
        assert parsed.org_code == sample["org_code"][i]
        assert parsed.region_code == sample["region_code"][i] in known
        assert parse_org_code(sample["org_code"][i], strict=True).value == parsed.org_code


def test_usccs_and_org_codes_are_unique(sample: dict[str, list[Any]]) -> None:
    assert len(set(sample["uscc"])) == SAMPLE
    assert len(set(sample["org_code"])) == SAMPLE


def test_vectorised_check_characters_match_the_kernel() -> None:
    rng = random.Random(5)
    org_alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # what may stand in a USCC's organisation code
    bodies8 = ["".join(rng.choice(org_alphabet) for _ in range(8)) for _ in range(3000)]
    matrix8 = np.frombuffer("".join(bodies8).encode(), dtype=np.uint8).reshape(-1, 8)
    assert [chr(c) for c in org_check(matrix8)] == [org_code_check_digit(b) for b in bodies8]
    bodies17 = ["".join(rng.choice(ALPHABET) for _ in range(17)) for _ in range(3000)]
    matrix17 = np.frombuffer("".join(bodies17).encode(), dtype=np.uint8).reshape(-1, 17)
    assert [chr(c) for c in uscc_check(matrix17)] == [uscc_check_char(b) for b in bodies17]


def test_entity_kinds_mix_and_names(sample: dict[str, list[Any]]) -> None:
    types = Counter(sample["entity_type"])
    assert set(types) == {k.type_name for k in ENTITY_KINDS}
    assert types["企业"] > types["个体工商户"] > types["农民专业合作社"]
    forms = tuple(f for f, _ in tables.ORG_FORMS)
    for name, kind in zip(sample["name"], sample["entity_type"], strict=True):
        if kind == "企业":
            assert name.endswith(forms)
        elif kind == "农民专业合作社":
            assert name.endswith("专业合作社")
    assert len(set(sample["name"])) > 0.9 * SAMPLE


def test_dates_status_capital(sample: dict[str, list[Any]]) -> None:
    for uscc, founded in zip(sample["uscc"], sample["established_date"], strict=True):
        assert dt.date(1950, 1, 1) <= founded < AS_OF
        # Organisations founded since the USCC reform carry the new MA codes, older ones numeric codes.
        assert (uscc[8:10] == "MA") == (founded >= USCC_REFORM)
    for status, founded, when in zip(
        sample["status"], sample["established_date"], sample["status_date"], strict=True
    ):
        assert status in ("存续", "注销", "吊销", "迁出")
        if status == "存续":
            assert when is None
        else:
            assert founded < when < AS_OF and when.year >= 2016
    assert 0.8 < sample["status"].count("存续") / SAMPLE < 0.92
    assert all(c > 0 for c in sample["registered_capital"])
    assert set(sample["currency"]) == {"CNY"}
    assert all(a.startswith("浙江省") and "号" in a for a in sample["address"])
    assert all(s for s in sample["business_scope"])


def test_legal_representatives_are_living_adult_persons_of_the_same_seed(
    sample: dict[str, list[Any]], persons: dict[str, list[Any]]
) -> None:
    by_id = {
        rid: (born, status)
        for rid, born, status in zip(
            persons["resident_id"], persons["birth_date"], persons["status"], strict=True
        )
    }
    for rep, founded in zip(sample["legal_representative_id"], sample["established_date"], strict=True):
        born, status = by_id[rep]
        assert status == "living"
        took_office = max(founded, dt.date(AS_OF.year - 15, AS_OF.month, AS_OF.day))
        assert (took_office - born).days >= 18 * 365.2425
        assert (AS_OF - born).days <= 80 * 365.2425 + 1
    assert len(set(sample["legal_representative_id"])) > 0.5 * PERSONS


def test_same_seed_same_rows_and_chunks_do_not_matter() -> None:
    first = table(count=3000, seed=11, persons_count=500, chunk_size=1000)
    assert first.equals(table(count=3000, seed=11, persons_count=500, chunk_size=100_000))
    assert first.slice(0, 1200).equals(table(count=1200, seed=11, persons_count=500))
    other = table(count=3000, seed=12, persons_count=500)
    assert not first.equals(other)
    assert not set(first["uscc"].to_pylist()) & set(other["uscc"].to_pylist())


def test_another_province() -> None:
    rows = table(count=2000, province_code="440000", persons_count=500).to_pydict()
    known = {r.code for r in counties(current_only=False, under="440000")}
    for value in rows["uscc"]:
        assert parse_uscc(value).region_code in known
    assert any(name.startswith(("广州", "深圳", "佛山", "东莞")) for name in rows["name"])


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"count": 10, "persons_count": 0}, "synthetic.persons_count"),
        ({"count": -3}, "synthetic.count"),
        ({"count": 10, "province_code": "330100"}, "synthetic.province"),
    ],
)
def test_bad_arguments_are_validation_errors(kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ValidationError) as info:
        generate_entities(**kwargs)
    assert info.value.code == code
