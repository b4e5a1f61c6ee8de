"""One pass over a delivered CSV file in a background thread: its SM3 fingerprint and its syntax check.

Both need every byte of the file and neither needs PostgreSQL. Done up front, they kept the database
idle for ≈ 12 s of a 10-million-person first load (the fingerprint at ≈ 276 MB/s, the vectorised
syntax scan of :func:`zhengwu.registries.fastpath.check_syntax_blocks`). :class:`FileScan` reads the
file once, block by block, feeding both, beside the validated ``COPY`` and the index builds; SM3
(OpenSSL, through ``hashlib``) and most NumPy work release the GIL, so the scan mostly takes CPU time
the main thread and PostgreSQL leave unused.

The callers decide what the late answers mean (:mod:`zhengwu.registries.ingest`, :mod:`.firstload`):
the syntax verdict is awaited after the last chunk and before anything is kept (a doubtful file rolls
back to a savepoint and takes the row reader, as an up-front check would have sent it there), and the
fingerprint before the batch is released, so a delivery applied before is still a no-op that returns the
earlier batch (re-running a batch changes nothing), found at the end instead of the start.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from zhengwu.crypto import Sm3Hasher
from zhengwu.registries import readers
from zhengwu.registries.fastpath import NotClean, check_syntax_blocks

#: Bytes read at a time: large enough for hashlib to release the GIL and NumPy to work in bulk.
BLOCK: Final = 8 << 20


class FileScan:
    """The fingerprint (as :func:`readers.fingerprint_file`) and the syntax verdict of one file."""

    def __init__(self, path: Path, source: str, *, block: int = BLOCK) -> None:
        self.path = path
        self.source = source
        self.block = block
        self._fingerprint: str | None = None
        self._syntax: NotClean | None = None
        self._failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"filescan {path.name}", daemon=True)

    def start(self) -> FileScan:
        self._thread.start()
        return self

    def fingerprint(self) -> str:
        """Wait for the scan; the SM3 fingerprint of the file's bytes and the source department."""
        self._wait()
        assert self._fingerprint is not None  # set by a scan that ended without failure
        return self._fingerprint

    def syntax(self) -> None:
        """Wait for the scan; raise :class:`~zhengwu.registries.fastpath.NotClean` for a doubtful file."""
        self._wait()
        if self._syntax is not None:
            raise NotClean(str(self._syntax))

    def cancel(self) -> None:
        """Stop reading (the batch ended early); the answers are not to be asked for afterwards."""
        self._stop.set()

    def _wait(self) -> None:
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        if self._fingerprint is None:
            raise RuntimeError("the file scan was cancelled")

    def _run(self) -> None:
        hasher = Sm3Hasher()
        try:
            with self.path.open("rb") as fh:

                def blocks() -> Iterator[bytes]:
                    while not self._stop.is_set() and (data := fh.read(self.block)):
                        hasher.update(data)
                        yield data

                source = blocks()
                try:
                    check_syntax_blocks(source)
                except NotClean as exc:
                    self._syntax = exc
                for _ in source:  # the fingerprint covers every byte, whenever the check stopped
                    pass
            if not self._stop.is_set():
                self._fingerprint = readers.fingerprint_finish(hasher, self.source)
        except BaseException as exc:  # handed to the thread that asks for the answers
            self._failure = exc
