"""What a harvest backend is, the registry of backends, and HTTP reading with clear failure reasons.

A backend (a plugin, as udata's ``BaseBackend`` and ckanext-harvest's ``IHarvester`` are) knows one kind
of remote portal and does three things: ``gather`` lists the remote datasets (id, modified time, and
the whole record when the listing carries it), ``fetch`` reads one record the listing did not carry,
``convert`` turns a record into the portal's dataset payload (CKAN's ``package_create`` shape). The job
engine (``runner.py``) is the same for every backend. New backends register with
:func:`register_backend` under a name that sources refer to.

Every remote failure becomes a :class:`RemoteError` whose message says in Chinese what went wrong
(timeout, HTTP status, HTML where JSON was expected, broken Turtle), so the harvest log explains it.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from zhengwu.errors import ValidationError

USER_AGENT = "zhengwu-harvester/1 (+https://w3id.org/zhengwu)"
MAX_PAGES = 10_000  # a remote whose "next" links never end is cut off here
MAX_BODY = 64 * 1024 * 1024


class RemoteError(Exception):
    """The remote answered something a harvester cannot use; ``reason`` is shown in the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RemoteRef:
    """One remote dataset as the gather stage lists it."""

    remote_id: str
    modified: str = ""  # as the remote states it; "" when the remote does not say
    name: str = ""
    url: str = ""
    content: dict[str, Any] | None = None  # the whole record, when the listing carries it


@dataclass
class Converted:
    """A remote record as the portal stores it: a ``package_create`` payload and where it came from."""

    payload: dict[str, Any]
    remote_url: str = ""
    remote_org: str = ""  # the remote publisher's name, looked up in the source's organization map
    notes: list[str] = field(default_factory=list)  # what was dropped or changed, for the log


class Backend(ABC):
    """A kind of remote portal."""

    name: ClassVar[str]
    title_zh: ClassVar[str]

    def __init__(self, client: httpx.Client, url: str) -> None:
        self.client = client
        self.url = url.strip()
        # Called after each page the gather stage reads: the job keeps its lock fresh through long lists.
        self.progress: Callable[[], None] = _nothing

    @abstractmethod
    def gather(self, since: dt.datetime | None = None) -> list[RemoteRef]:
        """Every dataset the remote offers now; raises :class:`RemoteError` if it cannot be listed whole.

        ``since`` is the start of the last job that listed the remote whole: a backend that can ask the
        remote for what changed since then reads only those records in full.
        """

    @abstractmethod
    def fetch(self, ref: RemoteRef) -> dict[str, Any]:
        """The record of one remote dataset (called only when ``ref.content`` is None)."""

    @abstractmethod
    def convert(self, content: dict[str, Any]) -> Converted:
        """The record as a dataset payload; raises :class:`RemoteError` when it cannot be used."""


def _nothing() -> None:
    return None


BACKENDS: dict[str, type[Backend]] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Class decorator: make a backend available to sources under ``cls.name``."""
    BACKENDS[cls.name] = cls
    return cls


def backend_class(name: str) -> type[Backend]:
    """The backend registered as ``name`` (ValidationError naming the field otherwise)."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValidationError(
            f"不支持的采集方式 {name}，可选：{'、'.join(sorted(BACKENDS))}",
            message_en=f"unknown backend {name!r}; known: {', '.join(sorted(BACKENDS))}",
            code="harvest.backend",
            field="backend",
        ) from None


def http_get(client: httpx.Client, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
    """GET with the failure reasons a harvest log needs (timeouts, refused connections, HTTP errors)."""
    try:
        response = client.get(url, params=params, headers={"User-Agent": USER_AGENT})
    except httpx.TimeoutException:
        raise RemoteError(f"请求超时：{url}") from None
    except httpx.HTTPError as exc:
        raise RemoteError(f"无法连接：{url}（{type(exc).__name__}）") from None
    if len(response.content) > MAX_BODY:
        raise RemoteError(f"响应过大（超过 {MAX_BODY // 1024 // 1024} MB）：{url}")
    if response.status_code >= 400 and not _is_json(response):
        raise RemoteError(f"远端返回 HTTP {response.status_code}：{url}")
    return response


def _is_json(response: httpx.Response) -> bool:
    ctype = str(response.headers.get("content-type", "")).split(";")[0].strip().lower()
    return ctype == "application/json" or ctype.endswith("+json")


def parse_json(response: httpx.Response) -> Any:
    """The JSON body, or a RemoteError saying what came instead (an HTML error page, broken JSON)."""
    ctype = response.headers.get("content-type", "").split(";")[0].strip() or "无"
    if "html" in ctype.lower():
        raise RemoteError(
            f"远端返回的是 HTML 而不是 JSON（Content-Type: {ctype}，HTTP {response.status_code}）"
        )
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RemoteError(
            f"远端返回的不是有效的 JSON（Content-Type: {ctype}，第 {getattr(exc, 'lineno', 1)} 行）"
        ) from None
