"""Machinery shared by the person and entity generators: seeded blocks, weighted choice, calendars,
the province's county table, and fast construction of Arrow string columns.

Reproducibility rests on one rule: random numbers are drawn per fixed block of ``BLOCK_ROWS`` rows,
each block with its own generator derived from ``(seed, stream, block index)``. Output batches are cut
from those blocks, so the chunk size never changes a row, and the first N rows of a run are the same
whatever the total count.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zhengwu.errors import ValidationError
from zhengwu.identifiers import Region, counties, region_lookup, regions_all
from zhengwu.identifiers.regions import is_placeholder
from zhengwu.synthetic import names

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
U8Array = npt.NDArray[np.uint8]

#: Rows per random block. Part of the output's definition: changing it changes every data set.
BLOCK_ROWS: Final = 10_000
#: Upper bound on one run, far above any demo; keeps sequence numbers and organisation codes unique.
MAX_COUNT: Final = 100_000_000
EPOCH: Final = dt.date(1970, 1, 1)

Columns = dict[str, Any]


def invalid(what: str, message: str, message_en: str, *, field: str, **details: object) -> ValidationError:
    """A :class:`ValidationError` with code ``synthetic.<what>``."""
    return ValidationError(
        message, message_en=message_en, code=f"synthetic.{what}", field=field, details=dict(details)
    )


def check_count(value: int, *, field: str = "count", minimum: int = 0) -> int:
    """``value`` if it is an int in ``[minimum, MAX_COUNT]``, else a ValidationError."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_COUNT:
        raise invalid(
            field,
            f"{field} 应为 {minimum} 到 {MAX_COUNT} 之间的整数，实际为 {value!r}",
            f"{field} must be an integer from {minimum} to {MAX_COUNT}, got {value!r}",
            field=field,
            actual=repr(value),
        )
    return value


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01 (numpy's ``datetime64[D]`` origin)."""
    return (day - EPOCH).days


def block_rng(seed: int, stream: int, block: int, part: int = 0) -> np.random.Generator:
    """The generator of one block; ``part`` separates draws that must not disturb each other."""
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, stream, block, part])


class Blocks:
    """Draw columns of random numbers for row ranges, block by block, independent of how rows are cut.

    ``draw(rng, n)`` must return a dict of equally long 1-D arrays. The last block drawn is kept, so
    walking through consecutive chunks draws every block once.
    """

    def __init__(
        self, seed: int, stream: int, draw: Callable[[np.random.Generator, int], Columns], *, part: int = 0
    ) -> None:
        self._seed = seed
        self._stream = stream
        self._part = part
        self._draw = draw
        self._cache: tuple[int, Columns] | None = None

    def _block(self, index: int) -> Columns:
        if self._cache is None or self._cache[0] != index:
            rng = block_rng(self._seed, self._stream, index, self._part)
            self._cache = (index, self._draw(rng, BLOCK_ROWS))
        return self._cache[1]

    def rows(self, start: int, stop: int) -> Columns:
        """The draws of rows ``start`` (inclusive) to ``stop`` (exclusive)."""
        parts: list[Columns] = []
        for index in range(start // BLOCK_ROWS, (stop - 1) // BLOCK_ROWS + 1):
            lo = max(start - index * BLOCK_ROWS, 0)
            hi = min(stop - index * BLOCK_ROWS, BLOCK_ROWS)
            block = self._block(index)
            parts.append({k: v[lo:hi] for k, v in block.items()})
        if len(parts) == 1:
            return parts[0]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def chunks(count: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` row ranges of at most ``chunk_size`` rows covering ``count`` rows."""
    check_count(chunk_size, field="chunk_size", minimum=1)
    for start in range(0, count, chunk_size):
        yield start, min(start + chunk_size, count)


class Chooser:
    """Weighted choice of an index from uniform numbers in [0, 1), vectorised."""

    def __init__(self, weights: Sequence[float]) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or len(w) == 0 or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be a non-empty list of non-negative numbers")
        self._cum = np.cumsum(w) / w.sum()
        self._n = len(w)

    def pick(self, u: FloatArray) -> IntArray:
        """Index chosen by each uniform number."""
        idx = np.searchsorted(self._cum, u, side="right")
        return np.minimum(idx, self._n - 1).astype(np.int64)


class GroupedChooser:
    """Weighted choice within one of several groups, vectorised over rows that each name a group.

    Group ``g``'s cumulative weights are laid end to end shifted by ``g``, so one ``searchsorted``
    answers every row; the result is clamped into the row's group against rounding at its edge.
    """

    def __init__(self, groups: Sequence[Sequence[tuple[int, float]]]) -> None:
        keys: list[FloatArray] = []
        values: list[IntArray] = []
        starts = np.zeros(len(groups), dtype=np.int64)
        ends = np.zeros(len(groups), dtype=np.int64)
        offset = 0
        for g, members in enumerate(groups):
            if not members:
                raise ValueError(f"group {g} is empty")
            w = np.asarray([m[1] for m in members], dtype=np.float64)
            cum = np.cumsum(w) / w.sum()
            cum[-1] = 1.0
            keys.append(g + cum)
            values.append(np.asarray([m[0] for m in members], dtype=np.int64))
            starts[g], ends[g] = offset, offset + len(members) - 1
            offset += len(members)
        self._keys = np.concatenate(keys)
        self._values = np.concatenate(values)
        self._starts = starts
        self._ends = ends

    def pick(self, group: IntArray, u: FloatArray) -> IntArray:
        """Member value chosen in each row's group by its uniform number."""
        pos = np.searchsorted(self._keys, group + u, side="right")
        pos = np.clip(pos, self._starts[group], self._ends[group])
        return self._values[pos]


class Calendar:
    """Lookup tables over a range of days: year, and the ASCII digits of YYYYMMDD."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        self.first = day_number(first)
        self.last = day_number(last)
        days = np.arange(self.first, self.last + 1, dtype=np.int64).astype("datetime64[D]")
        years = days.astype("datetime64[Y]").astype(np.int64) + 1970
        months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
        mdays = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
        self.year = years
        ymd = years * 10000 + months * 100 + mdays
        self.ymd_digits = digits(ymd, 8)

    def index(self, day: IntArray) -> IntArray:
        """Position of each day number in the tables."""
        return day - self.first


def digits(values: IntArray, width: int) -> U8Array:
    """ASCII digit matrix (rows x width) of non-negative integers, zero-padded on the left."""
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = values.astype(np.int64, copy=True)
    for col in range(width - 1, -1, -1):
        out[:, col] = rest % 10 + 48
        rest //= 10
    return out


def fixed_strings(matrix: U8Array) -> pa.StringArray:
    """Arrow strings from an ASCII matrix, one row per string, without a Python object per row."""
    n, width = matrix.shape
    data = np.ascontiguousarray(matrix).tobytes()
    offsets = (np.arange(n + 1, dtype=np.int32) * width).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def vocab(words: Sequence[str]) -> pa.StringArray:
    """An Arrow string array to ``take`` words from."""
    return pa.array(list(words), type=pa.string())


def take(words: pa.Array, idx: IntArray) -> pa.Array:
    """``words[idx]`` as an Arrow array."""
    return pc.take(words, pa.array(idx, type=pa.int64()))


def join(*parts: pa.Array | str) -> pa.Array:
    """Row-wise concatenation of string arrays; a plain ``str`` part is repeated on every row."""
    return pc.binary_join_element_wise(*(pa.scalar(p) if isinstance(p, str) else p for p in parts), "")


def numbers(values: IntArray) -> pa.Array:
    """Decimal strings of integers."""
    return pc.cast(pa.array(values, type=pa.int64()), pa.string())


def dates(day: IntArray, valid: BoolArray | None = None) -> pa.Array:
    """A date32 column from day numbers; rows where ``valid`` is false are null."""
    mask = None if valid is None else ~valid
    return pa.array(day.astype(np.int32), type=pa.int32(), mask=mask).cast(pa.date32())


def add_years(day: dt.date, years: int) -> dt.date:
    """``day`` moved by whole years; 29 February becomes 28 February when needed."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def short_name(name: str) -> str:
    """A region's name without its level word (杭州市 -> 杭州, 景宁畲族自治县 -> 景宁), for company names."""
    for suffix in ("畲族自治县", "自治县", "自治州", "自治旗", "新区", "地区", "市", "县", "区", "旗", "盟"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class ProvinceTable:
    """The counties of one province, current and historical, with what the generators need."""

    province: Region
    regions: tuple[Region, ...]
    codes: IntArray
    code_digits: U8Array
    current: IntArray
    successor: IntArray
    prefecture_short: tuple[str, ...]
    county_short: tuple[str, ...]
    full_names: pa.StringArray

    def valid_in(self, year: int) -> list[int]:
        """Indices of counties attested in ``year`` (``valid_from`` / ``valid_to`` where known)."""
        return [
            i
            for i, r in enumerate(self.regions)
            if (r.valid_from is None or r.valid_from <= year) and (r.valid_to is None or r.valid_to >= year)
        ]

    def by_year(self, first: int, last: int) -> GroupedChooser:
        """A chooser of counties valid in each year ``first..last`` (group ``year - first``).

        A year without any attested county (a province created later, such as 重庆 in 1997) borrows
        the nearest year that has some, so every number still carries a code of this province.
        """
        valid = {y: self.valid_in(y) for y in range(first, last + 1)}
        known = [y for y, v in valid.items() if v] or [last]
        groups = []
        for y in range(first, last + 1):
            members = valid[y] or valid.get(min(known, key=lambda k: abs(k - y))) or list(self.current)
            groups.append([(i, county_weight(self.regions[i])) for i in members])
        return GroupedChooser(groups)


def county_weight(region: Region) -> float:
    """Relative population weight: urban districts are more populous than rural counties."""
    if region.name.endswith("区"):
        return 1.6
    if region.name.endswith("市"):
        return 1.3
    if "自治" in region.name:
        return 0.5
    return 1.0


def _successor(region: Region, current: list[Region], prefectures: list[Region]) -> Region:
    """The current county that took over a historical one: same name stem (萧山县 -> 萧山区), else the
    first county of a prefecture of that name (湖州市 of 嘉兴地区 -> 吴兴区), else one in the same
    prefecture, else the first of the province."""
    stem = short_name(region.name)
    for r in current:
        if short_name(r.name) == stem:
            return r
    # One-character stems (鄞县 -> 鄞州区, 嵊县 -> 嵊州市) are not stripped by short_name.
    if len(region.name) == 2:
        for r in current:
            if r.name.startswith(region.name[0]):
                return r
    for p in prefectures:
        if short_name(p.name) == stem:
            for r in current:
                if r.code[:4] == p.code[:4]:
                    return r
    for r in current:
        if r.code[:4] == region.code[:4]:
            return r
    return current[0]


@functools.cache
def province_table(code: str) -> ProvinceTable:
    """The county table of a province, given its GB/T 2260 code (e.g. ``330000``)."""
    province = region_lookup(code)
    if province.level != "province":
        raise invalid(
            "province",
            f"“{province.code}”（{province.name}）不是省级行政区划代码",
            f"'{province.code}' ({province.name}) is not a province-level code",
            field="province_code",
            actual=province.code,
        )
    regions = tuple(
        r
        for r in counties(current_only=False, under=province.code)
        # 市区 (a city's urban area in the 1980s lists) and development zones are not places to be from.
        if not is_placeholder(r.name) and r.name != "市区" and "开发区" not in r.name
    )
    current_regions = [r for r in regions if r.current]
    if not current_regions:
        raise invalid(
            "province",
            f"“{province.code}”（{province.name}）下没有现行的县级行政区划",
            f"'{province.code}' ({province.name}) has no current county-level regions",
            field="province_code",
            actual=province.code,
        )
    prefectures = [
        r for r in regions_all() if r.level == "prefecture" and r.current and r.code[:2] == province.code[:2]
    ]
    index = {r.code: i for i, r in enumerate(regions)}
    codes = np.asarray([int(r.code) for r in regions], dtype=np.int64)
    prefecture_short = []
    for r in regions:
        parent = region_lookup(r.parent) if r.parent else province
        prefecture_short.append(short_name(parent.name if parent.level == "prefecture" else r.name))
    return ProvinceTable(
        province=province,
        regions=regions,
        codes=codes,
        code_digits=digits(codes, 6),
        current=np.asarray([index[r.code] for r in current_regions], dtype=np.int64),
        successor=np.asarray(
            [index[_successor(r, current_regions, prefectures).code] for r in regions], dtype=np.int64
        ),
        prefecture_short=tuple(prefecture_short),
        county_short=tuple(short_name(r.name) for r in regions),
        full_names=vocab([r.full_name for r in regions]),
    )


_AddressWords = tuple[pa.StringArray, Chooser, pa.StringArray, pa.StringArray, Chooser, pa.StringArray]


@functools.cache
def _address_words() -> _AddressWords:
    return (
        vocab(names.SUBDISTRICT_STEMS),
        Chooser([w for _, w in names.SUBDISTRICT_SUFFIXES]),
        vocab([s for s, _ in names.SUBDISTRICT_SUFFIXES]),
        vocab(names.ROAD_STEMS),
        Chooser([w for _, w in names.ROAD_SUFFIXES]),
        vocab([s for s, _ in names.ROAD_SUFFIXES]),
    )


def address(table: ProvinceTable, county: IntArray, u: FloatArray, house: IntArray) -> pa.Array:
    """Synthetic addresses: county full name + 街道/镇 + road + 号 [+ 幢 单元 室].

    ``u`` holds six uniform columns (subdistrict stem and suffix, road stem and suffix, whether a
    room is named, building number); ``house`` is the house number.
    """
    sub_stems, sub_chooser, sub_suffixes, road_stems, road_chooser, road_suffixes = _address_words()
    sub = (u[:, 0] * len(sub_stems)).astype(np.int64)
    road = (u[:, 2] * len(road_stems)).astype(np.int64)
    has_room = u[:, 4] < names.ROOM_SHARE
    # One uniform number spreads into building (1-30), unit (1-4), floor (1-18) and room (1-4).
    spread = (u[:, 5] * 8640).astype(np.int64)
    building = spread // 288 + 1
    unit = spread // 72 % 4 + 1
    room = (spread // 4 % 18 + 1) * 100 + spread % 4 + 1
    room_text = join(numbers(building), "幢", numbers(unit), "单元", numbers(room), "室")
    return join(
        take(table.full_names, county),
        take(sub_stems, sub),
        take(sub_suffixes, sub_chooser.pick(u[:, 1])),
        take(road_stems, road),
        take(road_suffixes, road_chooser.pick(u[:, 3])),
        numbers(house),
        "号",
        pc.if_else(pa.array(has_room), room_text, pa.scalar("")),
    )


def check_seed(seed: int) -> int:
    """``seed`` if it is a non-negative int below 2**63."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise invalid(
            "seed",
            f"随机种子应为 0 到 2^63-1 之间的整数，实际为 {seed!r}",
            f"seed must be an integer from 0 to 2**63-1, got {seed!r}",
            field="seed",
            actual=repr(seed),
        )
    return seed


def check_as_of(as_of: dt.date) -> dt.date:
    """``as_of`` if it is a date (not a datetime) in the years 1990-2100."""
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime) or not 1990 <= as_of.year <= 2100:
        raise invalid(
            "as_of",
            f"参考日期应为 1990 到 2100 年之间的日期，实际为 {as_of!r}",
            f"as_of must be a date in the years 1990-2100, got {as_of!r}",
            field="as_of",
            actual=repr(as_of),
        )
    return as_of
