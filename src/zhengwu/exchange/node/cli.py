"""``zhengwu node ...``: run a front node, print its OpenAPI, register it in the platform directory.

Registration goes through the platform's own API (``POST /api/v1/exchange/services`` with a data
administrator's API token), because a node runs inside the department and never sees the platform's
database. A department with an existing REST API registers that API the same way with
``zhengwu node register-upstream`` (its own OpenAPI file, its own URL).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import httpx
import uvicorn

from zhengwu.cli_support import echo_json, handle_errors
from zhengwu.errors import UpstreamError, ValidationError
from zhengwu.exchange.node.api import create_node_app
from zhengwu.exchange.node.openapi import service_openapi
from zhengwu.exchange.node.schemas import NodeConfig, node_config_build, node_config_load
from zhengwu.exchange.node.services import node_engine, published_reflect

_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML configuration file (see zhengwu.exchange.node.schemas).",
)


def _spec_map(values: tuple[str, ...], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        code, sep, rest = value.partition("=")
        if not sep or not code or not rest:
            raise click.BadParameter(f"expected CODE=VALUE, got {value!r}", param_hint=option)
        out[code] = rest
    return out


def config_from_options(
    config_path: Path | None,
    database_url: str | None,
    publish: tuple[str, ...],
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    change_columns: tuple[str, ...],
    tokens: tuple[str, ...],
) -> NodeConfig:
    """The configuration from a file, or from options (``--publish CODE=TABLE --columns CODE=a,b``)."""
    if config_path is not None:
        if publish or database_url:
            raise click.UsageError("give either --config or --database-url/--publish, not both")
        return node_config_load(config_path)
    cols, key, changes = (
        _spec_map(columns, "--columns"),
        _spec_map(keys, "--key"),
        _spec_map(change_columns, "--change-column"),
    )
    services: list[dict[str, Any]] = []
    for code, table in _spec_map(publish, "--publish").items():
        if code not in cols:
            raise click.UsageError(f"--columns {code}=... is required: name the published columns")
        services.append(
            {
                "code": code,
                "table": table,
                "columns": [c.strip() for c in cols[code].split(",") if c.strip()],
                "key": [c.strip() for c in key.get(code, "").split(",") if c.strip()],
                "change_column": changes.get(code),
            }
        )
    data: dict[str, Any] = {"services": services, "tokens": list(tokens)}
    if database_url:
        data["database_url"] = database_url
    return node_config_build(data)


def _options(func: Any) -> Any:
    for option in reversed(
        [
            _CONFIG,
            click.option("--database-url", help="SQLAlchemy URL of the department database."),
            click.option("--publish", multiple=True, help="CODE=TABLE_OR_VIEW (repeatable)."),
            click.option("--columns", multiple=True, help="CODE=col1,col2 (the published columns)."),
            click.option("--key", "keys", multiple=True, help="CODE=col (ordering key; views need one)."),
            click.option("--change-column", "change_columns", multiple=True, help="CODE=col (change feed)."),
            click.option("--token", "tokens", multiple=True, help="Gateway token (or ZHENGWU_NODE_TOKENS)."),
        ]
    ):
        func = option(func)
    return func


@click.group("node")
def node_group() -> None:
    """前置机 (front node): publish a department's tables and views as exchange services."""


@node_group.command("serve")
@_options
@click.option("--host", help="Listen address (default from the configuration, 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (default from the configuration, 8700).")
@handle_errors
def serve_command(host: str | None, port: int | None, **options: Any) -> None:
    """Serve the published tables over HTTP for the gateway."""
    config = config_from_options(**options)
    app = create_node_app(config)
    uvicorn.run(app, host=host or config.host, port=port or config.port, log_level="warning")


@node_group.command("openapi")
@_options
@click.option("--service", "code", help="Only this service.")
@click.option("--server-url", help="Base URL of the node, written into the documents.")
@handle_errors
def openapi_command(code: str | None, server_url: str | None, **options: Any) -> None:
    """Print the generated OpenAPI 3 documents ({code: document})."""
    config = config_from_options(**options)
    engine = node_engine(config)
    try:
        services = published_reflect(engine, config)
    finally:
        engine.dispose()
    docs = {
        c: service_openapi(
            config, s, server_url=f"{server_url.rstrip('/')}/services/{c}" if server_url else None
        )
        for c, s in services.items()
        if code in (None, c)
    }
    click.echo(json.dumps(docs, ensure_ascii=False, indent=2))


def _post_service(platform_url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        response = httpx.post(
            platform_url.rstrip("/") + "/api/v1/exchange/services",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise UpstreamError(
            f"无法连接平台：{exc}",
            message_en=f"cannot reach the platform: {exc}",
            code="node.platform.unreachable",
        ) from None
    if response.status_code == 409:
        return {"service_code": body["service_code"], "status": "already registered"}
    if response.status_code >= 400:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        raise ValidationError(
            f"平台拒绝登记 {body['service_code']}：{error.get('message', response.status_code)}",
            message_en=f"platform refused {body['service_code']}: "
            f"{error.get('message_en', response.text[:200])}",
            code="node.platform.refused",
            field=error.get("field"),
        )
    return dict(response.json())


_PLATFORM = [
    click.option("--platform-url", required=True, help="Base URL of the zhengwu platform."),
    click.option("--platform-token", envvar="ZHENGWU_PLATFORM_TOKEN", required=True, help="API token."),
    click.option("--subsystem-id", type=int, required=True, help="Directory id of the subsystem."),
]


def _platform_options(func: Any) -> Any:
    for option in reversed(_PLATFORM):
        func = option(func)
    return func


@node_group.command("register")
@_options
@_platform_options
@click.option("--node-url", required=True, help="URL at which the gateway reaches this node.")
@click.option("--timeout-ms", type=int, default=10_000, show_default=True)
@handle_errors
def register_command(
    platform_url: str, platform_token: str, subsystem_id: int, node_url: str, timeout_ms: int, **options: Any
) -> None:
    """Register every published service of this node in the platform directory, with its OpenAPI and
    the node's first token as the upstream credential (so the gateway can call the node)."""
    config = config_from_options(**options)
    tokens = config.token_values()
    engine = node_engine(config)
    try:
        services = published_reflect(engine, config)
    finally:
        engine.dispose()
    failed = False
    for code, service in services.items():
        upstream = f"{node_url.rstrip('/')}/services/{code}"
        body = {
            "subsystem_id": subsystem_id,
            "service_code": code,
            "name": service.spec.title or code,
            "upstream_url": upstream,
            "timeout_ms": timeout_ms,
            "openapi": service_openapi(config, service, server_url=upstream),
        }
        if tokens:
            body["upstream_credential"] = tokens[0]
        try:
            echo_json(_post_service(platform_url, platform_token, body))
        except ValidationError as exc:
            failed = True
            click.echo(f"错误 [{exc.code}]：{exc.message}", err=True)
    if failed:
        sys.exit(1)


@node_group.command("register-upstream")
@_platform_options
@click.option("--service-code", required=True)
@click.option("--name", required=True, help="Chinese name of the service.")
@click.option("--upstream-url", required=True, help="Base URL of the department's existing REST API.")
@click.option("--openapi-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--service-version")
@click.option("--timeout-ms", type=int, default=10_000, show_default=True)
@click.option(
    "--upstream-credential",
    envvar="ZHENGWU_UPSTREAM_CREDENTIAL",
    help="Bearer token the gateway sends to the upstream (or ZHENGWU_UPSTREAM_CREDENTIAL).",
)
@handle_errors
def register_upstream_command(
    platform_url: str,
    platform_token: str,
    subsystem_id: int,
    service_code: str,
    name: str,
    upstream_url: str,
    openapi_file: Path | None,
    service_version: str | None,
    timeout_ms: int,
    upstream_credential: str | None,
) -> None:
    """Register a department's existing REST API as an upstream service (no front node needed)."""
    openapi = None
    if openapi_file is not None:
        try:
            openapi = json.loads(openapi_file.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationError(
                f"OpenAPI 文件不是 JSON：{exc}",
                message_en=f"OpenAPI file is not JSON: {exc}",
                field="openapi",
            ) from None
    body = {
        "subsystem_id": subsystem_id,
        "service_code": service_code,
        "service_version": service_version,
        "name": name,
        "upstream_url": upstream_url,
        "timeout_ms": timeout_ms,
        "openapi": openapi,
    }
    if upstream_credential:
        body["upstream_credential"] = upstream_credential
    echo_json(_post_service(platform_url, platform_token, body))
