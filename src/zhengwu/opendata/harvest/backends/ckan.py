"""The CKAN backend: another CKAN-compatible portal through its Action API.

Gather pages ``package_search`` with ``rows``/``start`` and ``sort=id asc`` (what ckanext-harvest's
CKAN harvester sends), so the whole list is stable while it is read; each result is already the whole
``package_show`` dictionary, kept as the record. Whether a dataset changed is decided by its
``metadata_modified`` first (no import when it is the same), then by a hash of the record.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urljoin

from zhengwu.opendata.harvest.backends.base import (
    MAX_PAGES,
    Backend,
    Converted,
    RemoteError,
    RemoteRef,
    http_get,
    parse_json,
    register_backend,
)
from zhengwu.opendata.schemas import FREQUENCIES, OPEN_TYPES

PAGE_ROWS = 100
LIST_ROWS = 1000  # CKAN's maximum rows
SINCE_MARGIN = dt.timedelta(minutes=10)
_TAG_BAD = re.compile(r"[,\n\r\t\x00]")
# Extras that carry another harvester's bookkeeping: ours replace them (ckanext-harvest drops them too).
_OWN_EXTRAS = ("harvest_",)


def modified_key(value: Any) -> str:
    """A remote modified time in one form: UTC to the millisecond.

    A CKAN answers ``metadata_modified`` in Solr's form in an ``fl`` list (``2024-01-02T03:04:05.678Z``)
    and in the dictionary's form elsewhere (``2024-01-02T03:04:05.678901``); both must compare equal.
    """
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text[:64]
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed.isoformat(timespec="milliseconds")


def _envelope(body: Any, action: str) -> Any:
    if not isinstance(body, dict) or "success" not in body:
        raise RemoteError(f"{action} 的响应不是 CKAN 的格式（缺少 success 字段）")
    if not body["success"]:
        error = body.get("error") or {}
        kind = error.get("__type", "错误") if isinstance(error, dict) else "错误"
        message = error.get("message", "") if isinstance(error, dict) else str(error)
        raise RemoteError(f"{action} 失败：{kind} {message}".strip())
    return body.get("result")


@register_backend
class CkanBackend(Backend):
    """A CKAN Action API (``/api/3/action/``)."""

    name = "ckan"
    title_zh = "CKAN 接口"

    @property
    def base(self) -> str:
        return self.url.rstrip("/")

    def _action(self, action: str, params: dict[str, Any]) -> Any:
        response = http_get(self.client, f"{self.base}/api/3/action/{action}", params)
        return _envelope(parse_json(response), action)

    def _pages(self, params: dict[str, Any], rows: int) -> list[dict[str, Any]]:
        """Every result of one ``package_search``, paged with rows/start in id order."""
        out: list[dict[str, Any]] = []
        start = 0
        for _ in range(MAX_PAGES):
            result = self._action(
                "package_search", {**params, "rows": rows, "start": start, "sort": "id asc"}
            )
            if not isinstance(result, dict) or not isinstance(result.get("results"), list):
                raise RemoteError("package_search 的结果缺少 results 列表")
            for pkg in result["results"]:
                if not isinstance(pkg, dict) or not pkg.get("id"):
                    raise RemoteError("package_search 的结果中有缺少 id 的数据集")
                out.append(pkg)
            start += len(result["results"])
            self.progress()
            count = result.get("count")
            if not result["results"] or (isinstance(count, int) and start >= count):
                return out
        raise RemoteError(f"package_search 超过 {MAX_PAGES} 页仍未结束")

    def _ref(self, pkg: dict[str, Any]) -> RemoteRef:
        pid = str(pkg["id"])
        return RemoteRef(
            remote_id=pid,
            modified=modified_key(pkg.get("metadata_modified")),
            name=str(pkg.get("name") or ""),
            url=f"{self.base}/dataset/{pkg.get('name') or pid}",
            content=pkg if "resources" in pkg else None,
        )

    def gather(self, since: dt.datetime | None = None) -> list[RemoteRef]:
        """Every public dataset of the remote.

        The first time, whole records in pages of 100. After a job that listed the remote whole, the
        list is asked for ids and modified times only (``fl``, big pages) and whole records only for
        what changed since then (``fq=metadata_modified:[since TO *]``), as ckanext-harvest does; a
        remote that ignores ``fl`` simply sends whole records. Records neither pass carried are read
        with ``package_show`` if they changed.
        """
        if since is None:
            return list(
                {ref.remote_id: ref for ref in map(self._ref, self._pages({"q": "*:*"}, PAGE_ROWS))}.values()
            )
        refs = {
            ref.remote_id: ref
            for ref in map(self._ref, self._pages({"q": "*:*", "fl": "id,name,metadata_modified"}, LIST_ROWS))
        }
        # A margin for clocks that disagree: re-reading a few unchanged records costs only a hash.
        mark = (since.astimezone(dt.UTC) - SINCE_MARGIN).strftime("%Y-%m-%dT%H:%M:%SZ")
        for pkg in self._pages({"q": "*:*", "fq": f"metadata_modified:[{mark} TO *]"}, PAGE_ROWS):
            ref = refs.get(str(pkg["id"]))
            if ref is not None and "resources" in pkg:
                ref.content = pkg
                ref.modified = modified_key(pkg.get("metadata_modified")) or ref.modified
        return list(refs.values())

    def fetch(self, ref: RemoteRef) -> dict[str, Any]:
        """``package_show`` of one dataset."""
        result = self._action("package_show", {"id": ref.remote_id})
        if not isinstance(result, dict):
            raise RemoteError("package_show 的结果不是数据集")
        return result

    def convert(self, content: dict[str, Any]) -> Converted:
        """A CKAN package dictionary as the portal's payload (unknown values fall back, with a note)."""
        notes: list[str] = []
        if not content.get("name") and not content.get("id"):
            raise RemoteError("数据集缺少 name 和 id")
        tags = []
        for tag in content.get("tags") or []:
            value = tag.get("name") if isinstance(tag, dict) else tag
            if isinstance(value, str) and value.strip():
                tags.append({"name": _TAG_BAD.sub(" ", value).strip()[:100]})
        resources = []
        for res in content.get("resources") or []:
            if not isinstance(res, dict):
                continue
            url = str(res.get("url") or "")
            if url and not re.match(r"^(https?|ftp)://", url, re.IGNORECASE):
                url = urljoin(self.base + "/", url.lstrip("/"))
            size = res.get("size")
            resources.append(
                {
                    "name": str(res.get("name") or "")[:300],
                    "description": str(res.get("description") or "")[:10_000],
                    "url": url[:1000],
                    "format": str(res.get("format") or "")[:32],
                    "mimetype": (str(res["mimetype"])[:100] if res.get("mimetype") else None),
                    "size": size if isinstance(size, int) and size >= 0 else None,
                }
            )
        extras = [
            {"key": str(e["key"])[:100], "value": str(e.get("value") or "")[:10_000]}
            for e in content.get("extras") or []
            if isinstance(e, dict) and e.get("key") and not str(e["key"]).startswith(_OWN_EXTRAS)
        ]
        frequency = content.get("update_frequency") or "irregular"
        if frequency not in FREQUENCIES:
            notes.append(f"更新频率 {frequency} 不认识，记为不定期")
            frequency = "irregular"
        open_type = content.get("open_type") or "open"
        if open_type not in OPEN_TYPES:
            open_type = "open"
        spatial = content.get("spatial") or ""
        payload: dict[str, Any] = {
            "name": str(content.get("name") or content.get("id")),
            "title": str(content.get("title") or content.get("name") or "")[:300],
            "notes": str(content.get("notes") or ""),
            "license_id": str(content.get("license_id") or ""),
            "version": str(content.get("version") or "")[:64],
            "url": str(content.get("url") or "")[:500],
            "maintainer": str(content.get("maintainer") or "")[:200],
            "maintainer_email": str(content.get("maintainer_email") or "")[:200],
            "tags": tags,
            "resources": resources,
            "extras": extras,
            "open_type": open_type,
            "open_conditions": str(content.get("open_conditions") or ""),
            "update_frequency": frequency,
            "temporal_start": _date(content.get("temporal_start")),
            "temporal_end": _date(content.get("temporal_end")),
            "spatial": spatial if isinstance(spatial, str) and re.fullmatch(r"\d{6}", spatial) else None,
        }
        org = content.get("organization")
        remote_org = str(org.get("name") or "") if isinstance(org, dict) else ""
        return Converted(
            payload=payload,
            remote_url=f"{self.base}/dataset/{payload['name']}",
            remote_org=remote_org,
            notes=notes,
        )


def _date(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None
