"""Benchmark ``zhengwu seed``: synthetic persons and legal entities to Parquet and CSV.

Run: ``.venv/bin/python bench/bench_seed.py`` (``make bench-seed``). Target: 1,000,000 persons in under
60 s on two cores. The baseline, measured in the same run, is Faker's zh_CN provider row by row on a
small sample, extrapolated; it runs only if ``faker`` is installed (``pip install faker``; it is not a
dependency of zhengwu).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from zhengwu.synthetic import generate_entities, generate_persons, write_batches


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def timed(label: str, rows: int, run: Callable[[], object], path: Path | None = None) -> float:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    size = f", {path.stat().st_size / 1e6:,.0f} MB" if path is not None else ""
    print(f"{label:<50} {rows:>10,} rows {seconds:8.2f} s {rows / seconds:>12,.0f} rows/s{size}", flush=True)
    return seconds


def faker_baseline(rows: int, total: int) -> None:
    try:
        import faker
    except ImportError:
        print("faker not installed: baseline skipped (pip install faker to include it)")
        return
    fake = faker.Faker("zh_CN")
    fake.seed_instance(2026)

    def persons() -> None:
        for _ in range(rows):
            # The same columns as ours, as far as Faker's zh_CN provider has them.
            (
                fake.ssn(),
                fake.name(),
                fake.random_element("MF"),
                fake.date_of_birth(maximum_age=100),
                fake.address(),
                fake.phone_number(),
            )

    def entities() -> None:
        for _ in range(rows):
            (
                fake.company(),
                fake.ssn(),
                fake.date_between("-30y", "today"),
                fake.address(),
                fake.random_int(10_000, 10_000_000),
            )

    print(f"\nBaseline: Faker {faker.VERSION} zh_CN, row by row, {rows:,} rows, extrapolated to {total:,}")
    for label, run in (
        ("faker persons (in memory, no file)", persons),
        ("faker entities (in memory, no file)", entities),
    ):
        seconds = timed(label, rows, run)
        print(f"{'':<50} -> {total:,} rows would take about {seconds * total / rows:,.0f} s")
    names = {fake.name()[1:] for _ in range(rows)}
    print(f"faker: {len(names):,} distinct given names in {rows:,} names")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--faker-rows", type=int, default=20_000)
    args = parser.parse_args()
    count = args.count

    print("zhengwu seed benchmark")
    print(f"date      {dt.datetime.now().isoformat(timespec='seconds')}")
    print(f"cpu       {cpu_model()} ({os.cpu_count()} cores)")
    print(f"python    {platform.python_version()} ({sys.implementation.name})")
    print(f"numpy     {np.__version__}, pyarrow {pa.__version__}")
    print()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # Warm the region tables so that the first measurement is not charged with loading them.
        list(generate_persons(count=10))
        timed(
            "persons, generate only (no file)",
            count,
            lambda: sum(b.num_rows for b in generate_persons(count=count)),
        )
        out = folder / "persons.parquet"
        timed(
            "persons -> Parquet (zstd)",
            count,
            lambda: write_batches(generate_persons(count=count), out, progress=False),
            out,
        )
        out = folder / "persons.csv"
        timed(
            "persons -> CSV",
            count,
            lambda: write_batches(generate_persons(count=count), out, progress=False),
            out,
        )
        out = folder / "entities.parquet"
        timed(
            f"entities -> Parquet (reps from {count:,} persons)",
            count,
            lambda: write_batches(generate_entities(count=count, persons_count=count), out, progress=False),
            out,
        )
        out = folder / "entities.csv"
        timed(
            "entities -> CSV (reps from 10,000 persons)",
            count,
            lambda: write_batches(generate_entities(count=count), out, progress=False),
            out,
        )
        sample = pa.Table.from_batches(list(generate_persons(count=args.faker_rows)))
        given = {n[1:] for n in sample["name"].to_pylist()}
        print(f"zhengwu: {len(given):,} distinct given names in {args.faker_rows:,} names")
        print(f"peak RSS so far: {peak_rss_mb():,.0f} MB")

    if args.faker_rows > 0:
        faker_baseline(args.faker_rows, count)


if __name__ == "__main__":
    main()
