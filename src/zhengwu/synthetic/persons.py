"""Synthetic natural persons (人口基础信息) with valid, unique resident ID numbers.

Every row is computed column-wise with numpy and Arrow; nothing loops over rows in Python. A resident
ID is the county that first issued it, the birth date, a sequence number (odd for men) and the
ISO 7064 MOD 11-2 check digit. The county is one attested in the year the number was first issued:
the birth year, or 1985 for people born before numbers were issued (居民身份证条例, 1985), so a number
keeps the code of a county that may since have been renamed or abolished.

Uniqueness is by construction: rows are numbered in order through a fixed table of counters keyed by
(county, birth date, sex), hashed into buckets; each row takes the next free sequence in its bucket,
offset by a hash of the (county, date) cell so that sequences look spread out rather than all 001.
Two rows with the same county and birth date always share a bucket, so they never share a sequence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zhengwu.synthetic import names
from zhengwu.synthetic._common import (
    Blocks,
    BoolArray,
    Calendar,
    Chooser,
    Columns,
    GroupedChooser,
    IntArray,
    ProvinceTable,
    U8Array,
    address,
    check_as_of,
    check_count,
    check_seed,
    chunks,
    dates,
    day_number,
    digits,
    fixed_strings,
    invalid,
    join,
    province_table,
    take,
    vocab,
)

__all__ = ["DEFAULT_AS_OF", "PERSON_SCHEMA", "PersonPool", "generate_persons", "person_pool"]

DEFAULT_AS_OF: Final = dt.date(2026, 1, 1)
#: First year resident ID numbers were issued; older people got theirs from the county of that year.
FIRST_ISSUE_YEAR: Final = 1985
#: Stream number of persons in the block seeds (entities use another).
STREAM: Final = 1
#: Counter buckets per sex. Fixed, so memory is constant whatever the count.
BUCKETS: Final = 1 << 20
#: Sequence numbers per sex in one (county, date): 000-999 split by parity.
SLOTS: Final = 500
MIGRANT_SHARE: Final = 0.12
#: People younger than this have no mobile number in the register.
PHONE_MIN_AGE: Final = 10
#: The ID's weights (ISO 7064 MOD 11-2: 2**(17-i) mod 11) and check characters by remainder.
ID_WEIGHTS: Final = np.asarray([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK: Final = np.frombuffer(b"10X98765432", dtype=np.uint8)
DAYS_PER_YEAR: Final = 365.2425

PERSON_SCHEMA: Final = pa.schema(
    [
        pa.field("resident_id", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("sex", pa.string(), nullable=False),
        pa.field("birth_date", pa.date32(), nullable=False),
        pa.field("ethnicity", pa.string(), nullable=False),
        pa.field("household_region_code", pa.string(), nullable=False),
        pa.field("household_address", pa.string(), nullable=False),
        pa.field("current_region_code", pa.string(), nullable=False),
        pa.field("phone", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("death_date", pa.date32()),
    ]
)


def _draw_core(rng: np.random.Generator, n: int) -> Columns:
    # Everything the ID and the status depend on; drawn apart from the rest so that entities can
    # rebuild persons' IDs without drawing their names and addresses.
    u = rng.random((n, 6))
    return {
        "sex": u[:, 0],
        "band": u[:, 1],
        "age": u[:, 2],
        "county": u[:, 3],
        "dead": u[:, 4],
        "death": u[:, 5],
    }


def _draw_extra(rng: np.random.Generator, n: int) -> Columns:
    u = rng.random((n, 15))
    return {
        "u": u,
        "phone": rng.integers(0, 100_000_000, n, dtype=np.int64),
        "house": rng.integers(1, 400, n, dtype=np.int64),
    }


@dataclass(frozen=True)
class CoreRows:
    """What decides a person's resident ID, for a range of rows."""

    county: IntArray
    birth_day: IntArray
    male: BoolArray
    band: IntArray
    dead: BoolArray
    death_day: IntArray
    id_matrix: U8Array

    def __len__(self) -> int:
        return len(self.county)


class PersonCore:
    """Walks through the rows of one run in order and gives each its unique resident ID."""

    def __init__(self, *, province_code: str, seed: int, as_of: dt.date) -> None:
        self.as_of = check_as_of(as_of)
        self.seed = check_seed(seed)
        self.table: ProvinceTable = province_table(province_code)
        self.calendar = Calendar(dt.date(as_of.year - 103, 1, 1), as_of)
        self.today = day_number(as_of)
        self.first_year = min(FIRST_ISSUE_YEAR, as_of.year)
        self.counties: GroupedChooser = self.table.by_year(self.first_year, as_of.year)
        self.bands = Chooser([share for _, _, share in names.AGE_BANDS])
        self.band_lo = np.asarray([lo for lo, _, _ in names.AGE_BANDS], dtype=np.float64)
        self.band_width = np.asarray([hi - lo for lo, hi, _ in names.AGE_BANDS], dtype=np.float64)
        self.deceased = np.asarray(names.DECEASED_BY_BAND, dtype=np.float64)
        self.county_part = (self.table.code_digits.astype(np.int64) - 48) @ ID_WEIGHTS[:6]
        self.date_part = (self.calendar.ymd_digits.astype(np.int64) - 48) @ ID_WEIGHTS[6:14]
        self.counters = np.zeros(2 * BUCKETS, dtype=np.uint16)
        self.blocks = Blocks(self.seed, STREAM, _draw_core)
        self.next_row = 0

    def rows(self, start: int, stop: int) -> CoreRows:
        """Rows ``start`` to ``stop``; calls must follow each other from row 0 without gaps."""
        if start != self.next_row:
            raise RuntimeError(f"rows must be taken in order: expected {self.next_row}, got {start}")
        self.next_row = stop
        d = self.blocks.rows(start, stop)
        male = d["sex"] < names.MALE_SHARE
        band = self.bands.pick(d["band"])
        age_days = ((self.band_lo[band] + d["age"] * self.band_width[band]) * DAYS_PER_YEAR).astype(np.int64)
        birth_day = self.today - 1 - age_days
        cal = self.calendar.index(birth_day)
        issue_year = np.clip(self.calendar.year[cal], self.first_year, self.as_of.year)
        county = self.counties.pick(issue_year - self.first_year, d["county"])
        dead = (d["dead"] < self.deceased[band]) & (age_days > 366)
        # At most ten years back and always after the birth day.
        span = np.minimum(age_days - 1, 3650)
        death_day = self.today - 1 - (d["death"] * span).astype(np.int64)
        seq = self._sequences(county, cal, male)
        return CoreRows(county, birth_day, male, band, dead, death_day, self._ids(county, cal, seq))

    def _sequences(self, county: IntArray, cal: IntArray, male: BoolArray) -> IntArray:
        cell = county * len(self.calendar.year) + cal
        key = (cell % BUCKETS) * 2 + male
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = sorted_key[1:] != sorted_key[:-1]
        group_start = np.maximum.accumulate(np.where(first, np.arange(len(key)), 0))
        rank = np.empty(len(key), dtype=np.int64)
        rank[order] = np.arange(len(key)) - group_start
        taken = self.counters[key].astype(np.int64) + rank
        if len(taken) and taken.max() >= SLOTS:
            raise invalid(
                "capacity",
                "同一县、同一出生日期、同一性别的人数超过 500，无法分配唯一的顺序码",
                "more than 500 persons of one sex share a county and birth date; no unique sequence left",
                field="count",
            )
        uniq, counts = np.unique(sorted_key, return_counts=True)
        self.counters[uniq] += counts.astype(np.uint16)
        # Spread the first sequence of each cell with a seeded hash (Knuth's multiplicative constant).
        mixed = (cell.astype(np.uint64) + np.uint64(self.seed % 1_000_003)) * np.uint64(2654435761)
        offset = ((mixed >> np.uint64(13)) % np.uint64(SLOTS)).astype(np.int64)
        return np.asarray(((offset + taken) % SLOTS) * 2 + male, dtype=np.int64)

    def _ids(self, county: IntArray, cal: IntArray, seq: IntArray) -> U8Array:
        n = len(county)
        out = np.empty((n, 18), dtype=np.uint8)
        out[:, :6] = self.table.code_digits[county]
        out[:, 6:14] = self.calendar.ymd_digits[cal]
        s = np.stack([seq // 100, seq // 10 % 10, seq % 10], axis=1)
        out[:, 14:17] = s + 48
        total = self.county_part[county] + self.date_part[cal] + s @ ID_WEIGHTS[14:]
        out[:, 17] = ID_CHECK[total % 11]
        return out


class _Words:
    """Arrow vocabularies and choosers for the non-ID columns, built once per run."""

    def __init__(self, province_code: str) -> None:
        surnames = [*names.SURNAMES_TOP, *names.SURNAMES_COMPOUND]
        tail_weight = names.SURNAME_TAIL_SHARE * 100 / len(names.SURNAMES_TAIL)
        surnames += [(s, tail_weight) for s in names.SURNAMES_TAIL]
        self.surnames = vocab([s for s, _ in surnames])
        self.surname = Chooser([w for _, w in surnames])
        # One vocabulary: male characters, female characters, then "" for one-character names.
        chars = [*names.GIVEN_MALE, *names.GIVEN_FEMALE, ""]
        self.chars = vocab(chars)
        self.empty = len(chars) - 1
        nm = len(names.GIVEN_MALE)
        female = [(nm + i, 1 / (i + 20)) for i in range(len(names.GIVEN_FEMALE))]
        male = [(i, 1 / (i + 20)) for i in range(nm)]
        self.given = GroupedChooser([female, male])
        codes, weights = ethnic_mix(province_code)
        self.ethnicities = vocab(codes)
        self.ethnicity = Chooser(weights)
        self.phone_prefix = np.asarray([p for p, _ in names.MOBILE_PREFIXES], dtype=np.int64)
        self.phone = Chooser([w for _, w in names.MOBILE_PREFIXES])
        self.sexes = vocab(["F", "M"])
        self.statuses = vocab(["living", "deceased"])


def ethnic_mix(province_code: str) -> tuple[list[str], list[float]]:
    """GB/T 3304 codes and their shares for a province: mostly 汉族, local groups where they live."""
    han, boosts = names.PROVINCE_ETHNIC_MIX.get(province_code[:2], (names.DEFAULT_HAN_SHARE, {}))
    others = [(c, w) for c, _, w in names.ETHNICITIES if c != "01" and c not in boosts]
    rest = max(1.0 - han - sum(boosts.values()), 0.0)
    total = sum(w for _, w in others)
    mix = {"01": han, **boosts} | {c: rest * w / total for c, w in others}
    codes = [c for c, _, _ in names.ETHNICITIES]
    return codes, [mix[c] for c in codes]


def _batch(core: PersonCore, words: _Words, rows: CoreRows, extra: Columns) -> pa.RecordBatch:
    u = extra["u"]
    table = core.table
    male = rows.male.astype(np.int64)
    two = u[:, 1] < names.TWO_CHAR_GIVEN_SHARE
    c1 = words.given.pick(male, u[:, 2])
    c2 = np.where(two, words.given.pick(male, u[:, 3]), words.empty)
    surname = take(words.surnames, words.surname.pick(u[:, 0]))
    name = join(surname, take(words.chars, c1), take(words.chars, c2))
    migrant = u[:, 5] < MIGRANT_SHARE
    elsewhere = table.current[(u[:, 6] * len(table.current)).astype(np.int64)]
    current = np.where(migrant, elsewhere, table.successor[rows.county])
    phone_number = words.phone_prefix[words.phone.pick(u[:, 7])] * 100_000_000 + extra["phone"]
    phone = fixed_strings(digits(phone_number, 11))
    has_phone = core.today - rows.birth_day >= PHONE_MIN_AGE * DAYS_PER_YEAR
    code_strings = fixed_strings(table.code_digits)
    columns = [
        fixed_strings(rows.id_matrix),
        name,
        take(words.sexes, male),
        dates(rows.birth_day),
        take(words.ethnicities, words.ethnicity.pick(u[:, 4])),
        take(code_strings, rows.county),
        address(table, rows.county, u[:, 8:14], extra["house"]),
        take(code_strings, current),
        pc.if_else(pa.array(has_phone), phone, pa.scalar(None, pa.string())),
        take(words.statuses, rows.dead.astype(np.int64)),
        dates(rows.death_day, rows.dead),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=PERSON_SCHEMA)


def generate_persons(
    *,
    count: int,
    province_code: str = "330000",
    seed: int = 2026,
    as_of: dt.date = DEFAULT_AS_OF,
    chunk_size: int = 100_000,
) -> Iterator[pa.RecordBatch]:
    """Yield ``count`` synthetic persons of a province as Arrow record batches of ``chunk_size`` rows.

    Columns are :data:`PERSON_SCHEMA`. The same arguments give the same rows (``chunk_size`` only
    changes how they are cut), and the first N rows do not depend on ``count``. Ages follow a
    census-shaped pyramid (0-100 years) counted back from ``as_of``, not from today.
    """
    # Arguments are checked here, before the first batch is asked for.
    check_count(count)
    check_count(chunk_size, field="chunk_size", minimum=1)
    core = PersonCore(province_code=province_code, seed=seed, as_of=as_of)
    return _persons(core, count, chunk_size)


def _persons(core: PersonCore, count: int, chunk_size: int) -> Iterator[pa.RecordBatch]:
    words = _Words(core.table.province.code)
    extra = Blocks(core.seed, STREAM, _draw_extra, part=1)
    for start, stop in chunks(count, chunk_size):
        yield _batch(core, words, core.rows(start, stop), extra.rows(start, stop))


@dataclass(frozen=True)
class PersonPool:
    """Living persons of a run, sorted by birth day, to pick legal representatives from."""

    id_matrix: U8Array
    birth_day: IntArray
    row: IntArray

    def __len__(self) -> int:
        return len(self.birth_day)


def person_pool(
    *, count: int, province_code: str = "330000", seed: int = 2026, as_of: dt.date = DEFAULT_AS_OF
) -> PersonPool:
    """The living persons among the first ``count`` rows of :func:`generate_persons` with these arguments.

    Only the ID columns are computed (no names or addresses), about 18 bytes of memory per person.
    """
    check_count(count)
    core = PersonCore(province_code=province_code, seed=seed, as_of=as_of)
    ids: list[U8Array] = []
    births: list[IntArray] = []
    rows: list[IntArray] = []
    for start, stop in chunks(count, 100_000):
        part = core.rows(start, stop)
        alive = ~part.dead
        ids.append(part.id_matrix[alive])
        births.append(part.birth_day[alive])
        rows.append(np.arange(start, stop, dtype=np.int64)[alive])
    if not ids:
        return PersonPool(np.empty((0, 18), np.uint8), np.empty(0, np.int64), np.empty(0, np.int64))
    birth = np.concatenate(births)
    order = np.argsort(birth, kind="stable")
    return PersonPool(np.concatenate(ids)[order], birth[order], np.concatenate(rows)[order])
