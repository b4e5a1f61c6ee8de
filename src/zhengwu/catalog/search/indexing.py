# ruff: noqa: S608 - only fixed table and column names are formatted into SQL here.
"""Writing the search index: published snapshots in, postings and docs rows out, in bulk.

Only the snapshot *in force* of a published resource is read (the ``catalog_resource_versions`` row of
``published_version``), never the working copy: a revision being edited or a draft cannot be found.

A rebuild writes some 150 postings per resource (15 million at 100,000 resources). Inserting them one
by one into the clustered key would be random B-tree inserts; instead PostgreSQL loads them with COPY
while the primary key is dropped and builds the key once at the end (one sort), and SQLite loads them
into a temporary table and copies them across in key order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select, text
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.catalog.models import (
    Delivery,
    OpenType,
    Resource,
    ResourceCategory,
    ResourceStatus,
    ResourceVersion,
    ShareType,
    UpdateFrequency,
)
from zhengwu.catalog.search.models import POSTING_INCLUDE, SearchDoc, SearchDocTerms, SearchTerm, SearchVocab
from zhengwu.catalog.search.tokens import DocumentText, document_terms, name_key
from zhengwu.search.memory import touch_token

BATCH = 1000
POSTING_COLUMNS = ("term", "resource_id", *POSTING_INCLUDE)
_POSTING_LIST = ", ".join(POSTING_COLUMNS)
_MARKS = ", ".join("?" * len(POSTING_COLUMNS))
_POSTING_SQL = f"INSERT INTO catalog_search_terms ({_POSTING_LIST}) VALUES ({_MARKS})"
_LOAD_SQL = f"INSERT INTO search_terms_load ({_POSTING_LIST}) VALUES ({_MARKS})"
DOC_COLUMNS = (
    "resource_id", "name_key", "name_len", "provider_id", "topic_code", "classification", "facet_key",
    "published_at",
)  # fmt: skip

# The five small facets packed into ``facet_key`` (mixed radix, in this order).
PACKED_FACETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("category", tuple(m.value for m in ResourceCategory)),
    ("share_type", tuple(m.value for m in ShareType)),
    ("open_type", tuple(m.value for m in OpenType)),
    ("delivery", tuple(m.value for m in Delivery)),
    ("update_frequency", tuple(m.value for m in UpdateFrequency)),
)


def pack_facets(values: dict[str, str]) -> int:
    """``facet_key`` of a resource's category, share type, open type, delivery and update frequency."""
    key = 0
    for name, choices in PACKED_FACETS:
        value = values.get(name, "")
        key = key * (len(choices) + 1) + (choices.index(value) + 1 if value in choices else 0)
    return key


def facet_digit(name: str) -> tuple[int, int, dict[str, int]]:
    """How to read one facet out of ``facet_key`` in SQL: ``(facet_key / divisor) % modulus``, and the
    digit of each value."""
    names = [n for n, _ in PACKED_FACETS]
    index = names.index(name)
    divisor = 1
    for _, choices in PACKED_FACETS[index + 1 :]:
        divisor *= len(choices) + 1
    choices = PACKED_FACETS[index][1]
    return divisor, len(choices) + 1, {value: i + 1 for i, value in enumerate(choices)}


@cache
def unpack_facets(key: int) -> dict[str, str | None]:
    """The inverse of :func:`pack_facets` (None for a value that was not one of the choices)."""
    out: dict[str, str | None] = {}
    for name, choices in reversed(PACKED_FACETS):
        key, digit = divmod(key, len(choices) + 1)
        out[name] = choices[digit - 1] if digit else None
    return out


@dataclass(frozen=True)
class Source:
    """What the index needs of one published resource."""

    resource_id: int
    code: str
    provider_id: int
    provider_code: str
    provider_name: str
    version: int
    published_at: Any
    snapshot: dict[str, Any]


def published_sources(db: Session, resource_ids: Sequence[int] | None) -> Iterator[Source]:
    """The published snapshot of every (or of the given) resource that is published now."""
    query = (
        select(
            Resource.id,
            Resource.code,
            Resource.provider_id,
            Department.code,
            Department.name,
            Resource.published_version,
            Resource.published_at,
            ResourceVersion.snapshot,
        )
        .join(Department, Department.id == Resource.provider_id)
        .join(
            ResourceVersion,
            and_(
                ResourceVersion.resource_id == Resource.id,
                ResourceVersion.version == Resource.published_version,
            ),
        )
        .where(Resource.status == ResourceStatus.PUBLISHED, Resource.published_version > 0)
        .order_by(Resource.id)
    )
    if resource_ids is not None:
        query = query.where(Resource.id.in_(resource_ids))
    for row in db.execute(query.execution_options(yield_per=BATCH)):
        yield Source(*row)


def index_row(src: Source) -> tuple[dict[str, Any], dict[str, int]]:
    """The docs row of a resource and its index terms with their best field weight."""
    snap = src.snapshot
    name = str(snap.get("name") or "")
    elements = [(str(e.get("name") or ""), str(e.get("name_en") or "")) for e in snap.get("elements") or []]
    keywords = [str(k) for k in snap.get("keywords") or []]
    meta = [*keywords, str(snap.get("topic_name") or ""), src.provider_name]
    terms = document_terms(
        DocumentText(name=name, meta=meta, summary=str(snap.get("summary") or ""), elements=elements)
    )
    key = name_key(name)[:200]
    facets = {name: str(snap.get(name) or "") for name, _ in PACKED_FACETS}
    doc = {
        "resource_id": src.resource_id,
        "name_key": key,
        "name_len": len(key),
        "provider_id": src.provider_id,
        "topic_code": snap.get("topic_code"),
        "classification": str(snap.get("classification") or "")[:32],
        "facet_key": pack_facets(facets),
        "published_at": src.published_at,
    }
    return doc, terms


def _sqlite_time(value: dt.datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME storage format, in UTC (what UTCDateTime stores).
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _raw(db: Session) -> Any:
    # The driver connection of the session: same transaction, for COPY and executemany without the ORM.
    return db.connection().connection.driver_connection


def _copy(db: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with _raw(db).cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _copy_postings(db: Session, postings: list[tuple[Any, ...]]) -> None:
    # Millions of rows: formatting COPY's text format here is several times faster than write_row().
    # A resource's postings share everything but term and weight: format that tail once per resource.
    lines: list[str] = []
    tail_of: dict[int, str] = {}
    for term, rid, weight, *rest in postings:
        tail = tail_of.get(rid)
        if tail is None:
            tail = tail_of[rid] = "\t".join(_copy_value(v) for v in rest)
        lines.append(f"{term.translate(_COPY_ESCAPES)}\t{rid}\t{weight}\t{tail}\n")
    with (
        _raw(db).cursor() as cur,
        cur.copy(f"COPY catalog_search_terms ({_POSTING_LIST}) FROM STDIN") as copy,
    ):
        copy.write("".join(lines))


class _Writer:
    """Buffers index rows and writes them in batches with the backend's bulk path."""

    def __init__(self, db: Session, *, bulk: bool) -> None:
        self.db = db
        self.postgres = db.get_bind().dialect.name == "postgresql"
        self.bulk = bulk
        self.docs: list[dict[str, Any]] = []
        self.doc_terms: list[tuple[int, str]] = []
        self.postings: list[tuple[Any, ...]] = []
        self.count = 0
        if bulk and not self.postgres:
            _raw(db).execute(
                "CREATE TEMP TABLE IF NOT EXISTS search_terms_load (term TEXT, resource_id INTEGER, "
                "weight INTEGER, facet_key INTEGER, provider_id INTEGER, topic_code TEXT, name_len INTEGER, "
                "published_at TEXT)"
            )

    def add(self, src: Source) -> dict[str, int]:
        """Buffer the rows of one resource; returns its terms."""
        doc, terms = index_row(src)
        self.docs.append(doc)
        rid = src.resource_id
        extra = (
            doc["facet_key"],
            doc["provider_id"],
            doc["topic_code"],
            doc["name_len"],
            doc["published_at"],
        )
        if not self.postgres:  # the raw driver stores what SQLAlchemy's UTCDateTime would
            extra = (*extra[:4], _sqlite_time(doc["published_at"]))
        self.postings.extend((t, rid, w, *extra) for t, w in terms.items())
        self.doc_terms.append((rid, " ".join(f"{t}:{w}" for t, w in terms.items())))
        self.count += 1
        if len(self.docs) >= BATCH:
            self.flush()
        return terms

    def flush(self) -> None:
        if not self.docs:
            return
        if self.postgres:
            _copy(
                self.db, "catalog_search_docs", DOC_COLUMNS, ([d[c] for c in DOC_COLUMNS] for d in self.docs)
            )
            _copy(self.db, "catalog_search_doc_terms", ("resource_id", "terms"), self.doc_terms)
            _copy_postings(self.db, self.postings)
        else:
            self.db.execute(insert(SearchDoc), self.docs)
            raw = _raw(self.db)
            raw.executemany(
                "INSERT INTO catalog_search_doc_terms (resource_id, terms) VALUES (?, ?)", self.doc_terms
            )
            raw.executemany(_LOAD_SQL if self.bulk else _POSTING_SQL, self.postings)
        self.docs.clear()
        self.doc_terms.clear()
        self.postings.clear()


_VOCAB_ADD = (
    "INSERT INTO catalog_search_vocab (term, df) VALUES (:term, 1) "
    "ON CONFLICT (term) DO UPDATE SET df = catalog_search_vocab.df + 1"
)
_VOCAB_SUB = "UPDATE catalog_search_vocab SET df = df - 1 WHERE term = :term"


def touch_index(db: Session) -> None:
    """Record that the index changed: a new random token, in the caller's transaction (see ``memory``)."""
    touch_token(db, "catalog_search_state")


def write_index(db: Session, sources: Iterable[Source]) -> int:
    """Index a few resources (publication, revision); their old rows must be deleted first."""
    writer = _Writer(db, bulk=False)
    terms: list[dict[str, str]] = []
    for src in sources:
        terms += [{"term": t} for t in writer.add(src)]
    writer.flush()
    if terms:
        db.execute(text(_VOCAB_ADD), terms)
    touch_index(db)
    return writer.count


def rebuild_index(db: Session) -> int:
    """Replace the whole index with the published resources; returns how many were indexed."""
    postgres = db.get_bind().dialect.name == "postgresql"
    if postgres:
        # TRUNCATE and the key rebuilt in one sort; both are transactional in PostgreSQL.
        db.execute(
            text(
                "TRUNCATE catalog_search_terms, catalog_search_vocab, catalog_search_doc_terms, "
                "catalog_search_docs"
            )
        )
        db.execute(text("ALTER TABLE catalog_search_terms DROP CONSTRAINT pk_catalog_search_terms"))
        db.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    else:
        for model in (SearchTerm, SearchVocab, SearchDocTerms, SearchDoc):
            db.execute(delete(model))
    writer = _Writer(db, bulk=True)
    for src in published_sources(db, None):
        writer.add(src)
    writer.flush()
    if postgres:
        db.execute(
            text(
                "ALTER TABLE catalog_search_terms ADD CONSTRAINT pk_catalog_search_terms "
                f"PRIMARY KEY (term, resource_id) INCLUDE ({', '.join(POSTING_INCLUDE)})"
            )
        )
    else:
        raw = _raw(db)
        raw.execute(
            f"INSERT INTO catalog_search_terms ({_POSTING_LIST}) "
            f"SELECT {_POSTING_LIST} FROM search_terms_load ORDER BY term, resource_id"
        )
        raw.execute("DROP TABLE search_terms_load")
    db.execute(
        text(
            "INSERT INTO catalog_search_vocab (term, df) "
            "SELECT term, count(*) FROM catalog_search_terms GROUP BY term"
        )
    )
    touch_index(db)
    return writer.count


def delete_index(db: Session, resource_ids: Sequence[int]) -> None:
    """Remove the index rows of the given resources, postings included (by their recorded terms)."""
    rows = db.execute(
        select(SearchDocTerms.resource_id, SearchDocTerms.terms).where(
            SearchDocTerms.resource_id.in_(resource_ids)
        )
    ).all()
    keys = [
        {"term": term, "weight": int(weight), "resource_id": rid}
        for rid, terms in rows
        for term, _, weight in (item.rpartition(":") for item in terms.split())
    ]
    if keys:
        db.execute(text(_VOCAB_SUB), [{"term": k["term"]} for k in keys])
        t = SearchTerm.__table__.c
        by_key = delete(SearchTerm).where(
            t.term == bindparam("k_term"),
            t.resource_id == bindparam("k_id"),
        )
        db.connection().execute(by_key, [{"k_term": k["term"], "k_id": k["resource_id"]} for k in keys])
    db.execute(delete(SearchDocTerms).where(SearchDocTerms.resource_id.in_(resource_ids)))
    db.execute(delete(SearchDoc).where(SearchDoc.resource_id.in_(resource_ids)))
    touch_index(db)
