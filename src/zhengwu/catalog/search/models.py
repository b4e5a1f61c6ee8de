"""Tables of the catalog search index: one narrow row per published resource, and an inverted index.

The index holds only what is *published* (the snapshot in force), never a draft or a revision being
edited, so nothing unpublished can leak through search. It is derived data: ``search_index_rebuild``
recreates it from ``catalog_resource_versions`` at any time.

One design serves both backends. ``catalog_search_terms`` is an inverted index clustered on
(term, weight, resource): the postings of a term are one contiguous range of one B-tree, read with an
index-only scan on PostgreSQL and from the table itself on SQLite (WITHOUT ROWID). Matching never
touches a wide row, which is what keeps a query fast when the index is larger than the database's
memory. (A ``tsvector`` under GIN was measured first: its bitmap heap scans over rows carrying the
vectors cost ten times more at 100,000 resources with the default 128 MB of shared buffers. SQLite's
FTS5 would need virtual and shadow tables that the schema test reports as unknown tables.)

``catalog_search_docs`` is what facet counting, filtering, ranking and browsing read: a narrow row per
resource with its facet values, plus ``facet_key``, the five small facets packed into one number so
that counting them is one hash aggregate. ``catalog_search_doc_terms`` remembers the terms written for
each resource, so that re-indexing one resource deletes exactly its postings.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime


class SearchDoc(Base):
    """One published resource as search filters, counts, ranks and shows it."""

    __tablename__ = "catalog_search_docs"

    resource_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("catalog_resources.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # NFKC-normalised, lower-cased, without spaces: what exact and prefix name matches compare.
    name_key: Mapped[str] = mapped_column(String(200))
    name_len: Mapped[int] = mapped_column(SmallInteger)
    provider_id: Mapped[int] = mapped_column(BigId)
    provider_code: Mapped[str] = mapped_column(String(32))
    provider_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(16))
    classification: Mapped[str] = mapped_column(String(32))
    topic_code: Mapped[str | None] = mapped_column(String(32))
    topic_name: Mapped[str | None] = mapped_column(String(100))
    share_type: Mapped[str] = mapped_column(String(16))
    open_type: Mapped[str] = mapped_column(String(16))
    delivery: Mapped[str] = mapped_column(String(16))
    update_frequency: Mapped[str] = mapped_column(String(16))
    # category, share type, open type, delivery and update frequency as one number (see query.py).
    facet_key: Mapped[int] = mapped_column(SmallInteger)
    format: Mapped[str] = mapped_column(String(32))
    element_count: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_catalog_search_docs_published_at", "published_at"),
        Index("ix_catalog_search_docs_code", "code"),
        Index("ix_catalog_search_docs_provider_code", "provider_code"),
    )


class SearchTerm(Base):
    """One posting: a term of a resource with the best field it occurs in.

    ``weight``: 1 name, 2 keywords/topic/provider/pinyin, 3 summary, 4 data elements (lower is better).
    The primary key puts weight before resource so "only in names" is a narrower range of the same key.
    No foreign key: checking one on every delete would need a second 15-million-entry index.
    """

    __tablename__ = "catalog_search_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    weight: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    resource_id: Mapped[int] = mapped_column(BigId, primary_key=True)

    __table_args__ = ({"sqlite_with_rowid": False},)


class SearchDocTerms(Base):
    """The postings written for one resource (``term:weight`` separated by spaces), to delete them."""

    __tablename__ = "catalog_search_doc_terms"

    resource_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("catalog_search_docs.resource_id", ondelete="CASCADE"), primary_key=True
    )
    terms: Mapped[str] = mapped_column(Text)
