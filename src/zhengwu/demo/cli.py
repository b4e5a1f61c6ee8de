"""``zhengwu demo`` (seed once, then serve) and ``zhengwu seed`` (the demo organisation and data files)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import uvicorn
from starlette.routing import Mount

from zhengwu.app import create_app
from zhengwu.cli_support import CliState, handle_errors, pass_state
from zhengwu.demo.services import DemoSummary, demo_seed
from zhengwu.exchange.demo import DemoCall, demo_node_apps, exchange_demo_seed, exchange_demo_traffic
from zhengwu.exchange.gateway.api import gateway_config
from zhengwu.exchange.gateway.proxy import Gateway
from zhengwu.registries.exchange_demo import (
    RegistryCall,
    registries_exchange_demo_seed,
    registries_exchange_demo_traffic,
)
from zhengwu.synthetic.cli import entities_command, persons_command


def _print_summary(summary: DemoSummary, *, url: str | None = None) -> None:
    if summary.already_seeded:
        click.echo(f"演示数据已存在（{summary.province_name}），直接使用。")
    else:
        click.echo(
            f"已创建演示机构：{summary.province_name}，{summary.departments} 个部门，"
            f"{summary.resources} 条目录信息资源。"
        )
        if summary.registry_rows:
            click.echo(
                f"基础库：人口 {summary.registry_rows.get('registry_population', 0)} 人，"
                f"法人 {summary.registry_rows.get('registry_entities', 0)} 个（合成数据，经入库流程导入）。"
            )
    click.echo(f"演示账号（密码均为 {summary.password}）：")
    for account in summary.accounts:
        roles = ",".join(r.value for r in account.roles)
        click.echo(f"  {account.username:<12} {roles:<16} {account.display_name}")
    if url:
        click.echo(f"\n打开 {url} 登录。按 Ctrl+C 停止。")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Data directory of this demo (default ./var)."
)
@click.option("--province", default="330000", show_default=True, help="GB/T 2260 code of the demo province.")
@pass_state
@handle_errors
def demo_command(state: CliState, host: str, port: int, data_dir: Path | None, province: str) -> None:
    """Seed the demo once (SQLite by default) and serve it on http://HOST:PORT."""
    if data_dir is not None:
        state.set_data_dir(data_dir)
    state.overrides.update({"host": host, "port": port, "node_region_code": province})
    settings = state.settings()
    logging.basicConfig(level=settings.log_level)
    database = state.database(migrate=True)
    with database.session() as db:
        summary = demo_seed(
            db,
            province_code=province,
            deadline_working_days=settings.share_request_deadline_working_days,
            registries_dir=settings.data_dir / "registries",
        )
        # Two departments calling each other's data through the gateway, via front nodes in this process.
        base_url = f"http://{host}:{port}"
        calls, first = exchange_demo_seed(
            db,
            province_code=province,
            instance=settings.instance,
            secret_key=settings.secret_key.get_secret_value(),
            base_url=base_url,
        )
        # The base registries published through the exchange; 人社厅 calls two of them.
        registry_calls, registry_first = registries_exchange_demo_seed(
            db,
            province_code=province,
            instance=settings.instance,
            secret_key=settings.secret_key.get_secret_value(),
            base_url=base_url,
        )
    if first:
        exchange_demo_traffic(
            database,
            Gateway(database, gateway_config(settings)),
            calls,
            data_dir=settings.data_dir,
            province_code=province,
            secret_key=settings.secret_key.get_secret_value(),
            base_url=base_url,
        )
    app = create_app(settings, database=database)
    if registry_first:
        registries_exchange_demo_traffic(
            database,
            Gateway(database, gateway_config(settings)),
            app,
            registry_calls,
            province_code=province,
            instance=settings.instance,
            secret_key=settings.secret_key.get_secret_value(),
            base_url=base_url,
        )
    _print_summary(summary, url=f"http://{host}:{port}")
    _print_exchange(calls, base_url)
    _print_registry_calls(registry_calls, base_url)
    for path, node in demo_node_apps(settings.data_dir, settings.secret_key.get_secret_value()).items():
        app.router.routes.insert(0, Mount(path, app=node))
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _print_exchange(calls: list[DemoCall], base_url: str) -> None:
    click.echo("\n共享交换演示（经网关调用对方部门前置机上的业务库，令牌本次启动有效 30 天）：")
    for call in calls:
        click.echo(
            f"  {call.caller}: curl -H 'X-Road-Client: {call.client}' "
            f"-H 'Authorization: Bearer {call.token}' '{base_url}{call.path}?limit=3'"
        )


def _print_registry_calls(calls: list[RegistryCall], base_url: str) -> None:
    click.echo("\n基础库服务（经共享交换网关，人社厅按授权调用）：")
    for call in calls:
        data = f" -H 'Content-Type: application/json' -d '{json.dumps(call.body, ensure_ascii=False)}'"
        url = f"{base_url}{call.path}"
        click.echo(
            f"  {call.title}: curl -X {call.method} '{url}' -H 'X-Road-Client: {call.client}' "
            f"-H 'Authorization: Bearer {call.token}'{data if call.body else ''}"
        )


@click.group("seed", invoke_without_command=True)
@click.option("--province", default="330000", show_default=True, help="GB/T 2260 code of the demo province.")
@click.option("--seed", "seed_value", type=int, default=2026, show_default=True)
@click.pass_context
@handle_errors
def seed_group(ctx: click.Context, province: str, seed_value: int) -> None:
    """Create the demo organisation (departments, one user per role); subcommands write synthetic data."""
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.ensure_object(CliState)
    database = state.database(migrate=True)
    with database.session() as db:
        summary = demo_seed(
            db,
            province_code=province,
            seed=seed_value,
            deadline_working_days=state.settings().share_request_deadline_working_days,
            registries_dir=state.settings().data_dir / "registries",
        )
    _print_summary(summary)


seed_group.add_command(persons_command)
seed_group.add_command(entities_command)
