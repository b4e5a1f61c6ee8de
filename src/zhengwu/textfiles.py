"""Text files that departments hand in: which encoding they are in.

Offices save CSV from Excel as UTF-8 with a BOM, as plain UTF-8 or as GBK, and nothing in the bytes says
which; the first megabyte is tried in that order. GB18030 decodes everything GBK does, and more.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Final

from zhengwu.errors import ValidationError

#: How much of a file is read to tell its encoding.
SAMPLE_BYTES: Final = 1 << 20


def detect_text_encoding(path: Path, *, code_prefix: str) -> tuple[str, str | None]:
    """The codec to open ``path`` with and a note for the operator (None when there is nothing to say).

    Raises :class:`ValidationError` with code ``<code_prefix>.encoding`` and field ``file`` when the file is
    neither UTF-8 nor GBK/GB18030, naming the byte near which decoding failed.
    """
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "文件带有 UTF-8 BOM，已自动去除"
    try:
        # An incremental decoder tolerates a multi-byte character cut at the end of the sample.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", None
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"文件编码无法识别（既不是 UTF-8 也不是 GBK），第 {exc.start + 1} 个字节附近无效",
            message_en=f"unknown encoding (neither UTF-8 nor GBK) near byte {exc.start + 1}",
            code=f"{code_prefix}.encoding",
            field="file",
        ) from exc
    return "gb18030", "检测到 GBK/GB18030 编码，已按该编码读取（建议改用 UTF-8）"
