"""Tables of the catalog search index: one narrow row per published resource, and an inverted index.

The index holds only what is *published* (the snapshot in force), never a draft or a revision being
edited, so nothing unpublished can leak through search. It is derived data: ``search_index_rebuild``
recreates it from ``catalog_resource_versions`` at any time.

One design serves both backends. ``catalog_search_terms`` is an inverted index clustered on
(term, resource): the postings of a term are one contiguous range of one B-tree, read with an
index-only scan on PostgreSQL and from the table itself on SQLite (WITHOUT ROWID), and whether a
resource has a term is one probe. ``catalog_search_vocab`` counts the resources of each term, so that a
query starts from its rarest term and probes the others only for those candidates. Matching never
touches a wide row, which is what keeps a query fast when the index is larger than the database's
memory. (A ``tsvector`` under GIN was measured first: its bitmap heap scans over rows carrying the
vectors cost ten times more at 100,000 resources with the default 128 MB of shared buffers. SQLite's
FTS5 would need virtual and shadow tables that the schema test reports as unknown tables.)

``catalog_search_docs`` is what facet counting, filtering, ranking and browsing read: a narrow row per
resource, the five small facets packed into one number (``facet_key``) so that counting them is one
hash aggregate. ``catalog_search_doc_terms`` remembers the terms written for
each resource, so that re-indexing one resource deletes exactly its postings.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, PrimaryKeyConstraint, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime

# Prefix matches are key ranges (term >= 'resid' AND term < 'resie'): on PostgreSQL they need byte order
# whatever the database's collation (a zh_CN or en_US collation orders differently), hence "C" there.
KEY_TEXT = String(64).with_variant(String(64, collation="C"), "postgresql")
NAME_KEY_TEXT = String(200).with_variant(String(200, collation="C"), "postgresql")

POSTING_INCLUDE = ("weight", "facet_key", "provider_id", "topic_code", "name_len", "published_at")


class SearchDoc(Base):
    """One published resource as search filters, counts and ranks it: a deliberately narrow row.

    A broad word (“户籍”, found in the data elements of a third of the catalog) joins tens of thousands
    of these per query, so display fields stay out: the page of hits reads them from the snapshot.
    """

    __tablename__ = "catalog_search_docs"

    resource_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("catalog_resources.id", ondelete="CASCADE"), primary_key=True
    )
    # NFKC-normalised, lower-cased, without spaces: what exact and prefix name matches compare.
    name_key: Mapped[str] = mapped_column(NAME_KEY_TEXT)
    name_len: Mapped[int] = mapped_column(SmallInteger)
    provider_id: Mapped[int] = mapped_column(BigId)
    topic_code: Mapped[str | None] = mapped_column(String(32))
    classification: Mapped[str] = mapped_column(String(32))
    # category, share type, open type, delivery and update frequency packed into one small number:
    # filtering and counting them is then one integer column (see indexing.pack_facets).
    facet_key: Mapped[int] = mapped_column(SmallInteger)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_catalog_search_docs_published_at", "published_at"),
        Index("ix_catalog_search_docs_name_key", "name_key"),
    )


class SearchTerm(Base):
    """One posting: a term of a resource with the best field it occurs in, and that resource's facets.

    ``weight``: 1 name, 2 keywords/topic/provider/pinyin, 3 summary, 4 data elements (lower is better).
    Keyed (term, resource): a term's postings are one range, and “does resource r have term t” is one
    probe. The posting also carries what counting and ordering the hits need (packed facets, provider,
    topic, name length, publication time; on PostgreSQL as INCLUDE columns of the key), so a query over
    tens of thousands of hits reads one index range and never joins the docs table.
    No foreign key: checking one on every delete would need a second 15-million-entry index.
    """

    __tablename__ = "catalog_search_terms"

    term: Mapped[str] = mapped_column(KEY_TEXT, primary_key=True)
    resource_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    weight: Mapped[int] = mapped_column(SmallInteger)
    facet_key: Mapped[int] = mapped_column(SmallInteger)
    provider_id: Mapped[int] = mapped_column(BigId)
    topic_code: Mapped[str | None] = mapped_column(String(32))
    name_len: Mapped[int] = mapped_column(SmallInteger)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        PrimaryKeyConstraint(
            "term",
            "resource_id",
            name="pk_catalog_search_terms",
            postgresql_include=list(POSTING_INCLUDE),
        ),
        {"sqlite_with_rowid": False},
    )


class SearchVocab(Base):
    """How many resources have each term: a query starts from its rarest term."""

    __tablename__ = "catalog_search_vocab"

    term: Mapped[str] = mapped_column(KEY_TEXT, primary_key=True)
    df: Mapped[int] = mapped_column(Integer)


class SearchDocTerms(Base):
    """The postings written for one resource (``term:weight`` separated by spaces), to delete them."""

    __tablename__ = "catalog_search_doc_terms"

    resource_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("catalog_search_docs.resource_id", ondelete="CASCADE"), primary_key=True
    )
    terms: Mapped[str] = mapped_column(Text)


class SearchState(Base):
    """One row (id 1): a random token replaced by every change of the index.

    Process-memory copies of index data (``memory.py``) are keyed by it, so none outlives the index it
    was read from; random rather than a counter, so that a rolled-back change's value never returns.
    """

    __tablename__ = "catalog_search_state"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(32))
