"""Demo share requests, grants and correction requests between the demo departments.

Runs after the catalog demo seed: it reads the published resources from the database and files, through
the real use cases (so events, audit records and deadlines are what production makes), a handful of
requests in every state — auto-granted, pending, due soon, overdue and escalated, approved, approved
narrower, answered late, refused, withdrawn — plus revoked and expired grants and corrections both open
and answered. Submission dates are set in the past, counted back in official working days from today.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, DepartmentLevel, Role, User, UserRole
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.services import actor_for_user
from zhengwu.catalog.models import Resource, ResourceStatus, ShareType
from zhengwu.db import BEIJING
from zhengwu.errors import Conflict
from zhengwu.sharing.calendar import add_working_days, beijing_today
from zhengwu.sharing.common import published_elements
from zhengwu.sharing.corrections import correction_answer, correction_create, correction_escalate_overdue
from zhengwu.sharing.grants import grant_expire_due, grant_revoke
from zhengwu.sharing.models import CorrectionStatus, ShareRequest
from zhengwu.sharing.schemas import CorrectionAnswerIn, CorrectionIn, ShareRequestIn
from zhengwu.sharing.services import (
    DEFAULT_DEADLINE_WORKING_DAYS,
    share_request_approve,
    share_request_create,
    share_request_escalate_overdue,
    share_request_refuse,
    share_request_withdraw,
)

# (purpose, legal basis, consuming system) by the kind of consumer department (its code suffix): what
# such a department really asks other departments' data for.
PURPOSES = {
    "RS": (
        "社会保险参保登记时核验用人单位和参保人信息",
        "《中华人民共和国社会保险法》第五十七条",
        "社会保险经办管理信息系统",
    ),
    "MZ": ("最低生活保障申请家庭经济状况核对", "《社会救助暂行办法》第十一条", "居民家庭经济状况核对系统"),
    "SJJ": ("企业开办“一件事”联办时核验登记信息", "《优化营商环境条例》第三十七条", "一网通办政务服务平台"),
    "GA": ("办理户籍迁移和治安管理时核验当事人信息", "《中华人民共和国户口登记条例》", "人口管理信息系统"),
    "SW": ("税务登记信息比对与风险核查", "《中华人民共和国税收征收管理法》第六条", "电子税务局"),
    "WJ": ("医疗机构执业登记时核验法人和执业人员信息", "《医疗机构管理条例》第十条", "卫生健康综合监管平台"),
    "ZRZY": (
        "不动产登记时核验权利人身份和主体信息",
        "《不动产登记暂行条例》第二十七条",
        "不动产登记信息管理平台",
    ),
    "JY": ("学籍注册时核验学生及监护人户籍信息", "《中华人民共和国教育法》第二十九条", "学籍管理信息系统"),
    "FGW": (
        "企业投资项目核准备案时核验项目单位信息",
        "《企业投资项目核准和备案管理条例》",
        "投资项目在线审批监管平台",
    ),
    "SCJG": (
        "市场主体登记时核验投资人身份信息",
        "《中华人民共和国市场主体登记管理条例》",
        "市场主体登记系统",
    ),
}
DEFAULT_PURPOSE = ("履行法定职责时核验相关信息", "《政务数据共享条例》第十三条", "业务办理系统")
REFUSALS = [
    "申请用途与本资源的共享条件不符，请补充具体业务场景和法定职责依据后重新申请",
    "所申请信息项含公民个人敏感信息，需提供法律法规明确授权的依据",
]


@dataclass(frozen=True)
class _Plan:
    state: str
    share: ShareType
    age: int  # working days before today the request was submitted


# Every state the pages and statistics distinguish, a few of the common ones twice.
PLANS = [
    _Plan("auto", ShareType.UNCONDITIONAL, 30),
    _Plan("auto", ShareType.UNCONDITIONAL, 12),
    _Plan("auto", ShareType.UNCONDITIONAL, 3),
    _Plan("pending", ShareType.CONDITIONAL, 1),
    _Plan("pending", ShareType.CONDITIONAL, 4),
    _Plan("pending", ShareType.CONDITIONAL, 9),
    _Plan("overdue", ShareType.CONDITIONAL, 14),
    _Plan("overdue", ShareType.CONDITIONAL, 23),
    _Plan("approved", ShareType.CONDITIONAL, 40),
    _Plan("approved", ShareType.CONDITIONAL, 25),
    _Plan("narrowed", ShareType.CONDITIONAL, 33),
    _Plan("late", ShareType.CONDITIONAL, 60),
    _Plan("refused", ShareType.CONDITIONAL, 28),
    _Plan("withdrawn", ShareType.CONDITIONAL, 18),
    _Plan("revoked", ShareType.CONDITIONAL, 90),
    _Plan("expired", ShareType.CONDITIONAL, 260),
]


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=BEIJING).astimezone(dt.UTC)


def _admins(db: Session) -> dict[int, Actor]:
    """A data administrator per department, so the history shows people rather than 系统."""
    rows = db.scalars(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            UserRole.role == Role.DATA_ADMIN.value, User.is_active.is_(True), User.department_id.is_not(None)
        )
        .order_by(User.id)
    )
    out: dict[int, Actor] = {}
    for user in rows:
        assert user.department_id is not None
        out.setdefault(user.department_id, actor_for_user(user))
    return out


def sharing_demo_seed(
    db: Session,
    *,
    seed: int = 2026,
    today: dt.date | None = None,
    deadline_working_days: int = DEFAULT_DEADLINE_WORKING_DAYS,
) -> dict[str, int]:
    """File the demo requests, grants and corrections; idempotent (nothing when requests exist).

    Returns counts per state; all zeros when there are no published resources to request.
    """
    counts: dict[str, int] = defaultdict(int)
    keys = (
        "requests",
        "auto_granted",
        "pending",
        "overdue",
        "escalated",
        "approved",
        "narrowed",
        "late",
        "refused",
        "withdrawn",
        "grants_revoked",
        "grants_expired",
        "corrections",
        "corrections_open",
    )
    for key in keys:
        counts[key] = 0
    if db.scalar(select(func.count()).select_from(ShareRequest)):
        return dict(counts)
    rng = random.Random(seed)
    today = today or beijing_today()
    resources = list(
        db.scalars(
            select(Resource)
            .where(Resource.status == ResourceStatus.PUBLISHED, Resource.share_type != ShareType.NONE)
            .order_by(Resource.code)
        )
    )
    if not resources:
        return dict(counts)
    by_type: dict[ShareType, list[Resource]] = defaultdict(list)
    for r in resources:
        by_type[r.share_type].append(r)
    admins = _admins(db)
    system = Actor.system("demo-seed")
    # Provincial departments take part (the demo accounts sit there); with admins first, so a demo
    # sign-in finds requests both ways.
    departments = list(
        db.scalars(
            select(Department)
            .where(Department.is_active.is_(True), Department.level == DepartmentLevel.PROVINCIAL)
            .order_by(Department.code)
        )
    ) or list(db.scalars(select(Department).where(Department.is_active.is_(True)).order_by(Department.code)))
    consumers = sorted(departments, key=lambda d: (d.id not in admins, d.code))
    if len(consumers) < 2:
        return dict(counts)

    def pick(share: ShareType, index: int) -> tuple[Resource, Department] | None:
        pool = by_type.get(share) or by_type.get(ShareType.CONDITIONAL) or by_type[ShareType.UNCONDITIONAL]
        # Prefer resources of departments with an administrator, so "待我审批" is not empty in the demo.
        preferred = [r for r in pool if r.provider_id in admins] or pool
        resource = preferred[(index * 7 + rng.randrange(len(preferred))) % len(preferred)]
        # Two requests in three come from a department with a demo sign-in, so "我的申请" has content.
        with_admin = [c for c in consumers if c.id in admins and c.id != resource.provider_id]
        others = [c for c in consumers if c.id != resource.provider_id]
        candidates = with_admin if with_admin and index % 3 != 2 else others
        if not candidates:
            return None
        return resource, candidates[(index + rng.randrange(len(candidates))) % len(candidates)]

    for index, plan in enumerate(PLANS):
        chosen = pick(plan.share, index)
        if chosen is None:
            continue
        resource, consumer = chosen
        names = [e.name_en for e in published_elements(db, resource)]
        if not names:
            continue
        size = min(len(names), rng.randint(2, 6))
        wanted = sorted(rng.sample(range(len(names)), size))
        elements: list[int | str] = [names[i] for i in wanted]
        submitted_on = add_working_days(today, -plan.age)
        submitted_at = _at(submitted_on, 10)
        purpose, basis, system_name = PURPOSES.get(consumer.code.rsplit("-", 1)[-1], DEFAULT_PURPOSE)
        until = submitted_on + dt.timedelta(days=180 if plan.state == "expired" else rng.choice((365, 730)))
        consumer_actor = admins.get(consumer.id, system)
        provider_actor = admins.get(resource.provider_id, system)
        try:
            out = share_request_create(
                db,
                actor=consumer_actor,
                data=ShareRequestIn(
                    resource_code=resource.code,
                    elements=elements,
                    purpose=purpose,
                    legal_basis=basis,
                    consumer_system=system_name,
                    valid_from=submitted_on,
                    valid_until=until,
                    consumer_department_id=consumer.id,
                ),
                deadline_working_days=deadline_working_days,
                now=submitted_at,
            )
        except Conflict:  # the same department already waits for the same resource: one is enough
            continue
        counts["requests"] += 1
        if out.auto_granted:
            counts["auto_granted"] += 1
            continue
        answer_in = {"approved": 3, "narrowed": 6, "late": 13, "refused": 8, "revoked": 5, "expired": 4}
        if plan.state in answer_in:
            answered_at = _at(add_working_days(submitted_on, answer_in[plan.state]), 15)
            if plan.state == "refused":
                share_request_refuse(
                    db, actor=provider_actor, request_id=out.id, reason=REFUSALS[index % 2], now=answered_at
                )
                counts["refused"] += 1
                continue
            approve = list(out.requested_elements)
            if plan.state == "narrowed" and len(approve) > 1:
                approve = approve[:-1]
            done = share_request_approve(
                db,
                actor=provider_actor,
                request_id=out.id,
                elements=list(approve),
                comment="个人敏感信息项不予提供" if plan.state == "narrowed" else "",
                now=answered_at,
            )
            counts["narrowed" if done.narrowed else "approved"] += 1
            counts["late"] += plan.state == "late"
            if plan.state == "revoked" and done.grant_id is not None:
                grant_revoke(
                    db,
                    actor=provider_actor,
                    grant_id=done.grant_id,
                    reason="使用部门超出授权用途调用数据，暂停共享",
                    now=_at(add_working_days(submitted_on, 40), 11),
                )
                counts["grants_revoked"] += 1
        elif plan.state == "withdrawn":
            share_request_withdraw(
                db, actor=consumer_actor, request_id=out.id, now=_at(add_working_days(submitted_on, 2), 9)
            )
            counts["withdrawn"] += 1
        elif plan.state == "overdue":
            counts["overdue"] += 1
        else:
            counts["pending"] += 1

    counts["escalated"] = share_request_escalate_overdue(db, today=today).escalated
    counts["grants_expired"] = grant_expire_due(db, today=today)
    _corrections(
        db, rng=rng, today=today, resources=by_type, consumers=consumers, admins=admins, counts=counts
    )
    correction_escalate_overdue(db, today=today)
    db.flush()
    return dict(counts)


def _corrections(
    db: Session,
    *,
    rng: random.Random,
    today: dt.date,
    resources: dict[ShareType, list[Resource]],
    consumers: list[Department],
    admins: dict[int, Actor],
    counts: dict[str, int],
) -> None:
    pool = [*resources.get(ShareType.CONDITIONAL, []), *resources.get(ShareType.UNCONDITIONAL, [])]
    system = Actor.system("demo-seed")
    # (age in working days, outcome, answer, element name contains, value seen, value believed correct)
    cases = [
        (2, None, "", "地址", "杭州市西湖区文三路 90 号", "杭州市西湖区文三路 199 号"),
        (16, None, "", "日期", "2019-03-12", "2019-03-21"),
        (
            20,
            CorrectionStatus.CORRECTED,
            "已按最新登记信息更正，并同步至共享库",
            "名称",
            "某某科技有限公司",
            "某某科技有限责任公司",
        ),
        (
            12,
            CorrectionStatus.NOT_AN_ERROR,
            "经核对原始登记档案，该值无误；差异系使用部门缓存旧数据所致",
            "姓名",
            "张明",
            "张民",
        ),
    ]
    for i, (age, outcome, note, kind, seen, expected) in enumerate(cases):
        # A resource with an element of the right kind, so the reported value looks like that element.
        fitting = [(r, e) for r in pool for e in published_elements(db, r) if kind in e.name]
        if not fitting:
            continue
        resource, element = fitting[(i * 7 + rng.randrange(len(fitting))) % len(fitting)]
        consumer = next(
            (c for c in consumers if c.id != resource.provider_id and c.id in admins),
            next((c for c in consumers if c.id != resource.provider_id), None),
        )
        if consumer is None:
            continue
        submitted_on = add_working_days(today, -age)
        out = correction_create(
            db,
            actor=admins.get(consumer.id, system),
            data=CorrectionIn(
                resource_code=resource.code,
                element=element.name_en,
                record_key=f"DEMO-{rng.randrange(10**6, 10**7)}",
                value_seen=seen,
                value_expected=expected,
                evidence="使用部门业务办理中发现，附当事人提交的证明材料" if i % 2 == 0 else "",
                consumer_department_id=consumer.id,
            ),
            now=_at(submitted_on, 14),
        )
        counts["corrections"] += 1
        if outcome is None:
            counts["corrections_open"] += 1
            continue
        correction_answer(
            db,
            actor=admins.get(resource.provider_id, system),
            correction_id=out.id,
            data=CorrectionAnswerIn(outcome=outcome, answer=note),
            now=_at(add_working_days(submitted_on, 4), 16),
        )
