"""The exchange in the demo: two departments call each other's data through the gateway, via front nodes.

市场监督管理局 keeps food-business licences in a small SQLite "legacy" database, 人社厅 its insured
employers in another; each database is published by a front node (:func:`zhengwu.exchange.node.api.
create_node_app`) mounted inside the demo server at ``/demo-node/<dept>/``, so ``make demo`` needs no
second command. Each table is a catalog resource delivered as an API, registered as a service whose
upstream is the mounted node, with the node's token as its upstream credential. Each department holds
a grant on the other's resource (request and approval through the sharing use cases) for some elements,
one of them sensitive, so answers come back shaped and masked.

The node tokens are derived from the platform secret (so they stay the same across restarts without
being stored); the API tokens for calling are issued fresh at every start and printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Column, Date, Engine, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.routing import Mount

from zhengwu.accounts.models import Department, PlatformState, User
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.services import token_create
from zhengwu.catalog.models import Delivery, ResourceCategory, Secrecy, ShareType, UpdateFrequency
from zhengwu.catalog.schemas import ResourceCreate
from zhengwu.catalog.services import resource_approve, resource_create, resource_submit
from zhengwu.crypto import sm3_hmac
from zhengwu.db import Database, utcnow
from zhengwu.exchange.credentials import credential_encrypt, credential_key
from zhengwu.exchange.gateway.proxy import Gateway
from zhengwu.exchange.models import ExchangeService, ExchangeSubsystem
from zhengwu.exchange.node.api import create_node_app
from zhengwu.exchange.node.schemas import node_config_build
from zhengwu.exchange.schemas import ServiceIn, SubsystemIn
from zhengwu.exchange.services import service_register, subsystem_register
from zhengwu.identifiers import org_code_check_digit, uscc_check_char
from zhengwu.sharing.calendar import beijing_today
from zhengwu.sharing.schemas import ShareRequestIn
from zhengwu.sharing.services import share_request_approve, share_request_create
from zhengwu.web.server import served_briefly

EXCHANGE_DEMO_KEY = "exchange_demo"
NODE_PREFIX = "/demo-node"
_ACTOR = Actor.system("demo-seed")


@dataclass(frozen=True)
class LegacySpec:
    """One department's legacy table, published by its front node and granted to the other department."""

    dept: str  # department code suffix, e.g. "SCJG"
    consumer: str  # the department granted access
    username: str  # the department's demo data administrator (its API token calls the other's service)
    subsystem: str
    subsystem_name: str
    service: str
    table: str
    title: str
    elements: tuple[dict[str, Any], ...]
    granted: tuple[str, ...]
    purpose: str
    legal_basis: str
    consumer_system: str


def _el(name: str, name_en: str, data_type: str, length: int | None = None, **more: Any) -> dict[str, Any]:
    return {"name": name, "name_en": name_en, "data_type": data_type, "length": length, **more}


LEGACY = (
    LegacySpec(
        dept="SCJG",
        consumer="RS",
        username="scjg_admin",
        subsystem="XUKE",
        subsystem_name="市场监管许可系统（前置机）",
        service="licences",
        table="licences",
        title="食品经营许可信息",
        elements=(
            _el("许可证编号", "licence_no", "string", 32),
            _el("经营者名称", "org_name", "string", 200),
            _el("统一社会信用代码", "uscc", "string", 18),
            _el(
                "法定代表人姓名",
                "legal_rep_name",
                "string",
                50,
                identifies_person=True,
                sensitivity="sensitive",
            ),
            _el("经营项目", "business_scope", "string", 200),
            _el("有效期至", "valid_until", "date"),
        ),
        granted=("licence_no", "org_name", "uscc", "legal_rep_name", "valid_until"),
        purpose="社会保险参保登记时核验用人单位经营许可",
        legal_basis="《社会保险法》第五十七条",
        consumer_system="社会保险经办系统",
    ),
    LegacySpec(
        dept="RS",
        consumer="SCJG",
        username="rs_admin",
        subsystem="SHEBAO",
        subsystem_name="社会保险经办系统（前置机）",
        service="employers",
        table="insured_employers",
        title="参保单位信息",
        elements=(
            _el("统一社会信用代码", "uscc", "string", 18),
            _el("单位名称", "org_name", "string", 200),
            _el("参保人数", "insured_count", "integer"),
            _el("联系电话", "contact_phone", "string", 20, sensitivity="sensitive"),
            _el("缴费至", "paid_until", "date"),
        ),
        granted=("uscc", "org_name", "insured_count", "contact_phone"),
        purpose="食品经营许可审查时核验申请单位参保情况",
        legal_basis="《食品经营许可和备案管理办法》第十五条",
        consumer_system="市场监管许可系统",
    ),
)

_ORGS = ["西湖", "钱塘", "滨江", "拱墅", "余杭", "萧山", "临平", "富阳", "桐庐", "建德", "淳安", "上城"]
_KINDS = ["餐饮管理有限公司", "食品有限公司", "超市有限公司", "农产品有限公司", "茶业有限公司"]
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"


def _uscc(rng: random.Random) -> str:
    body8 = f"{rng.randrange(10**7, 10**8)}"
    body17 = "91330100" + body8 + org_code_check_digit(body8)
    return body17 + uscc_check_char(body17)


def _employers(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(20):
        out.append(
            {
                "uscc": _uscc(rng),
                "org_name": f"杭州{_ORGS[i % len(_ORGS)]}{_KINDS[i % len(_KINDS)]}",
                "legal_rep_name": rng.choice(_SURNAMES) + rng.choice("伟芳娜敏静丽强磊军洋勇艳杰涛明超"),
            }
        )
    return out


def legacy_rows(spec: LegacySpec, seed: int = 2026) -> list[dict[str, Any]]:
    """The rows of a department's legacy table (the same employers appear in both departments)."""
    rng = random.Random(seed + len(spec.table))
    today = dt.date(2026, 11, 1)
    rows: list[dict[str, Any]] = []
    for i, emp in enumerate(_employers(seed)):
        if spec.dept == "SCJG":
            rows.append(
                {
                    "licence_no": f"JY1330100{i + 1:06d}",
                    "org_name": emp["org_name"],
                    "uscc": emp["uscc"],
                    "legal_rep_name": emp["legal_rep_name"],
                    "business_scope": "预包装食品销售；热食类食品制售",
                    "valid_until": today + dt.timedelta(days=rng.randrange(30, 1500)),
                }
            )
        else:
            rows.append(
                {
                    "uscc": emp["uscc"],
                    "org_name": emp["org_name"],
                    "insured_count": rng.randrange(3, 400),
                    "contact_phone": f"1{rng.choice('3589')}{rng.randrange(10**8, 10**9)}",
                    "paid_until": today - dt.timedelta(days=rng.randrange(0, 90)),
                }
            )
    return rows


def _column(element: dict[str, Any], primary: bool) -> Column[Any]:
    kind: Any = {"integer": Integer(), "date": Date()}.get(element["data_type"], String(element["length"]))
    return Column(element["name_en"], kind, primary_key=primary)


def legacy_database(data_dir: Path, spec: LegacySpec) -> str:
    """Create the department's SQLite database with its table and rows unless it exists; its URL."""
    path = data_dir / "legacy" / f"{spec.dept.lower()}.db"
    url = f"sqlite:///{path}"
    if path.exists():
        return url
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = MetaData()
    table = Table(spec.table, metadata, *(_column(e, i == 0) for i, e in enumerate(spec.elements)))
    engine: Engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), legacy_rows(spec))
    engine.dispose()
    return url


def demo_node_token(secret_key: str, spec: LegacySpec) -> str:
    """The front node's token: derived from the platform secret, stable across restarts, never stored."""
    return sm3_hmac(secret_key.encode("utf-8"), b"zhengwu/demo-node/" + spec.dept.encode())[:20].hex()


def demo_node_apps(data_dir: Path, secret_key: str) -> dict[str, Any]:
    """The front node ASGI apps by mount path (``/demo-node/scjg``), their legacy databases created."""
    apps: dict[str, Any] = {}
    for spec in LEGACY:
        config = node_config_build(
            {
                "title": f"{spec.subsystem_name}",
                "database_url": legacy_database(data_dir, spec),
                "tokens": [demo_node_token(secret_key, spec)],
                "services": [
                    {
                        "code": spec.service,
                        "table": spec.table,
                        "title": spec.title,
                        "columns": [e["name_en"] for e in spec.elements],
                    }
                ],
            },
            environ={},
        )
        apps[f"{NODE_PREFIX}/{spec.dept.lower()}"] = create_node_app(config)
    return apps


@dataclass(frozen=True)
class DemoCall:
    """How a department calls the other's service: r1 path, X-Road-Client and a fresh API token."""

    caller: str
    path: str
    client: str
    token: str


def _department(db: Session, province_code: str, suffix: str) -> Department:
    dept = db.scalar(select(Department).where(Department.code == f"{province_code}-{suffix}"))
    assert dept is not None, f"demo department {suffix} missing"
    return dept


def _resource(db: Session, spec: LegacySpec, provider_id: int) -> tuple[int, str]:
    data = ResourceCreate.model_validate(
        {
            "name": spec.title,
            "category": ResourceCategory.DEPARTMENTAL,
            "classification": "3-01-001-001",
            "summary": f"{spec.title}，由部门前置机从业务库发布，经共享交换网关调用。",
            "format": "database",
            "share_type": ShareType.CONDITIONAL,
            "share_conditions": "仅限履行法定职责使用",
            "delivery": Delivery.API,
            "open_type": "closed",
            "update_frequency": UpdateFrequency.REALTIME,
            "secrecy": Secrecy.UNCLASSIFIED,
            "source_system": spec.subsystem_name,
            "keywords": ["共享交换", "前置机"],
            "elements": list(spec.elements),
            "provider_id": provider_id,
        }
    )
    out = resource_create(db, actor=_ACTOR, data=data)
    resource_submit(db, actor=_ACTOR, code=out.code)
    published = resource_approve(db, actor=_ACTOR, code=out.code)
    return published.id, published.code


def _upstream(base_url: str, spec: LegacySpec) -> str:
    return f"{base_url.rstrip('/')}{NODE_PREFIX}/{spec.dept.lower()}/services/{spec.service}"


def _first_seed(db: Session, *, province_code: str, instance: str, secret_key: str, base_url: str) -> None:
    """Resources, grants (request + approval), subsystems and services of both departments."""
    for spec in LEGACY:
        provider = _department(db, province_code, spec.dept)
        consumer = _department(db, province_code, spec.consumer)
        resource_id, resource_code = _resource(db, spec, provider.id)
        today = beijing_today()
        request = share_request_create(
            db,
            actor=_ACTOR,
            data=ShareRequestIn(
                resource_code=resource_code,
                elements=list(spec.granted),
                purpose=spec.purpose,
                legal_basis=spec.legal_basis,
                consumer_system=spec.consumer_system,
                valid_from=today,
                valid_until=today + dt.timedelta(days=365),
                consumer_department_id=consumer.id,
            ),
        )
        share_request_approve(db, actor=_ACTOR, request_id=request.id, comment="演示：同意共享")
        sub = subsystem_register(
            db,
            actor=_ACTOR,
            data=SubsystemIn(department_id=provider.id, code=spec.subsystem, name=spec.subsystem_name),
            instance=instance,
        )
        service_register(
            db,
            actor=_ACTOR,
            instance=instance,
            secret_key=secret_key,
            data=ServiceIn.model_validate(
                {
                    "subsystem_id": sub.id,
                    "service_code": spec.service,
                    "name": spec.title,
                    "upstream_url": _upstream(base_url, spec),
                    "timeout_ms": 5000,
                    "catalog_resource_id": resource_id,
                    "upstream_credential": demo_node_token(secret_key, spec),
                }
            ),
        )


def _refresh(db: Session, *, province_code: str, secret_key: str, base_url: str) -> None:
    """A later start may listen elsewhere or use another secret: point the services at this server and
    encrypt the node tokens under the current secret (a demo-only shortcut, not audited)."""
    key = credential_key(secret_key)
    for spec in LEGACY:
        provider = _department(db, province_code, spec.dept)
        svc = db.scalar(
            select(ExchangeService)
            .join(ExchangeSubsystem, ExchangeSubsystem.id == ExchangeService.subsystem_id)
            .where(
                ExchangeSubsystem.department_id == provider.id,
                ExchangeSubsystem.code == spec.subsystem,
                ExchangeService.service_code == spec.service,
            )
        )
        if svc is None:
            continue
        svc.upstream_url = _upstream(base_url, spec)
        svc.upstream_credential = credential_encrypt(key, svc.id, demo_node_token(secret_key, spec))
    db.flush()


def exchange_demo_seed(
    db: Session, *, province_code: str, instance: str, secret_key: str, base_url: str
) -> tuple[list[DemoCall], bool]:
    """Seed the exchange demo once (later starts only refresh it) and issue fresh API tokens.

    Returns how each department calls the other's service, and whether this start seeded it.
    """
    first = db.get(PlatformState, EXCHANGE_DEMO_KEY) is None
    if first:
        _first_seed(
            db, province_code=province_code, instance=instance, secret_key=secret_key, base_url=base_url
        )
        db.add(PlatformState(key=EXCHANGE_DEMO_KEY, value={"seeded_at": utcnow().isoformat()}))
        db.flush()
    else:
        _refresh(db, province_code=province_code, secret_key=secret_key, base_url=base_url)
    calls: list[DemoCall] = []
    for spec in LEGACY:
        provider = _department(db, province_code, spec.dept)
        consumer_spec = next(s for s in LEGACY if s.dept == spec.consumer)
        consumer = _department(db, province_code, spec.consumer)
        user = db.scalar(select(User).where(User.username == consumer_spec.username))
        assert user is not None, f"demo user {consumer_spec.username} missing"
        token = token_create(db, actor=_ACTOR, user_id=user.id, name="演示：共享交换调用", expires_days=30)
        calls.append(
            DemoCall(
                caller=consumer_spec.username,
                path=f"/r1/{instance}/GOV/{provider.uscc}/{spec.subsystem}/{spec.service}/rows",
                client=f"{instance}/GOV/{consumer.uscc}/{consumer_spec.subsystem}",
                token=token.token,
            )
        )
    return calls, first


async def _calls(gateway: Gateway, calls: list[DemoCall], rounds: int) -> int:
    ok = 0
    transport = httpx.ASGITransport(app=gateway)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=10) as client:
            for i in range(rounds):
                for call in calls:
                    headers = {"X-Road-Client": call.client, "Authorization": f"Bearer {call.token}"}
                    r = await client.get(call.path, params={"limit": 5, "offset": i * 5}, headers=headers)
                    ok += r.status_code == 200
            for call in calls:
                # A refused call: elements outside the grant (Client.ElementNotGranted), for the errors page.
                await client.get(
                    call.path,
                    headers={
                        "X-Road-Client": call.client,
                        "Authorization": f"Bearer {call.token}",
                        "X-Zhengwu-Elements": "business_scope,paid_until",
                    },
                )
    finally:
        await gateway.aclose()
    return ok


def exchange_demo_traffic(
    database: Database,
    gateway: Gateway,
    calls: list[DemoCall],
    *,
    data_dir: Path,
    province_code: str,
    secret_key: str,
    base_url: str,
    rounds: int = 3,
) -> int:
    """Before the demo serves: a few calls, allowed and refused, through ``gateway`` (its own instance,
    closed afterwards) to the front nodes served for a moment on a spare port, so the message log and
    the monitoring pages have something to show. Done before serving, not beside it: on SQLite, log
    writes beside a person's first sign-in could make that sign-in fail on the database lock.
    Returns how many calls answered 200."""
    nodes = Starlette(routes=[Mount(p, app=a) for p, a in demo_node_apps(data_dir, secret_key).items()])
    with served_briefly(nodes) as port:
        try:
            with database.session() as db:
                _refresh(
                    db,
                    province_code=province_code,
                    secret_key=secret_key,
                    base_url=f"http://127.0.0.1:{port}",
                )
            return asyncio.run(_calls(gateway, calls, rounds))
        finally:
            with database.session() as db:
                _refresh(db, province_code=province_code, secret_key=secret_key, base_url=base_url)
