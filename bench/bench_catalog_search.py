# ruff: noqa: S608 - the benchmark formats fixed table and column names into its bulk-load SQL.
"""Catalog search at national size: latency of typical queries over 100,000 resources / 2,000,000 elements.

Builds a synthetic catalog in a fresh database (bulk COPY on PostgreSQL, executemany on SQLite; names,
summaries and data elements composed from vocabularies of real government data), builds the search
index with the real ``search_index_rebuild``, then times ``resource_search`` (the whole use case:
segmentation, the SQL, facets, loading and highlighting the page of hits) for typical queries, and, as
a baseline measured in the same run, a plain ``name LIKE '%word%'`` scan with its count.

    .venv/bin/python bench/bench_catalog_search.py --backend postgresql            # the target
    .venv/bin/python bench/bench_catalog_search.py --backend sqlite --resources 100000
    .venv/bin/python bench/bench_catalog_search.py --backend both --resources 10000  # quick look

Prints per query type p50/p95/p99 (ms) and the overall figure over the typical types. Keep runs short:
the machine's two cores are shared. PostgreSQL: ZHENGWU_TEST_PG_ADMIN_URL or the default local server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from zhengwu.accounts.permissions import Actor
from zhengwu.catalog.search.services import resource_search, search_filters, search_index_rebuild
from zhengwu.db import Database, make_engine, upgrade

PG_ADMIN_URL = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BENCH_DB = "zhengwu_bench_catalog_search"
READER = Actor(user_id=1, username="bench", display_name="基准测试")
TARGET_P95_MS = 50.0

REGIONS = [
    "全省",
    "东川市",
    "西岭市",
    "南湖市",
    "北岸市",
    "青山县",
    "白水县",
    "临江区",
    "云溪县",
    "石门市",
    "望海市",
    "丰源县",
    "安平区",
    "长宁县",
    "金沙市",
]
SUBJECTS = [
    "户籍人口",
    "常住人口",
    "流动人口",
    "出生人口",
    "死亡人口",
    "婚姻登记",
    "收养登记",
    "企业法人",
    "个体工商户",
    "农民专业合作社",
    "社会组织",
    "事业单位",
    "不动产登记",
    "土地出让",
    "宅基地",
    "房屋租赁",
    "住房公积金",
    "养老保险",
    "医疗保险",
    "失业保险",
    "工伤保险",
    "生育保险",
    "低保对象",
    "特困人员",
    "残疾人",
    "退役军人",
    "学籍",
    "教师资格",
    "职业资格",
    "营业执照",
    "食品经营许可",
    "药品经营许可",
    "医疗机构",
    "执业医师",
    "护士执业",
    "疫苗接种",
    "传染病报告",
    "机动车",
    "驾驶证",
    "交通违法",
    "公交线路",
    "出租汽车",
    "网约车",
    "道路运输",
    "建设工程规划许可",
    "施工许可",
    "竣工验收备案",
    "排污许可",
    "环境监测",
    "空气质量",
    "水质监测",
    "森林资源",
    "林权",
    "水资源",
    "河道管理",
    "气象观测",
    "地震监测",
    "地理信息",
    "行政区划",
    "地名地址",
    "税务登记",
    "纳税信用",
    "发票",
    "财政预算",
    "政府采购",
    "国有资产",
    "统计年报",
    "价格监测",
    "市场主体",
    "商标",
    "专利",
    "行政许可",
    "行政处罚",
    "信用评价",
    "失信被执行人",
    "法律援助",
    "公证",
    "律师执业",
    "司法鉴定",
    "社区矫正",
    "消防安全",
    "安全生产",
    "危险化学品",
    "特种设备",
    "应急物资",
    "救灾物资",
    "粮食储备",
    "农产品质量",
    "农机购置补贴",
    "耕地保护",
    "种子经营许可",
    "动物检疫",
    "渔船",
    "旅游景区",
    "文物保护",
    "图书馆",
    "体育场馆",
    "广播电视",
    "出版物",
    "宗教活动场所",
    "档案",
    "公务员",
    "人才引进",
    "就业登记",
    "创业补贴",
    "职业培训",
    "劳动合同",
    "工资支付",
    "社会救助",
    "慈善组织",
    "志愿者",
    "养老机构",
    "殡葬服务",
    "城市管理",
    "垃圾分类",
    "供水",
    "供电",
    "燃气",
    "供热",
    "通信基站",
    "政务服务事项",
    "电子证照",
    "出入境",
    "护照",
    "港澳通行证",
    "口岸",
    "外商投资",
    "对外贸易",
    "金融机构",
    "小额贷款",
    "住房保障",
    "公共租赁住房",
    "棚户区改造",
    "物业服务",
    "学校",
    "幼儿园",
    "高校毕业生",
    "医保结算",
    "药品集中采购",
    "食品抽检",
    "电梯维保",
    "校车",
]
ASPECTS = [
    "基本信息",
    "登记信息",
    "变更记录",
    "注销信息",
    "统计数据",
    "年度报告",
    "明细",
    "缴费记录",
    "缴存明细",
    "审批结果",
    "许可信息",
    "备案信息",
    "监测数据",
    "检查记录",
    "处罚信息",
    "名录",
    "目录",
    "台账",
    "档案信息",
    "证照信息",
    "补贴发放记录",
    "汇总表",
    "分布信息",
    "评价结果",
    "投诉举报记录",
    "服务记录",
    "实时数据",
    "月度报表",
    "季度报表",
    "年度报表",
    "办理进度",
    "资格认定",
    "核查结果",
    "异常名录",
]
DEPT_KINDS = [
    "公安局",
    "民政局",
    "人力资源和社会保障局",
    "自然资源局",
    "住房和城乡建设局",
    "交通运输局",
    "卫生健康委员会",
    "市场监督管理局",
    "税务局",
    "生态环境局",
    "教育局",
    "司法局",
    "农业农村局",
    "应急管理局",
    "医疗保障局",
    "文化和旅游局",
    "统计局",
    "财政局",
]
SYSTEMS = [
    "人口信息管理系统",
    "综合业务系统",
    "审批管理平台",
    "监测预警平台",
    "登记管理系统",
    "数据共享前置库",
]
BASE_ELEMENTS = [
    ("姓名", "person_name"),
    ("公民身份号码", "resident_id"),
    ("性别", "gender"),
    ("出生日期", "birth_date"),
    ("民族", "ethnicity"),
    ("住址", "address"),
    ("联系电话", "phone"),
    ("户籍地址", "household_address"),
    ("统一社会信用代码", "uscc"),
    ("单位名称", "org_name"),
    ("法定代表人姓名", "legal_rep_name"),
    ("登记日期", "registered_on"),
    ("注册资本", "registered_capital"),
    ("经营范围", "business_scope"),
    ("证照编号", "licence_no"),
    ("发证机关", "issuing_authority"),
    ("有效期起", "valid_from"),
    ("有效期止", "valid_until"),
    ("审批结果", "approval_result"),
    ("办理时间", "handled_at"),
    ("所属区划", "region_code"),
    ("经度", "longitude"),
    ("纬度", "latitude"),
    ("缴费金额", "paid_amount"),
    ("缴费月份", "paid_month"),
    ("参保状态", "insured_status"),
    ("处罚决定书文号", "penalty_doc_no"),
    ("违法事实", "violation_facts"),
    ("处罚金额", "penalty_amount"),
    ("检查日期", "inspected_on"),
    ("检查结果", "inspection_result"),
    ("车牌号码", "plate_no"),
    ("车辆类型", "vehicle_type"),
    ("驾驶证号", "driving_licence_no"),
    ("学校名称", "school_name"),
    ("学籍号", "student_no"),
    ("监测点位", "monitoring_site"),
    ("监测值", "measured_value"),
    ("计量单位", "unit"),
    ("数据来源", "data_source"),
    ("更新时间", "updated_at"),
    ("备注", "remarks"),
    ("不动产单元号", "property_unit_no"),
    ("房屋坐落", "location"),
    ("建筑面积", "floor_area"),
    ("权利人", "right_holder"),
    ("婚姻状况", "marital_status"),
    ("学历", "education"),
    ("职业", "occupation"),
    ("工作单位", "employer"),
    ("邮政编码", "postcode"),
    ("电子邮箱", "email"),
    ("项目名称", "project_name"),
    ("项目代码", "project_code"),
    ("建设单位", "builder"),
    ("许可证号", "permit_no"),
    ("补贴金额", "subsidy_amount"),
    ("发放日期", "paid_on"),
    ("救助类型", "assistance_type"),
    ("家庭人口数", "household_size"),
]
ROLE_PREFIXES = [
    ("", ""),
    ("申请人", "applicant_"),
    ("经办人", "handler_"),
    ("变更前", "old_"),
    ("变更后", "new_"),
]
SHARE = ["unconditional", "conditional", "conditional", "none"]
OPEN = ["open", "conditional", "closed", "closed"]
DELIVERY = ["api", "table", "file"]
FREQ = ["realtime", "daily", "weekly", "monthly", "quarterly", "semiannual", "yearly", "irregular"]
FORMATS = ["database", "spreadsheet", "document", "api"]
NO_HIT = [
    "量子纠缠",
    "火星基地",
    "xyzzy",
    "恐龙化石",
    "qwertyuiop",
    "超导磁悬浮",
    "银河系",
    "zzqqxx",
    "独角兽",
    "时光机",
]
BROAD = ["信息", "数据", "记录"]


def _weighted(items: list[Any], rng: random.Random, skew: float = 1.1) -> list[float]:
    weights = [1 / (i + 1) ** skew for i in range(len(items))]
    rng.shuffle(weights)
    return weights


class Corpus:
    """The synthetic catalog, generated row by row (never held whole in memory)."""

    def __init__(self, resources: int, elements_per: int, seed: int = 7) -> None:
        self.n = resources
        self.k = elements_per
        self.rng = random.Random(seed)
        self.elements = [(p + n, (pe + e)[:64]) for n, e in BASE_ELEMENTS for p, pe in ROLE_PREFIXES]
        # A few elements (name, ID number, address...) are in a quarter of all resources; the rest are
        # specific to their domain: three common ones per resource, the others from the long tail.
        self.common = self.elements[: 12 * len(ROLE_PREFIXES) : len(ROLE_PREFIXES)]
        self.tail = [e for e in self.elements if e not in self.common]
        self.subject_weights = _weighted(SUBJECTS, self.rng, 0.6)
        self.departments = [
            (i + 1, f"D{i + 1:03d}", f"{region}{kind}")
            for i, (region, kind) in enumerate((r, k) for r in REGIONS[:4] for k in DEPT_KINDS)
        ]
        self.topics = [(i + 1, f"{i + 1:02d}", s) for i, s in enumerate(SUBJECTS[:40:2])]
        self.names: list[str] = []

    def resources(self) -> Iterator[tuple[dict[str, Any], list[tuple[str, str]]]]:
        rng = self.rng
        now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        for i in range(1, self.n + 1):
            dept = self.departments[rng.randrange(len(self.departments))]
            subject = rng.choices(SUBJECTS, self.subject_weights)[0]
            aspect = rng.choice(ASPECTS)
            region = rng.choice(REGIONS) if rng.random() < 0.6 else ""
            name = f"{region}{subject}{aspect}"
            if len(self.names) < 2000:
                self.names.append(name)
            picked: dict[str, str] = {}
            for zh, en in rng.sample(self.common, min(3, self.k)) + rng.sample(self.tail, max(0, self.k - 3)):
                picked.setdefault(en, zh)
            elements = [(zh, en) for en, zh in picked.items()]
            share = rng.choice(SHARE)
            category = rng.choice(["base", "thematic", "departmental", "departmental"])
            digit = {"base": "1", "thematic": "2", "departmental": "3"}[category]
            classification = f"{digit}-{rng.randrange(1, 20):02d}-{rng.randrange(1, 50):03d}"
            topic = self.topics[rng.randrange(len(self.topics))] if rng.random() < 0.7 else None
            e_names = "、".join(zh for zh, _ in elements[:3])
            summary = (
                f"本资源记录{region or '全省'}{subject}的{aspect}，包括{e_names}等信息项，"
                f"由{dept[2]}依托{rng.choice(SYSTEMS)}采集，用于{rng.choice(SUBJECTS)}相关业务协同。"
            )
            row = {
                "id": i,
                "code": f"{classification}-{dept[1]}-{i:06d}",
                "name": name,
                "provider_id": dept[0],
                "provider_code": dept[1],
                "provider_name": dept[2],
                "category": category,
                "classification": classification,
                "topic_id": topic[0] if topic else None,
                "topic_code": topic[1] if topic else None,
                "topic_name": topic[2] if topic else None,
                "summary": summary,
                "format": rng.choice(FORMATS),
                "share_type": share,
                "share_conditions": "仅限履行法定职责使用" if share == "conditional" else "",
                "share_basis": "《中华人民共和国个人信息保护法》" if share == "none" else "",
                "delivery": rng.choice(DELIVERY),
                "open_type": "closed" if share == "none" else rng.choice(OPEN),
                "open_conditions": "",
                "update_frequency": rng.choice(FREQ),
                "source_system": rng.choice(SYSTEMS),
                "keywords": [subject, aspect],
                "published_at": now - dt.timedelta(minutes=i),
            }
            yield row, elements

    @staticmethod
    def snapshot(row: dict[str, Any], elements: list[tuple[str, str]]) -> dict[str, Any]:
        fields = (
            "name",
            "category",
            "classification",
            "topic_code",
            "summary",
            "format",
            "share_type",
            "share_conditions",
            "share_basis",
            "delivery",
            "open_type",
            "open_conditions",
            "update_frequency",
            "source_system",
            "keywords",
            "topic_name",
            "provider_id",
            "provider_code",
            "provider_name",
        )
        snap = {f: row[f] for f in fields}
        snap.update(format_version=1, secrecy="unclassified", related_codes=[])
        snap["elements"] = [
            {
                "name": zh,
                "name_en": en,
                "data_type": "string",
                "length": 64,
                "identifies_person": False,
                "sensitivity": "internal",
                "description": "",
            }
            for zh, en in elements
        ]
        return snap


RESOURCE_COLUMNS = (
    "id",
    "code",
    "name",
    "provider_id",
    "category",
    "classification",
    "topic_id",
    "summary",
    "format",
    "share_type",
    "share_conditions",
    "share_basis",
    "delivery",
    "open_type",
    "open_conditions",
    "update_frequency",
    "secrecy",
    "source_system",
    "related_codes",
    "keywords",
    "status",
    "has_draft_changes",
    "published_version",
    "first_published_at",
    "published_at",
    "withdraw_reason",
    "review_comment",
    "created_at",
    "updated_at",
    "row_version",
)
ELEMENT_COLUMNS = (
    "resource_id",
    "position",
    "name",
    "name_en",
    "data_type",
    "length",
    "identifies_person",
    "sensitivity",
    "description",
)
VERSION_COLUMNS = ("resource_id", "version", "snapshot", "change_note", "published_at")


def _resource_tuple(row: dict[str, Any]) -> tuple[Any, ...]:
    values = dict(row)
    values.update(
        secrecy="unclassified",
        related_codes="[]",
        keywords=json.dumps(row["keywords"], ensure_ascii=False),
        status="published",
        has_draft_changes=False,
        published_version=1,
        first_published_at=row["published_at"],
        withdraw_reason="",
        review_comment="",
        created_at=row["published_at"],
        updated_at=row["published_at"],
        row_version=1,
    )
    return tuple(values[c] for c in RESOURCE_COLUMNS)


def _rows(corpus: Corpus) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]], tuple[Any, ...]]]:
    for row, elements in corpus.resources():
        els = [
            (row["id"], p, zh, en, "string", 64, False, "internal", "") for p, (zh, en) in enumerate(elements)
        ]
        snap = json.dumps(Corpus.snapshot(row, elements), ensure_ascii=False)
        yield _resource_tuple(row), els, (row["id"], 1, snap, "首次发布", row["published_at"])


def load_postgres(url: str, corpus: Corpus) -> None:
    """Bulk-load the corpus with COPY (three streams, one pass over the generator)."""
    import psycopg  # the driver itself: SQLAlchemy has no COPY

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO departments (id, code, name, level, region_code, is_active, created_at, updated_at) "
            "VALUES (%s, %s, %s, 'city', '990100', true, now(), now())",
            corpus.departments,
        )
        cur.executemany("INSERT INTO catalog_topics (id, code, name) VALUES (%s, %s, %s)", corpus.topics)
        res_buf, el_buf, ver_buf = [], [], []
        chunk = 5000

        def flush() -> None:
            with cur.copy(f"COPY catalog_resources ({', '.join(RESOURCE_COLUMNS)}) FROM STDIN") as cp:
                for r in res_buf:
                    cp.write_row(r)
            with cur.copy(f"COPY catalog_elements ({', '.join(ELEMENT_COLUMNS)}) FROM STDIN") as cp:
                for r in el_buf:
                    cp.write_row(r)
            with cur.copy(f"COPY catalog_resource_versions ({', '.join(VERSION_COLUMNS)}) FROM STDIN") as cp:
                for r in ver_buf:
                    cp.write_row(r)
            res_buf.clear(), el_buf.clear(), ver_buf.clear()

        for res, els, ver in _rows(corpus):
            res_buf.append(res)
            el_buf.extend(els)
            ver_buf.append(ver)
            if len(res_buf) >= chunk:
                flush()
        flush()
        for table in (
            "departments",
            "catalog_topics",
            "catalog_resources",
            "catalog_elements",
            "catalog_resource_versions",
        ):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        conn.commit()


def load_sqlite(path: str, corpus: Corpus) -> None:
    """Bulk-load the corpus with executemany in one transaction."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now = dt.datetime.now(dt.UTC)
    conn.executemany(
        "INSERT INTO departments (id, code, name, level, region_code, is_active, created_at, updated_at) "
        "VALUES (?, ?, ?, 'city', '990100', 1, ?, ?)",
        [(*d, now, now) for d in corpus.departments],
    )
    conn.executemany("INSERT INTO catalog_topics (id, code, name) VALUES (?, ?, ?)", corpus.topics)
    res_marks = ", ".join("?" * len(RESOURCE_COLUMNS))
    el_marks = ", ".join("?" * len(ELEMENT_COLUMNS))
    res_sql = f"INSERT INTO catalog_resources ({', '.join(RESOURCE_COLUMNS)}) VALUES ({res_marks})"
    el_sql = f"INSERT INTO catalog_elements ({', '.join(ELEMENT_COLUMNS)}) VALUES ({el_marks})"
    ver_sql = f"INSERT INTO catalog_resource_versions ({', '.join(VERSION_COLUMNS)}) VALUES (?, ?, ?, ?, ?)"
    res_buf, el_buf, ver_buf = [], [], []

    def iso(v: Any) -> Any:
        return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v

    for res, els, ver in _rows(corpus):
        res_buf.append(tuple(iso(v) for v in res))
        el_buf.extend(els)
        ver_buf.append(tuple(iso(v) for v in ver))
        if len(res_buf) >= 5000:
            (
                conn.executemany(res_sql, res_buf),
                conn.executemany(el_sql, el_buf),
                conn.executemany(ver_sql, ver_buf),
            )
            res_buf, el_buf, ver_buf = [], [], []
    conn.executemany(res_sql, res_buf), conn.executemany(el_sql, el_buf), conn.executemany(ver_sql, ver_buf)
    conn.commit()
    conn.close()


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=BENCH_DB).render_as_string(hide_password=False)


REINDEX = False


def reuse_database(backend: str, reuse: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{reuse}"
    return make_url(PG_ADMIN_URL).set(database=BENCH_DB).render_as_string(hide_password=False)


def drop_database(backend: str) -> None:
    if backend == "postgresql":
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        admin.dispose()


def queries(corpus: Corpus, rng: random.Random, per_type: int) -> dict[str, list[dict[str, Any]]]:
    """The typical queries (kind → list of keyword arguments of resource_search)."""
    words = [
        "户籍",
        "公积金",
        "不动产",
        "营业执照",
        "养老保险",
        "驾驶证",
        "排污许可",
        "低保",
        "学籍",
        "专利",
        "疫苗接种",
        "网约车",
        "宅基地",
        "失信被执行人",
        "殡葬",
        "供热",
        "护照",
        "林权",
        "商标",
        "校车",
    ]
    two = [
        f"{rng.choice(words)} {rng.choice(['登记', '变更', '缴费', '许可', '统计', '名录', '监测', '明细'])}"
        for _ in range(per_type)
    ]
    element_en = [en for _, en in corpus.elements]
    providers = [d[1] for d in corpus.departments]
    return {
        "single_word": [{"q": w} for w in rng.sample(words, min(per_type, len(words)))],
        "two_words": [{"q": q} for q in two],
        "name_exact": [{"q": n} for n in rng.sample(corpus.names, per_type)],
        "with_facets": [
            {"q": rng.choice(words), "filters": search_filters(share_type="conditional")}
            if i % 2 == 0
            else {
                "q": rng.choice(words),
                "filters": search_filters(provider=rng.choice(providers), open_type="closed"),
            }
            for i in range(per_type)
        ],
        "english_element": [{"q": e} for e in rng.sample(element_en, per_type)],
        "no_hit": [{"q": q} for q in NO_HIT[:per_type]],
        "browse": [{"q": ""}, {"q": "", "filters": search_filters(share_type="unconditional")}],
        "broad_word": [{"q": q} for q in BROAD],
    }


TYPICAL = ("single_word", "two_words", "name_exact", "with_facets", "english_element", "no_hit")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(call: Callable[[], Any], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def machine_info() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
        mem_gb = int(mem.split()[1]) / 1024 / 1024
    except (OSError, StopIteration):
        mem_gb = 0.0
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GB RAM, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; load average at start {load}"
    )


def run(
    backend: str,
    resources: int,
    elements_per: int,
    per_type: int,
    reps: int,
    keep: bool,
    reuse: str = "",
) -> dict[str, Any]:
    if reuse:
        # A database kept by an earlier --keep run: migrate it, re-index if asked, and time the queries.
        workdir = Path(reuse).parent if backend == "sqlite" else Path(tempfile.gettempdir())
        url = reuse_database(backend, reuse)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="bench-search-"))
        url = fresh_database(backend, workdir)
        if backend == "sqlite":
            print(f"SQLite database file: {workdir / 'bench.db'}")
    database = Database(make_engine(url))
    upgrade(database.engine)
    corpus = Corpus(resources, elements_per)
    t0 = time.perf_counter()
    if not reuse:
        (load_postgres if backend == "postgresql" else load_sqlite)(
            url if backend == "postgresql" else url[len("sqlite:///") :], corpus
        )
    else:
        list(corpus.resources())  # the same random stream: the queries are those of the loading run
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    indexed = 0
    with database.session() as db:
        if not reuse or REINDEX:
            indexed = search_index_rebuild(db)
        else:
            indexed = int(db.execute(text("SELECT count(*) FROM catalog_search_docs")).scalar() or 0)
    t_index = time.perf_counter() - t0
    with database.engine.connect() as conn:
        if backend == "postgresql":
            if not reuse or REINDEX:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            sizes = conn.exec_driver_sql(
                "SELECT pg_size_pretty(pg_total_relation_size('catalog_search_docs')), "
                "pg_size_pretty(pg_total_relation_size('catalog_search_terms')), "
                "pg_size_pretty(pg_indexes_size('catalog_search_terms')), "
                "(SELECT count(*) FROM catalog_search_terms)"
            ).one()
            size = f"docs {sizes[0]}, postings {sizes[3]:,} rows, {sizes[1]} (key {sizes[2]})"
        else:
            if not reuse or REINDEX:
                conn.exec_driver_sql("ANALYZE")
            version = sqlite3.sqlite_version
            postings = conn.exec_driver_sql("SELECT count(*) FROM catalog_search_terms").scalar() or 0
            megabytes = os.path.getsize(workdir / "bench.db") / 1e6
            size = f"postings {postings:,} rows, database file {megabytes:.0f} MB"
    print(f"\n## {backend} {version}: {indexed:,} resources, {indexed * elements_per:,} elements")
    print(f"load {t_load:.0f} s, index rebuild {t_index:.0f} s, index size: {size}")

    rng = random.Random(11)
    plan = queries(corpus, rng, per_type)
    results: dict[str, list[float]] = {}
    # CPU time of this (client) process per search: what the search costs here whatever the load.
    client_cpu: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}
    with database.session() as db:
        # Warm-up: caches, compiled statements, the jieba dictionary, the in-memory docs table and the
        # posting lists of the queried terms. Timed too: the first run of each query is the cold figure.
        cold: dict[str, list[float]] = {}
        for kind, calls in plan.items():
            for kw in calls:
                start = time.perf_counter()
                resource_search(db, actor=READER, **kw)
                cold.setdefault(kind, []).append((time.perf_counter() - start) * 1000)
        for _round in range(reps):
            for kind, calls in plan.items():
                for kw in calls:
                    start, cpu = time.perf_counter(), time.process_time()
                    found = resource_search(db, actor=READER, **kw)
                    results.setdefault(kind, []).append((time.perf_counter() - start) * 1000)
                    client_cpu.setdefault(kind, []).append((time.process_time() - cpu) * 1000)
                    counts.setdefault(kind, []).append(found.count)
        baseline: list[float] = []
        like = text(
            "SELECT id, name FROM catalog_resources WHERE status = 'published' AND name LIKE :p "
            "ORDER BY published_at DESC LIMIT 20"
        )
        count = text("SELECT count(*) FROM catalog_resources WHERE status = 'published' AND name LIKE :p")
        for _round in range(reps):
            for kw in plan["single_word"]:
                p = f"%{kw['q']}%"
                baseline += timed(
                    lambda p=p: (db.execute(like, {"p": p}).all(), db.execute(count, {"p": p}).scalar()), 1
                )
    typical = [v for k in TYPICAL for v in results[k]]
    print(
        "\n| query type | runs | hits (median) | p50 ms | p95 ms | p99 ms | first run p50 / max ms "
        "| client CPU p50 ms |\n|---|---|---|---|---|---|---|---|"
    )
    for kind, values in results.items():
        print(
            f"| {kind} | {len(values)} | {statistics.median(counts[kind]):,.0f} | {pct(values, 50):.1f} | "
            f"{pct(values, 95):.1f} | {pct(values, 99):.1f} | "
            f"{pct(cold[kind], 50):.1f} / {max(cold[kind]):.1f} | {pct(client_cpu[kind], 50):.1f} |"
        )
    print(
        f"| **typical (all above but browse, broad)** | {len(typical)} |  | {pct(typical, 50):.1f} | "
        f"{pct(typical, 95):.1f} | {pct(typical, 99):.1f} |"
    )
    print(
        f"| baseline: name LIKE '%word%' + count | {len(baseline)} |  | {pct(baseline, 50):.1f} | "
        f"{pct(baseline, 95):.1f} | {pct(baseline, 99):.1f} |"
    )
    verdict = "meets" if pct(typical, 95) < TARGET_P95_MS else "MISSES"
    print(f"\np95 of typical queries {pct(typical, 95):.1f} ms: {verdict} the {TARGET_P95_MS:.0f} ms target")
    database.dispose()
    if not keep:
        drop_database(backend)
    return {"typical_p95": pct(typical, 95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="postgresql")
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--elements-per-resource", type=int, default=20)
    parser.add_argument("--queries-per-type", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5, help="Timed rounds over every query.")
    parser.add_argument("--keep", action="store_true", help="Keep the PostgreSQL benchmark database.")
    parser.add_argument(
        "--reuse",
        default="",
        help="Time the queries on a database kept by --keep: 'pg' for PostgreSQL, the file path for SQLite.",
    )
    parser.add_argument("--reindex", action="store_true", help="With --reuse: rebuild the index first.")
    args = parser.parse_args()
    global REINDEX
    REINDEX = args.reindex
    print(f"# Catalog search benchmark\n\n{machine_info()}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    for backend in backends:
        run(
            backend,
            args.resources,
            args.elements_per_resource,
            args.queries_per_type,
            args.reps,
            args.keep or bool(args.reuse),
            args.reuse,
        )


if __name__ == "__main__":
    main()
