"""The background pass over a delivered file (zhengwu.registries.filescan) and the late repeat check it
brings to the first load: same fingerprint, same syntax verdict, a repeat still changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from registries.registries_helpers import World, csv_text, persons_rows
from zhengwu.registries import fastpath, readers
from zhengwu.registries.filescan import FileScan
from zhengwu.registries.models import Person, RegistryBatch

CLEAN = 'a,b\n"x",1\r\n2,"张三"\n'
FILES = [
    CLEAN,
    "\ufeff" + CLEAN,
    'a,b\n"x"y,1\n',  # text after a closing quote
    'a,b\n"x\n",1\n',  # a line break inside quotes
    "a,b\n\n1,2\n",  # a blank line
    'a,b\n"open,1\n',  # an unclosed quote
    "",
]


@pytest.mark.parametrize("text", FILES)
@pytest.mark.parametrize("block", [1, 3, 1 << 20])
def test_the_scan_agrees_with_the_fingerprint_and_the_syntax_check(
    tmp_path: Path, text: str, block: int
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode())
    scan = FileScan(path, "DEPT", block=block).start()
    assert scan.fingerprint() == readers.fingerprint_file(path, "DEPT")
    try:
        fastpath.check_syntax(path)
    except fastpath.NotClean:
        with pytest.raises(fastpath.NotClean):
            scan.syntax()
    else:
        scan.syntax()


def test_a_missing_file_fails_where_the_answer_is_asked_for(tmp_path: Path) -> None:
    scan = FileScan(tmp_path / "gone.csv", "DEPT").start()
    with pytest.raises(FileNotFoundError):
        scan.fingerprint()


def _batches(world: World) -> int:
    return world.db.scalar(select(func.count()).select_from(RegistryBatch)) or 0


def test_a_repeat_into_the_still_empty_registry_is_found_at_the_end(world: World) -> None:
    # Every row invalid, partial: applied with nothing inserted, so the registry stays empty and the
    # same file again takes the first load, whose fingerprint is known only at its end.
    rows = [dict(r, ethnicity="99") for r in persons_rows(4)]
    path = world.file("all-bad.csv", csv_text(rows))
    first = world.ingest(path, mode="partial")
    assert (first.status, first.inserted, first.rows_invalid) == ("partial", 0, 4)
    batch = world.db.get(RegistryBatch, first.batch_id)
    assert batch is not None and batch.fingerprint == readers.fingerprint_file(path, world.source)
    again = world.ingest(path, mode="partial")
    assert again.duplicate_of == first.batch_id and again.inserted == 0
    assert _batches(world) == 1
    assert world.db.scalar(select(func.count()).select_from(Person)) == 0
    # A header alone: applied, nothing in it; again: the earlier batch.
    empty = world.file("header.csv", csv_text([], columns=list(persons_rows(1)[0])))
    none = world.ingest(empty)
    assert none.status == "applied" and none.rows_read == 0
    assert world.ingest(empty).duplicate_of == none.batch_id and _batches(world) == 2


def test_a_repeat_of_a_file_for_the_row_reader_is_found_too(world: World) -> None:
    # A quoted line break: the scan says doubtful, the row reader reads the file; all rows invalid.
    rows = [dict(r, ethnicity="99") for r in persons_rows(3)]
    text = csv_text(rows).replace(rows[0]["household_address"], f'"{rows[0]["household_address"]}\n"', 1)
    path = world.file("multiline.csv", text)
    first = world.ingest(path, mode="partial")
    assert first.status == "partial" and first.inserted == 0
    again = world.ingest(path, mode="partial")
    assert again.duplicate_of == first.batch_id and _batches(world) == 1


def test_a_first_load_records_the_files_fingerprint(world: World) -> None:
    result = world.ingest(world.persons_csv)
    batch = world.db.get(RegistryBatch, result.batch_id)
    assert batch is not None and batch.fingerprint == readers.fingerprint_file(
        world.persons_csv, world.source
    )
    assert world.ingest(world.persons_csv).duplicate_of == result.batch_id
