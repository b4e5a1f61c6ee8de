"""Writers (CSV, Parquet) and the ``seed persons`` / ``seed entities`` commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from zhengwu.errors import ValidationError
from zhengwu.identifiers import parse_resident_id, parse_uscc
from zhengwu.synthetic import ENTITY_SCHEMA, PERSON_SCHEMA, generate_entities, generate_persons, write_batches
from zhengwu.synthetic.cli import entities_command, persons_command
from zhengwu.synthetic.writers import UTF8_BOM, infer_format


def read_csv(path: Path, schema: pa.Schema) -> pa.Table:
    options = pacsv.ConvertOptions(
        column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    return pacsv.read_csv(path, convert_options=options).cast(schema)


def test_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    expected = pa.Table.from_batches(list(generate_persons(count=2500, chunk_size=1000)))
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"persons.{suffix}"
        rows = write_batches(generate_persons(count=2500, chunk_size=1000), out, progress=False)
        assert rows == 2500
        got = pq.read_table(out) if suffix == "parquet" else read_csv(out, PERSON_SCHEMA)
        assert got.cast(PERSON_SCHEMA).equals(expected)
    entities = pa.Table.from_batches(list(generate_entities(count=1500, persons_count=300)))
    out = tmp_path / "entities.csv"
    write_batches(generate_entities(count=1500, persons_count=300), out, progress=False)
    assert read_csv(out, ENTITY_SCHEMA).equals(entities)


def test_same_seed_same_bytes_and_other_seed_other_bytes(tmp_path: Path) -> None:
    for suffix in ("csv", "parquet"):
        paths = [tmp_path / f"{name}.{suffix}" for name in ("a", "b", "c")]
        for path, seed in zip(paths, (1, 1, 2), strict=True):
            write_batches(generate_persons(count=1200, seed=seed), path, progress=False)
        a, b, c = (p.read_bytes() for p in paths)
        assert a == b
        assert a != c


def test_bom_is_optional_and_csv_only(tmp_path: Path) -> None:
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    write_batches(generate_persons(count=10), plain, progress=False)
    write_batches(generate_persons(count=10), marked, bom=True, progress=False)
    assert marked.read_bytes() == UTF8_BOM + plain.read_bytes()
    assert plain.read_bytes().startswith(b'"resident_id"')
    with pytest.raises(ValidationError) as info:
        write_batches(generate_persons(count=10), tmp_path / "x.parquet", bom=True, progress=False)
    assert info.value.code == "synthetic.bom"


def test_format_from_suffix_or_explicit() -> None:
    assert infer_format("a.CSV") == "csv"
    assert infer_format("a.pq") == "parquet"
    assert infer_format("a.dat", "parquet") == "parquet"
    for args in (("a.txt", None), ("a.csv", "xlsx")):
        with pytest.raises(ValidationError) as info:
            infer_format(*args)
        assert info.value.code == "synthetic.format"


def test_no_rows_still_writes_a_header(tmp_path: Path) -> None:
    out = tmp_path / "empty.csv"
    assert write_batches(generate_persons(count=0), out, schema=PERSON_SCHEMA, progress=False) == 0
    assert out.read_text(encoding="utf-8").strip().startswith('"resident_id","name"')
    with pytest.raises(ValidationError):
        write_batches(iter([]), tmp_path / "nothing.csv", progress=False)


def test_a_failing_run_leaves_no_file(tmp_path: Path) -> None:
    def broken() -> Iterator[pa.RecordBatch]:
        yield from generate_persons(count=100)
        raise RuntimeError("boom")

    out = tmp_path / "broken.parquet"
    with pytest.raises(RuntimeError):
        write_batches(broken(), out, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_persons_command(tmp_path: Path) -> None:
    out = tmp_path / "persons.csv"
    args = ["--count", "700", "--out", str(out), "--seed", "3", "--bom"]
    result = CliRunner().invoke(persons_command, args)
    assert result.exit_code == 0, result.output
    assert "700" in result.output and "rows/s" in result.output
    assert out.read_bytes().startswith(UTF8_BOM)
    rows = read_csv(out, PERSON_SCHEMA)
    assert rows.num_rows == 700
    for rid in rows["resident_id"].to_pylist():
        parse_resident_id(rid)
    expected = pa.Table.from_batches(list(generate_persons(count=700, seed=3)))
    assert rows.equals(expected)


def test_entities_command_with_format_and_options(tmp_path: Path) -> None:
    out = tmp_path / "entities.data"
    args = [
        "--count",
        "900",
        "--out",
        str(out),
        "--format",
        "parquet",
        "--province",
        "320000",
        "--persons",
        "200",
        "--chunk-size",
        "250",
        "--as-of",
        "2025-07-01",
        "--no-progress",
    ]
    result = CliRunner().invoke(entities_command, args)
    assert result.exit_code == 0, result.output
    rows = pq.read_table(out)
    assert rows.num_rows == 900
    assert all(parse_uscc(u).region_code.startswith("32") for u in rows["uscc"].to_pylist())


def test_commands_report_errors_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(persons_command, ["--count", "5", "--out", str(tmp_path / "p.txt")])
    assert result.exit_code == 1
    assert "synthetic.format" in result.output
    result = CliRunner().invoke(entities_command, ["--out", str(tmp_path / "e.csv"), "--province", "330100"])
    assert result.exit_code == 1
    assert "synthetic.province" in result.output
    assert not (tmp_path / "e.csv").exists()
