"""The registry services through the exchange in the demo: 人社厅 verifies a person and checks credit.

At every start the registries are (re)published under 大数据发展管理局 (:func:`registries_publish`,
idempotent, pointed at this server). The first start also grants 人社厅's 社会保险经办系统 (subsystem
``SHEBAO``, registered by the exchange demo) the population verification, the credit check and a few
elements of the population lookup (request and approval through the sharing use cases), and makes a
few calls through the gateway, with the platform served for a moment on a spare port, so the message
log shows them. API tokens for calling are issued fresh at every start and printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, PlatformState, User
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.services import token_create
from zhengwu.catalog.models import Resource
from zhengwu.db import Database, utcnow
from zhengwu.exchange.gateway.proxy import Gateway
from zhengwu.exchange.models import ExchangeSubsystem
from zhengwu.exchange.schemas import SubsystemIn
from zhengwu.exchange.services import subsystem_register
from zhengwu.registries.credit.models import CreditList, CreditListEntry, CreditMeasure, CreditMeasureItem
from zhengwu.registries.credit.services import entry_in_force, today_cn
from zhengwu.registries.models import Person
from zhengwu.registries.publication import SUBSYSTEM_CODE, PublishedOut, registries_publish
from zhengwu.sharing.calendar import beijing_today
from zhengwu.sharing.schemas import ShareRequestIn
from zhengwu.sharing.services import share_request_approve, share_request_create
from zhengwu.web.server import served_briefly

DEMO_KEY: Final = "registries_exchange_demo"
PROVIDER: Final = "SJJ"
CONSUMER: Final = "RS"
CONSUMER_USER: Final = "rs_admin"
CONSUMER_SUBSYSTEM: Final = "SHEBAO"
#: (service, granted elements) of the consumer's grants.
GRANTS: Final = (
    ("population-verify", ("match",)),
    ("credit-check", ("subject_id", "item_code", "on", "reward", "punishment", "measures")),
    ("population-lookup", ("resident_id", "name", "sex", "status")),
)
PURPOSE: Final = "社会保险参保登记时核验参保人身份、核查用人单位信用"
_ACTOR = Actor.system("demo-seed")


@dataclass(frozen=True)
class RegistryCall:
    """One call of the demo: method, r1 path, body, X-Road-Client and a fresh API token."""

    title: str
    method: str
    path: str
    client: str
    token: str
    body: dict[str, Any] | None = None


def _department(db: Session, code: str) -> Department:
    dept = db.scalar(select(Department).where(Department.code == code))
    assert dept is not None, f"demo department {code} missing"
    return dept


def _consumer_subsystem(db: Session, consumer: Department, instance: str) -> None:
    exists = db.scalar(
        select(ExchangeSubsystem.id).where(
            ExchangeSubsystem.department_id == consumer.id, ExchangeSubsystem.code == CONSUMER_SUBSYSTEM
        )
    )
    if exists is None:
        subsystem_register(
            db,
            actor=_ACTOR,
            data=SubsystemIn(department_id=consumer.id, code=CONSUMER_SUBSYSTEM, name="社会保险经办系统"),
            instance=instance,
        )


def _grant(db: Session, published: dict[str, PublishedOut], consumer: Department) -> None:
    today = beijing_today()
    for code, elements in GRANTS:
        resource = db.get(Resource, published[code].catalog_resource_id)
        assert resource is not None and resource.code is not None
        request = share_request_create(
            db,
            actor=_ACTOR,
            data=ShareRequestIn(
                resource_code=resource.code,
                elements=list(elements),
                purpose=PURPOSE,
                legal_basis="《社会保险法》第五十七条；《社会信用体系建设规划纲要》",
                consumer_system="社会保险经办系统",
                valid_from=today,
                valid_until=today + dt.timedelta(days=365),
                consumer_department_id=consumer.id,
            ),
        )
        share_request_approve(db, actor=_ACTOR, request_id=request.id, comment="演示：同意共享基础库服务")


def _credit_subject(db: Session) -> tuple[str, str]:
    """A subject on a list in force and an item one of that list's measures names (else a plain pair)."""
    day = today_cn()
    rows = db.execute(
        select(CreditListEntry, CreditMeasureItem.item_code)
        .join(CreditList, CreditList.id == CreditListEntry.list_id)
        .join(CreditMeasure, CreditMeasure.list_id == CreditList.id)
        .join(CreditMeasureItem, CreditMeasureItem.measure_id == CreditMeasure.id)
        .where(CreditMeasureItem.item_code != "*")
        .order_by(CreditListEntry.id)
    ).all()
    for entry, item in rows:
        if entry_in_force(entry, day):
            return entry.subject_id, item
    return "91330000MA27XYZ12X", "RS-001"


def _calls(
    db: Session, *, provider: Department, consumer: Department, instance: str, token: str
) -> list[RegistryCall]:
    client = f"{instance}/GOV/{consumer.uscc}/{CONSUMER_SUBSYSTEM}"
    base = f"/r1/{instance}/GOV/{provider.uscc}/{SUBSYSTEM_CODE}"
    person = db.scalar(select(Person).where(Person.status == "living").order_by(Person.resident_id).limit(1))
    resident_id, name = (person.resident_id, person.name) if person else ("110101199003074514", "张三")
    subject, item = _credit_subject(db)
    return [
        RegistryCall(
            "人口身份核验",
            "POST",
            f"{base}/population-verify",
            client,
            token,
            {"resident_id": resident_id, "name": name},
        ),
        RegistryCall(
            "信用核查",
            "POST",
            f"{base}/credit-check",
            client,
            token,
            {"subject_id": subject, "item_code": item},
        ),
        RegistryCall(
            "人口基础信息查询（按授权脱敏）", "GET", f"{base}/population-lookup/{resident_id}", client, token
        ),
    ]


def registries_exchange_demo_seed(
    db: Session, *, province_code: str, instance: str, secret_key: str, base_url: str
) -> tuple[list[RegistryCall], bool]:
    """Publish the registry services (every start), grant 人社厅 once, issue a fresh token.

    Returns the demo's calls and whether this start created the grants."""
    provider = _department(db, f"{province_code}-{PROVIDER}")
    consumer = _department(db, f"{province_code}-{CONSUMER}")
    published = {
        p.code: p
        for p in registries_publish(
            db,
            actor=_ACTOR,
            department_code=provider.code,
            instance=instance,
            secret_key=secret_key,
            base_url=base_url,
        )
    }
    first = db.get(PlatformState, DEMO_KEY) is None
    if first:
        _consumer_subsystem(db, consumer, instance)
        _grant(db, published, consumer)
        db.add(PlatformState(key=DEMO_KEY, value={"seeded_at": utcnow().isoformat()}))
        db.flush()
    user = db.scalar(select(User).where(User.username == CONSUMER_USER))
    assert user is not None, f"demo user {CONSUMER_USER} missing"
    token = token_create(db, actor=_ACTOR, user_id=user.id, name="演示：调用基础库服务", expires_days=30)
    return _calls(db, provider=provider, consumer=consumer, instance=instance, token=token.token), first


async def call_through(gateway: Gateway, calls: list[RegistryCall]) -> list[int]:
    """Make ``calls`` through ``gateway`` (in process) and close it; the HTTP status of each."""
    transport = httpx.ASGITransport(app=gateway)
    statuses: list[int] = []
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=20) as client:
            for call in calls:
                headers = {"X-Road-Client": call.client, "Authorization": f"Bearer {call.token}"}
                r = await client.request(call.method, call.path, json=call.body, headers=headers)
                statuses.append(r.status_code)
    finally:
        await gateway.aclose()
    return statuses


def registries_exchange_demo_traffic(
    database: Database,
    gateway: Gateway,
    platform_app: Any,
    calls: list[RegistryCall],
    *,
    province_code: str,
    instance: str,
    secret_key: str,
    base_url: str,
    port: int | None = None,
) -> list[int]:
    """Before the demo serves: the demo calls through ``gateway`` to ``platform_app`` served for a moment
    on ``port`` (default: a spare one), then the services point at ``base_url`` again. The statuses of
    the calls."""

    def point_at(url: str) -> None:
        with database.session() as db:
            registries_publish(
                db,
                actor=_ACTOR,
                department_code=f"{province_code}-{PROVIDER}",
                instance=instance,
                secret_key=secret_key,
                base_url=url,
            )

    with served_briefly(platform_app, port=port) as served:
        try:
            point_at(f"http://127.0.0.1:{served}")
            return asyncio.run(call_through(gateway, calls))
        finally:
            point_at(base_url)
