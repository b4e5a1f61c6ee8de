"""A small exchange with known traffic: three departments, their services, and logged calls."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from sqlalchemy.orm import Session

from factories import SYSTEM, make_department
from zhengwu.accounts.schemas import DepartmentOut
from zhengwu.exchange.messagelog import LogEntry, messagelog_append
from zhengwu.exchange.schemas import ServiceIn, SubsystemIn
from zhengwu.exchange.services import service_register, subsystem_register

INSTANCE = "CN-DEV"
_ids = itertools.count(1)


@dataclass
class Traffic:
    """Departments A (provider), B and C (consumers); C also calls its own service."""

    a: DepartmentOut
    b: DepartmentOut
    c: DepartmentOut
    persons: str
    slow: str
    own: str
    b_client: str
    c_client: str
    start: dt.datetime


def log_call(
    db: Session,
    *,
    client: str,
    service: str | None,
    at: dt.datetime,
    duration_ms: float,
    status: int = 200,
    error_type: str | None = None,
) -> None:
    """One logged call that finished at ``at`` after ``duration_ms``."""
    n = next(_ids)
    messagelog_append(
        db,
        LogEntry(
            xroad_id=f"mon-{n}",
            request_id=f"req-{n}",
            client_id=client,
            service_id=service,
            started_at=at - dt.timedelta(milliseconds=duration_ms),
            finished_at=at,
            http_status=status,
            error_type=error_type,
            request_body=b"{}",
            response_body=b'{"ok":true}',
        ),
        now=at,
    )


def _service(db: Session, dept: DepartmentOut, sub_code: str, code: str, name: str) -> str:
    sub = subsystem_register(
        db,
        actor=SYSTEM,
        data=SubsystemIn(department_id=dept.id, code=sub_code, name=f"{name}系统"),
        instance=INSTANCE,
    )
    svc = service_register(
        db,
        actor=SYSTEM,
        instance=INSTANCE,
        data=ServiceIn(
            subsystem_id=sub.id,
            service_code=code,
            name=name,
            upstream_url="http://10.0.0.1:8700/services/" + code,
            openapi={"openapi": "3.0.3", "info": {}, "paths": {"/rows": {}}},
        ),
    )
    return svc.xroad_id


def make_traffic(db: Session, start: dt.datetime) -> Traffic:
    """Known calls in ``[start, start + 1h)`` and one just before ``start``.

    * B → A/persons: 10 answered calls of 1..10 ms, 2 refused (403 ``Client.AccessDenied``, 1 ms);
    * C → A/slow: 100, 200, 300, 400 ms, the 300 ms one failed (502 ``Server.ServerProxy.ServiceFailed``);
    * C → C/own: 3 calls of 5 ms;
    * B → (no service): 1 malformed request (400 ``Client.BadRequest``, 0 ms);
    * B → A/persons at ``start - 1 s``: outside the window.
    """
    a = make_department(db, name="甲部门（提供方）")
    b = make_department(db, name="乙部门")
    c = make_department(db, name="丙部门")
    persons = _service(db, a, "HUJI", "persons", "户籍人口")
    slow = _service(db, a, "HUJI2", "slow", "慢服务")
    own = _service(db, c, "OWN", "own", "丙自用")
    b_client = f"{INSTANCE}/GOV/{b.uscc}/SHEBAO"
    c_client = f"{INSTANCE}/GOV/{c.uscc}/JIAOYU"
    t = start
    for i in range(1, 11):
        log_call(db, client=b_client, service=persons, at=t + dt.timedelta(minutes=i), duration_ms=i)
    for i in range(2):
        log_call(
            db,
            client=b_client,
            service=persons,
            at=t + dt.timedelta(minutes=20 + i),
            duration_ms=1,
            status=403,
            error_type="Client.AccessDenied",
        )
    for i, ms in enumerate((100, 200, 300, 400)):
        failed = ms == 300
        log_call(
            db,
            client=c_client,
            service=slow,
            at=t + dt.timedelta(minutes=30 + i),
            duration_ms=ms,
            status=502 if failed else 200,
            error_type="Server.ServerProxy.ServiceFailed" if failed else None,
        )
    for i in range(3):
        log_call(db, client=c_client, service=own, at=t + dt.timedelta(minutes=40 + i), duration_ms=5)
    log_call(
        db,
        client=b_client,
        service=None,
        at=t + dt.timedelta(minutes=50),
        duration_ms=0,
        status=400,
        error_type="Client.BadRequest",
    )
    log_call(db, client=b_client, service=persons, at=t - dt.timedelta(seconds=1), duration_ms=999)
    return Traffic(a, b, c, persons, slow, own, b_client, c_client, start)
