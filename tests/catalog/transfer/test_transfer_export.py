"""Export: the Excel layout round-trips, CSV neutralises formulas, DCAT parses back with the right triples."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, SKOS
from sqlalchemy.orm import Session

from factories import make_department
from factories_catalog import make_resource, make_topic
from zhengwu.accounts.permissions import Actor
from zhengwu.catalog.transfer.dcat import FREQUENCY, ZW
from zhengwu.catalog.transfer.export import catalog_export
from zhengwu.catalog.transfer.services import catalog_import
from zhengwu.errors import PermissionDenied, ValidationError

Admin = tuple[Actor, int]
NASTY = '=HYPERLINK("http://evil.example","点我")'


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json"])
def test_department_export_imports_back_unchanged(db: Session, admin: Admin, fmt: str) -> None:
    actor, dept = admin
    make_resource(db, provider_id=dept, name="户籍人口基本信息", elements=4, keywords=["户籍", "人口"])
    make_resource(db, provider_id=dept, name=NASTY, published=False, elements=2, summary="@SUM(A1) -1 +1")
    make_resource(db, provider_id=dept, name="婚姻登记信息", published=False, elements=0)
    export = catalog_export(db, actor=actor, fmt=fmt, scope="department")
    report = catalog_import(db, actor=actor, data=export.content, filename=export.filename)
    assert report.ok, [e.reason for e in report.errors]
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert {i.name for i in report.items} == {"户籍人口基本信息", NASTY, "婚姻登记信息"}


def test_exported_rows_import_as_new_entries_elsewhere(db: Session, admin: Admin) -> None:
    actor, dept = admin
    make_resource(db, provider_id=dept, name="不动产登记簿", elements=3)
    export = catalog_export(db, actor=actor, fmt="xlsx", scope="department")
    book = load_workbook(io.BytesIO(export.content))
    sheet = book["信息资源"]
    headers = [c.value for c in sheet[1]]
    code_col = headers.index("信息资源代码") + 1
    for col in (code_col, headers.index("信息资源提供方") + 1, headers.index("信息资源提供方代码") + 1):
        sheet.cell(row=2, column=col).value = None
    out = io.BytesIO()
    book.save(out)
    report = catalog_import(db, actor=actor, data=out.getvalue(), filename="copy.xlsx", apply=True)
    assert report.ok and report.created == 1
    assert report.items[0].elements == 3


def test_xlsx_keeps_formula_looking_text_as_text_and_csv_neutralises_it(db: Session, admin: Admin) -> None:
    actor, dept = admin
    make_resource(db, provider_id=dept, name=NASTY, published=False, elements=1, summary="-1+1")
    book = load_workbook(io.BytesIO(catalog_export(db, actor=actor, fmt="xlsx", scope="department").content))
    name_cell = book["信息资源"]["B2"]
    assert name_cell.value == NASTY and name_cell.data_type == "s"
    assert [c.value for c in book["信息资源"][1]][:3] == ["序号", "信息资源名称*", "信息资源代码"]
    assert book.sheetnames == ["信息资源", "信息项", "填写说明"]

    text = catalog_export(db, actor=actor, fmt="csv", scope="department").content
    assert text.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    name_at, summary_at = rows[0].index("信息资源名称"), rows[0].index("信息资源摘要")
    assert rows[1][name_at] == "'" + NASTY
    assert rows[1][summary_at] == "'-1+1"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_published_scope_has_no_drafts_and_department_scope_is_for_its_admins(
    db: Session, admin: Admin
) -> None:
    actor, dept = admin
    make_resource(db, provider_id=dept, name="已发布的资源")
    make_resource(db, provider_id=dept, name="草稿资源", published=False)
    reader = Actor(user_id=999, username="reader")
    data = catalog_export(db, actor=reader, fmt="json", scope="published").content.decode()
    assert "已发布的资源" in data and "草稿资源" not in data
    with pytest.raises(PermissionDenied):
        catalog_export(db, actor=reader, fmt="xlsx", scope="department", department_id=dept)
    with pytest.raises(ValidationError):
        catalog_export(db, actor=actor, fmt="pdf")
    with pytest.raises(ValidationError):
        catalog_export(db, actor=actor, fmt="ttl", scope="department")


@pytest.mark.parametrize("fmt", ["ttl", "jsonld"])
def test_dcat_parses_back_with_the_expected_triples(db: Session, admin: Admin, fmt: str) -> None:
    actor, dept = admin
    make_topic(db, code="02", name="社会保障")
    first = make_resource(db, provider_id=dept, name="户籍人口基本信息", keywords=["户籍"], topic_code="02")
    make_resource(
        db,
        provider_id=dept,
        name="出生登记信息",
        related_codes=[first.code],
        update_frequency="semiannual",
        share_type="unconditional",
    )
    make_resource(db, provider_id=dept, name="草稿不导出", published=False)
    export = catalog_export(db, actor=actor, fmt=fmt, base_url="https://gov.example")
    g = Graph().parse(data=export.content, format="turtle" if fmt == "ttl" else "json-ld")

    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    ds = URIRef(f"https://gov.example/catalog/resources/{first.code}")
    assert ds in datasets and len(datasets) == 2
    assert (URIRef("https://gov.example/catalog"), DCAT.dataset, ds) in g
    assert (ds, DCTERMS.title, Literal("户籍人口基本信息", lang="zh")) in g
    assert (ds, DCTERMS.identifier, Literal(first.code)) in g
    assert (ds, DCAT.keyword, Literal("户籍", lang="zh")) in g
    assert (ds, DCTERMS.accrualPeriodicity, FREQUENCY.DAILY) in g
    assert (ds, ZW.shareType, ZW.ConditionalShare) in g
    publisher = g.value(ds, DCTERMS.publisher)
    assert (publisher, RDF.type, FOAF.Organization) in g
    assert (publisher, FOAF.name, Literal("省公安厅", lang="zh")) in g
    theme = g.value(ds, DCAT.theme)
    assert (theme, RDF.type, SKOS.Concept) in g and (
        theme,
        SKOS.prefLabel,
        Literal("社会保障", lang="zh"),
    ) in g
    assert g.value(ds, DCTERMS.issued) is not None and g.value(ds, DCTERMS.modified) is not None
    second = next(d for d in datasets if d != ds)
    assert (second, DCTERMS.accrualPeriodicity, FREQUENCY.ANNUAL_2) in g
    assert (second, DCTERMS.relation, ds) in g
    # Every node that is referenced as an object is typed.
    untyped = {o for _, p, o in g if isinstance(o, URIRef) and p != RDF.type and g.value(o, RDF.type) is None}
    assert untyped == set()
    assert "草稿不导出" not in export.content.decode()


def test_export_of_another_department_by_a_platform_admin(db: Session, files: SimpleNamespace) -> None:
    other = make_department(db, name="省民政厅")
    make_resource(db, provider_id=other.id, name="婚姻登记信息", published=False)
    export = catalog_export(
        db, actor=Actor.system("t"), fmt="json", scope="department", department_id=other.id
    )
    assert "婚姻登记信息" in export.content.decode() and export.filename.endswith(".json")
