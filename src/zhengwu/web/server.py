"""The HTTP protocol `zhengwu serve` runs under uvicorn: httptools, one socket write per answer.

uvicorn's httptools protocol writes an answer's status line and headers (on ``http.response.start``) and
its body (on ``http.response.body``) with two ``transport.write`` calls, so two ``send`` system calls and,
with ``TCP_NODELAY``, two TCP segments, each of which the kernel delivers to the peer (on loopback, in the
sender's own system call). For small JSON answers, the registries' lookups and verifications, those two
writes were ≈ 15 % of a worker's CPU (py-spy; docs/benchmarks.md). :class:`OneWriteHttpToolsProtocol`
gives the protocol a transport that holds a write until the next one or the end of the current event-loop
step, whichever comes first: a head and a body sent in the same step (every complete answer whose body
is in one message) leave in one write; nothing waits longer than one loop step, and the order of the bytes
never changes.

:data:`SINGLE_ACCEPT_ENV` balances connections between worker processes: by default the first libuv loop
to wake accepts every pending connection of the shared socket, so a burst of keep-alive connections (a
load generator, a proxy's pool) can land 12 to 4 on two workers and leave one worker the bottleneck while
the other idles (measured: 6,728 against 1,718 calls in one run). With ``UV_TCP_SINGLE_ACCEPT=1`` libuv
accepts one connection per wake-up and yields, which spreads them (3,004 against 2,681).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: libuv's switch for accepting one connection per wake-up (see the module docstring).
SINGLE_ACCEPT_ENV: Final = {"UV_TCP_SINGLE_ACCEPT": "1"}


class _OneWriteTransport:
    """A transport whose writes made in one event-loop step leave as one write (see the module docstring).

    Only the calls uvicorn's protocol makes are defined; everything else is the wrapped transport's."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            # The first write of a step: keep it for the next one (the body after the head), at most
            # until the end of this step.
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
        else:
            self._held = None
            self._transport.write(held + data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing each answer in one piece (``uvicorn --http`` takes it)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Flow control and the addresses keep the real transport; requests and answers use the wrapper.
        self.transport = _OneWriteTransport(transport, self.loop)  # type: ignore[assignment]
