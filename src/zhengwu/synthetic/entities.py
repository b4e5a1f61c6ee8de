"""Synthetic legal entities (法人单位基础信息) with valid, unique unified social credit codes.

A USCC is the registration authority and entity type (GB 32100 Appendix A), the county of the
registering authority, a GB 11714 organisation code with its own check character, and the mod-31
check character, all computed column-wise. The organisation code is a seeded bijection of the row
number (an affine map modulo the size of the code space), so codes are unique by construction:
entities established since the USCC reform (1 October 2015) get the new ``MA`` codes, older ones an
eight-digit numeric code as they kept their old organisation code.

Legal representatives are living adults taken from the persons of the same seed, province and
reference date (the first ``persons_count`` rows of :func:`~zhengwu.synthetic.persons.generate_persons`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zhengwu.identifiers.uscc import ALPHABET, AUTHORITIES
from zhengwu.synthetic import names
from zhengwu.synthetic._common import (
    Blocks,
    BoolArray,
    Calendar,
    Chooser,
    Columns,
    FloatArray,
    GroupedChooser,
    IntArray,
    ProvinceTable,
    U8Array,
    address,
    block_rng,
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
from zhengwu.synthetic.persons import DEFAULT_AS_OF, PersonPool, person_pool

__all__ = ["ENTITY_KINDS", "ENTITY_SCHEMA", "generate_entities"]

STREAM: Final = 2
USCC_REFORM: Final = dt.date(2015, 10, 1)
#: Every registrant had a USCC by the end of 2017; codes carry the county of that time.
USCC_COMPLETE_YEAR: Final = 2017
#: A legal representative took office within this many years and is at most this old today.
REPRESENTATIVE_TENURE_YEARS: Final = 15
REPRESENTATIVE_MAX_AGE: Final = 80
ADULT_DAYS: Final = 18 * 365 + 5  # eighteen years, leap days included

NUMERIC_SPACE: Final = 10**8
MA_SPACE: Final = 31**6


@dataclass(frozen=True)
class EntityKind:
    """One registration authority / entity type pair and how such entities look."""

    authority: str
    type: str
    share: float
    market: bool
    capital_median: float
    capital_sigma: float
    capital_unit: int

    @property
    def type_name(self) -> str:
        """Decoded entity type (GB 32100 Appendix A), e.g. 企业."""
        return AUTHORITIES[self.authority][1][self.type]


ENTITY_KINDS: Final[tuple[EntityKind, ...]] = (
    EntityKind("9", "1", 0.52, True, 1_000_000, 1.4, 10_000),  # 企业
    EntityKind("9", "2", 0.40, True, 50_000, 1.0, 1_000),  # 个体工商户
    EntityKind("9", "3", 0.03, True, 1_000_000, 1.0, 10_000),  # 农民专业合作社
    EntityKind("5", "1", 0.02, False, 50_000, 0.6, 1_000),  # 社会团体
    EntityKind("5", "2", 0.01, False, 100_000, 0.8, 1_000),  # 民办非企业单位
    EntityKind("1", "2", 0.02, False, 1_000_000, 1.2, 10_000),  # 事业单位
)
STATUSES: Final = ("存续", "注销", "吊销", "迁出")
MARKET_STATUS: Final = (0.86, 0.08, 0.045, 0.015)
PUBLIC_STATUS: Final = (0.95, 0.05, 0.0, 0.0)

ENTITY_SCHEMA: Final = pa.schema(
    [
        pa.field("uscc", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("entity_type", pa.string(), nullable=False),
        pa.field("registration_authority_code", pa.string(), nullable=False),
        pa.field("org_code", pa.string(), nullable=False),
        pa.field("legal_representative_id", pa.string(), nullable=False),
        pa.field("registered_capital", pa.int64(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("established_date", pa.date32(), nullable=False),
        pa.field("business_scope", pa.string(), nullable=False),
        pa.field("region_code", pa.string(), nullable=False),
        pa.field("address", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("status_date", pa.date32()),
    ]
)

# ASCII -> value tables: GB 11714 counts letters over the full alphabet, GB 32100 over its 31 symbols.
_ORG_VALUE = np.zeros(256, dtype=np.int64)
_USCC_VALUE = np.zeros(256, dtype=np.int64)
for _i, _c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    _ORG_VALUE[ord(_c)] = _i
for _i, _c in enumerate(ALPHABET):
    _USCC_VALUE[ord(_c)] = _i
_ORG_WEIGHTS: Final = np.asarray([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ORG_CHECK: Final = np.frombuffer(b"0123456789X0", dtype=np.uint8)  # by 11 - sum % 11; 11 -> "0"
_USCC_WEIGHTS: Final = np.asarray([pow(3, i, 31) for i in range(17)], dtype=np.int64)
_USCC_SYMBOLS: Final = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)


def org_check(body: U8Array) -> U8Array:
    """GB 11714 check characters (ASCII) for an (n, 8) ASCII matrix of organisation code bodies."""
    total = _ORG_VALUE[body] @ _ORG_WEIGHTS
    return np.asarray(_ORG_CHECK[11 - total % 11], dtype=np.uint8)


def uscc_check(body: U8Array) -> U8Array:
    """GB 32100 check characters (ASCII) for an (n, 17) ASCII matrix of USCC bodies."""
    total = _USCC_VALUE[body] @ _USCC_WEIGHTS
    return np.asarray(_USCC_SYMBOLS[(31 - total % 31) % 31], dtype=np.uint8)


def _affine(seed: int, space: int, tag: int) -> tuple[int, int]:
    """A seeded bijection ``i -> (a*i + b) % space``: ``a`` shares no factor with ``space``."""
    rng = block_rng(seed, STREAM, 0, 100 + tag)
    while True:
        a = int(rng.integers(space // 3, space))
        if np.gcd(a, space) == 1:
            return a, int(rng.integers(0, space))


def _draw(rng: np.random.Generator, n: int) -> Columns:
    return {
        "u": rng.random((n, 20)),
        "z": rng.standard_normal(n),
        "house": rng.integers(1, 800, n, dtype=np.int64),
    }


class _Words:
    """Vocabularies for entity names and scopes, built once per run."""

    def __init__(self, table: ProvinceTable) -> None:
        regions = table.regions
        # Per county: prefecture short, county short, local full name, county name, prefecture name.
        variants: list[str] = []
        for i, r in enumerate(regions):
            local = r.full_name.removeprefix(table.province.name)
            prefecture = local.removesuffix(r.name) or r.name
            variants += [table.prefecture_short[i], table.county_short[i], local, r.name, prefecture]
        self.regions = vocab(variants)
        self.brand = vocab(names.BRAND_CHARS)
        self.surnames = vocab([s for s, _ in names.SURNAMES_TOP])
        self.surname = Chooser([w for _, w in names.SURNAMES_TOP])
        self.industries = vocab([w for w, _, _ in names.INDUSTRIES])
        self.industry_scopes = vocab([s for _, s, _ in names.INDUSTRIES])
        self.industry = Chooser([w for _, _, w in names.INDUSTRIES])
        self.forms = vocab([f for f, _ in names.ORG_FORMS])
        self.form = Chooser([w for _, w in names.ORG_FORMS])
        self.pairs = {
            "shop": (vocab([a for a, _ in names.SHOP_TYPES]), vocab([b for _, b in names.SHOP_TYPES])),
            "coop": (vocab([a for a, _ in names.COOP_PRODUCTS]), vocab([b for _, b in names.COOP_PRODUCTS])),
            "assoc": (
                vocab([a for a, _ in names.ASSOCIATION_FIELDS]),
                vocab([b for _, b in names.ASSOCIATION_FIELDS]),
            ),
            "npo": (
                vocab([a for a, _ in names.PRIVATE_NONPROFITS]),
                vocab([b for _, b in names.PRIVATE_NONPROFITS]),
            ),
            "inst": (vocab([a for a, _ in names.INSTITUTIONS]), vocab([b for _, b in names.INSTITUTIONS])),
        }

    def region(self, county: IntArray, variant: int | IntArray) -> pa.Array:
        return take(self.regions, county * 5 + variant)

    def brand_name(self, u1: FloatArray, u2: FloatArray) -> pa.Array:
        n = len(self.brand)
        return join(take(self.brand, (u1 * n).astype(np.int64)), take(self.brand, (u2 * n).astype(np.int64)))

    def pick(self, key: str, u: FloatArray) -> tuple[IntArray, pa.StringArray, pa.StringArray]:
        words, other = self.pairs[key]
        return (u * len(words)).astype(np.int64), words, other


NameParts = tuple[pa.Array, pa.Array]


def _enterprise(w: _Words, county: IntArray, u: FloatArray) -> NameParts:
    industry = w.industry.pick(u[:, 3])
    name = join(
        w.region(county, np.where(u[:, 0] < 0.7, 0, 1)),
        w.brand_name(u[:, 1], u[:, 2]),
        take(w.industries, industry),
        take(w.forms, w.form.pick(u[:, 4])),
    )
    return name, take(w.industry_scopes, industry)


def _individual(w: _Words, county: IntArray, u: FloatArray) -> NameParts:
    surname = take(w.surnames, w.surname.pick(u[:, 3]))
    brand = pc.if_else(
        pa.array(u[:, 0] < 0.35),
        join(surname, "记"),
        pc.if_else(pa.array(u[:, 0] < 0.5), join("老", surname), w.brand_name(u[:, 1], u[:, 2])),
    )
    shop, words, scopes = w.pick("shop", u[:, 4])
    return join(w.region(county, 2), brand, take(words, shop)), take(scopes, shop)


def _cooperative(w: _Words, county: IntArray, u: FloatArray) -> NameParts:
    product, words, scopes = w.pick("coop", u[:, 4])
    name = join(w.region(county, 3), w.brand_name(u[:, 1], u[:, 2]), take(words, product), "专业合作社")
    return name, take(scopes, product)


def _association(w: _Words, county: IntArray, u: FloatArray) -> NameParts:
    field, words, suffixes = w.pick("assoc", u[:, 4])
    name = join(w.region(county, np.where(u[:, 0] < 0.6, 4, 3)), take(words, field), take(suffixes, field))
    return name, pa.repeat(pa.scalar(names.ASSOCIATION_SCOPE), len(county))


def _nonprofit(w: _Words, county: IntArray, u: FloatArray) -> NameParts:
    kind, words, scopes = w.pick("npo", u[:, 4])
    return join(w.region(county, 3), w.brand_name(u[:, 1], u[:, 2]), take(words, kind)), take(scopes, kind)


def _institution(w: _Words, county: IntArray, u: FloatArray) -> NameParts:
    kind, words, scopes = w.pick("inst", u[:, 4])
    return join(w.region(county, 3), take(words, kind)), take(scopes, kind)


_NAMERS: Final[tuple[Callable[[_Words, IntArray, FloatArray], NameParts], ...]] = (
    _enterprise,
    _individual,
    _cooperative,
    _association,
    _nonprofit,
    _institution,
)


class _EntityRun:
    """Everything fixed for one run: tables, choosers, the persons to take representatives from."""

    def __init__(self, *, province_code: str, seed: int, as_of: dt.date, persons_count: int) -> None:
        self.seed = check_seed(seed)
        self.as_of = check_as_of(as_of)
        self.table = province_table(province_code)
        self.today = day_number(as_of)
        self.pool: PersonPool = person_pool(
            count=persons_count, province_code=province_code, seed=seed, as_of=as_of
        )
        if len(self.pool) == 0:
            raise invalid(
                "persons_count",
                "没有可作为法定代表人的在世人员，请增大 persons_count",
                "no living person to act as legal representative; raise persons_count",
                field="persons_count",
                actual=persons_count,
            )
        self.kind = Chooser([k.share for k in ENTITY_KINDS])
        first_year = 1950
        self.first_year = first_year
        # Years with at least one day before as_of: an entity is established before the reference date.
        self.last_year = (as_of - dt.timedelta(days=1)).year
        years = range(first_year, self.last_year + 1)
        self.calendar = Calendar(dt.date(first_year, 1, 1), as_of)
        market = [(y, float(np.exp(0.12 * (y - 1980)))) for y in years if y >= 1980]
        public = [(y, 1.0 + (y - first_year) / 25) for y in years]
        self.year = GroupedChooser([market, public])
        self.county_first = min(USCC_COMPLETE_YEAR, as_of.year)
        self.counties = self.table.by_year(self.county_first, as_of.year)
        self.status = GroupedChooser([list(enumerate(MARKET_STATUS)), list(enumerate(PUBLIC_STATUS))])
        self.words = _Words(self.table)
        self.numeric = _affine(self.seed, NUMERIC_SPACE, 0)
        self.ma = _affine(self.seed, MA_SPACE, 1)
        self.blocks = Blocks(self.seed, STREAM, _draw)
        self.kind_names = vocab([k.type_name for k in ENTITY_KINDS])
        self.kind_authority = np.asarray([ord(k.authority) for k in ENTITY_KINDS], dtype=np.uint8)
        self.kind_type = np.asarray([ord(k.type) for k in ENTITY_KINDS], dtype=np.uint8)
        self.statuses = vocab(list(STATUSES))

    def established(self, kind: IntArray, u_year: FloatArray, u_day: FloatArray) -> IntArray:
        market = np.asarray([k.market for k in ENTITY_KINDS])[kind]
        year = self.year.pick(np.where(market, 0, 1), u_year)
        start = np.asarray([day_number(dt.date(y, 1, 1)) for y in range(self.first_year, self.last_year + 2)])
        lo = start[year - self.first_year]
        hi = np.minimum(start[year - self.first_year + 1], self.today) - 1
        return np.asarray(lo + (u_day * (hi - lo + 1)).astype(np.int64), dtype=np.int64)

    def org_codes(self, row: IntArray, new: BoolArray) -> U8Array:
        a, b = self.numeric
        numeric = digits((a * row + b) % NUMERIC_SPACE, 8)
        a, b = self.ma
        value = (a * row + b) % MA_SPACE
        ma = np.empty((len(row), 8), dtype=np.uint8)
        ma[:, 0], ma[:, 1] = ord("M"), ord("A")
        for col in range(7, 1, -1):
            ma[:, col] = _USCC_SYMBOLS[value % 31]
            value //= 31
        body = np.where(new[:, None], ma, numeric)
        out = np.empty((len(row), 9), dtype=np.uint8)
        out[:, :8] = body
        out[:, 8] = org_check(body)
        return out

    def representatives(self, established: IntArray, u: FloatArray) -> pa.Array:
        pool = self.pool
        tenure = self.today - int(REPRESENTATIVE_TENURE_YEARS * 365.2425)
        latest_birth = np.maximum(established, tenure) - ADULT_DAYS
        earliest_birth = self.today - int(REPRESENTATIVE_MAX_AGE * 365.2425)
        first = np.searchsorted(pool.birth_day, earliest_birth, side="left")
        last = np.searchsorted(pool.birth_day, latest_birth, side="right")
        lo = np.where(last > first, first, 0)  # nobody in the window: any adult old enough
        hi = np.where(last > 0, last, len(pool))  # nobody old enough at all (tiny pools): anyone alive
        pick = lo + (u * (hi - lo)).astype(np.int64)
        return fixed_strings(pool.id_matrix[pick])

    def batch(self, start: int, stop: int) -> pa.RecordBatch:
        d = self.blocks.rows(start, stop)
        u = d["u"]
        n = stop - start
        row = np.arange(start, stop, dtype=np.int64)
        kind = self.kind.pick(u[:, 0])
        established = self.established(kind, u[:, 1], u[:, 2])
        est_year = self.calendar.year[self.calendar.index(established)]
        county = self.counties.pick(
            np.clip(est_year, self.county_first, self.as_of.year) - self.county_first, u[:, 3]
        )
        org = self.org_codes(row, established >= day_number(USCC_REFORM))
        body = np.empty((n, 17), dtype=np.uint8)
        body[:, 0] = self.kind_authority[kind]
        body[:, 1] = self.kind_type[kind]
        body[:, 2:8] = self.table.code_digits[county]
        body[:, 8:17] = org
        uscc = np.empty((n, 18), dtype=np.uint8)
        uscc[:, :17] = body
        uscc[:, 17] = uscc_check(body)
        name, scope = self._names(kind, county, u[:, 10:15])
        params = [(k.capital_median, k.capital_sigma, k.capital_unit) for k in ENTITY_KINDS]
        median, sigma, unit = (np.asarray(p)[kind] for p in zip(*params, strict=True))
        capital = np.maximum(np.round(median * np.exp(sigma * d["z"]) / unit), 1).astype(np.int64) * unit
        market = np.asarray([k.market for k in ENTITY_KINDS])[kind]
        status = self.status.pick(np.where(market, 0, 1), u[:, 4])
        status_lo = np.maximum(established + 1, day_number(dt.date(2016, 1, 1)))
        status = np.where(status_lo <= self.today - 1, status, 0)
        status_day = status_lo + (u[:, 5] * (self.today - status_lo)).astype(np.int64)
        columns = [
            fixed_strings(uscc),
            name,
            take(self.kind_names, kind),
            fixed_strings(uscc[:, :1]),
            fixed_strings(org),
            self.representatives(established, u[:, 6]),
            pa.array(capital, type=pa.int64()),
            pa.repeat(pa.scalar("CNY"), n),
            dates(established),
            scope,
            fixed_strings(uscc[:, 2:8]),
            address(self.table, county, u[:, 14:20], d["house"]),
            take(self.statuses, status),
            dates(status_day, status != 0),
        ]
        return pa.RecordBatch.from_arrays(columns, schema=ENTITY_SCHEMA)

    def _names(self, kind: IntArray, county: IntArray, u: FloatArray) -> tuple[pa.Array, pa.Array]:
        # Each kind builds its own names on its rows; the pieces are then put back in row order.
        order = np.argsort(kind, kind="stable")
        names_parts: list[pa.Array] = []
        scope_parts: list[pa.Array] = []
        for k, namer in enumerate(_NAMERS):
            rows = order[kind[order] == k]
            if len(rows):
                name, scope = namer(self.words, county[rows], u[rows])
                names_parts.append(name)
                scope_parts.append(scope)
        back = np.empty(len(kind), dtype=np.int64)
        back[order] = np.arange(len(kind))
        return (take(pa.concat_arrays(names_parts), back), take(pa.concat_arrays(scope_parts), back))


def generate_entities(
    *,
    count: int,
    province_code: str = "330000",
    seed: int = 2026,
    as_of: dt.date = DEFAULT_AS_OF,
    chunk_size: int = 100_000,
    persons_count: int = 10_000,
) -> Iterator[pa.RecordBatch]:
    """Yield ``count`` synthetic legal entities of a province as Arrow record batches.

    Columns are :data:`ENTITY_SCHEMA`. USCCs are unique and valid; legal representatives are living
    adults among the first ``persons_count`` persons that :func:`generate_persons` yields for the same
    ``province_code``, ``seed`` and ``as_of`` (so any persons file of that seed with at least
    ``persons_count`` rows contains them). Same arguments, same rows, whatever ``chunk_size``.
    """
    check_count(count)
    check_count(chunk_size, field="chunk_size", minimum=1)
    check_count(persons_count, field="persons_count", minimum=1)
    # Arguments are checked (and the persons pool built) here, before the first batch is asked for.
    run = _EntityRun(province_code=province_code, seed=seed, as_of=as_of, persons_count=persons_count)
    return (run.batch(start, stop) for start, stop in chunks(count, chunk_size))
