"""Encoding detection of handed-in text files: UTF-8 with or without BOM, GBK, and neither."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhengwu.errors import ValidationError
from zhengwu.textfiles import SAMPLE_BYTES, detect_text_encoding


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "delivery.csv"
    path.write_bytes(data)
    return path


def test_utf8_with_and_without_bom_and_gbk(tmp_path: Path) -> None:
    text = "姓名,公民身份号码\n张三,１１０１０１\n"
    assert detect_text_encoding(_file(tmp_path, text.encode("utf-8")), code_prefix="x") == ("utf-8", None)
    encoding, note = detect_text_encoding(_file(tmp_path, text.encode("utf-8-sig")), code_prefix="x")
    assert encoding == "utf-8-sig" and note is not None and "BOM" in note
    encoding, note = detect_text_encoding(_file(tmp_path, text.encode("gbk")), code_prefix="x")
    assert encoding == "gb18030" and note is not None and "GBK" in note


def test_a_character_cut_at_the_end_of_the_sample_is_still_utf8(tmp_path: Path) -> None:
    # "汉" is three bytes in UTF-8; the sample ends after its first byte.
    data = b"a" * (SAMPLE_BYTES - 1) + "汉".encode()
    assert detect_text_encoding(_file(tmp_path, data), code_prefix="x")[0] == "utf-8"


def test_neither_utf8_nor_gbk_names_the_byte_and_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        detect_text_encoding(_file(tmp_path, b"id,name\n1,\xff\xff\xff\n"), code_prefix="registries.file")
    error = caught.value
    assert error.code == "registries.file.encoding" and error.field == "file"
    assert "第 11 个字节" in error.message and "byte 11" in error.message_en
