"""Tables of the open data portal: datasets, their distributions, tags, topics and search index.

A dataset (开放数据集, CKAN's *package*) is what the portal offers the public; most are published from a
catalog entry whose open type is ``open`` or ``conditional`` and keep a provenance link to that entry
and the catalog version they were made from. Its publisher (CKAN's *organization*) is the provider
department itself: no table of its own, so a department renamed in accounts is renamed on the portal.
A distribution (CKAN's *resource*) is one file or API through which the data is offered. Topics (CKAN's
*groups*) are the portal's themes. Each data element of the source entry gets a treatment (publish as
is, masked, aggregated, withheld) that the sensitivity check of the publication verifies.

The search index (``opendata_search_*``) is derived data, rebuilt from these tables at any time.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhengwu.db import Base, BigId, UTCDateTime, utcnow

# Terms are compared as byte strings (prefix ranges), whatever the database's collation.
TERM_TEXT = String(80).with_variant(String(80, collation="C"), "postgresql")


def _enum(cls: type[enum.Enum], length: int = 16) -> Enum:
    # Plain strings, no native ENUM type: adding a value needs no ALTER TYPE.
    return Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class DatasetState(enum.StrEnum):
    """CKAN's ``state``: a deleted dataset stays in the table (and its name stays taken) until purged."""

    ACTIVE = "active"
    DELETED = "deleted"


class Treatment(enum.StrEnum):
    """What the publication does with one data element of the source entry."""

    PUBLISH = "publish"  # the values go out as they are (only for grade "public")
    MASK = "mask"  # values masked (110105********1234, 张*)
    AGGREGATE = "aggregate"  # only counts, sums or other aggregates go out, never a row
    WITHHOLD = "withhold"  # the element is left out of the open data


TREATMENT_LABELS_ZH = {
    Treatment.PUBLISH: "原样开放",
    Treatment.MASK: "脱敏后开放",
    Treatment.AGGREGATE: "仅开放统计结果",
    Treatment.WITHHOLD: "不开放",
}


class Dataset(Base):
    """One open dataset (CKAN package)."""

    __tablename__ = "opendata_datasets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, doc="CKAN's id")
    name: Mapped[str] = mapped_column(String(100), unique=True, doc="CKAN's URL name: a-z 0-9 - _")
    title: Mapped[str] = mapped_column(String(300))
    notes: Mapped[str] = mapped_column(Text, default="")
    organization_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    license_id: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[str] = mapped_column(String(64), default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    maintainer: Mapped[str] = mapped_column(String(200), default="")
    maintainer_email: Mapped[str] = mapped_column(String(200), default="")
    open_type: Mapped[str] = mapped_column(String(16), default="open", doc="open or conditional")
    open_conditions: Mapped[str] = mapped_column(Text, default="")
    update_frequency: Mapped[str] = mapped_column(String(16), default="irregular")
    temporal_start: Mapped[dt.date | None] = mapped_column(Date)
    temporal_end: Mapped[dt.date | None] = mapped_column(Date)
    spatial_region_code: Mapped[str] = mapped_column(String(6), default="", doc="GB/T 2260 region covered")
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[DatasetState] = mapped_column(_enum(DatasetState), default=DatasetState.ACTIVE)
    extras: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, doc="CKAN extras (key → value)")
    # Provenance in the catalog: the entry and the version of it the dataset was published from.
    catalog_resource_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="SET NULL")
    )
    catalog_code: Mapped[str] = mapped_column(String(64), default="")
    catalog_version: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    metadata_created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    metadata_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    distributions: Mapped[list[Distribution]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", order_by="Distribution.position"
    )
    tags: Mapped[list[DatasetTag]] = relationship(cascade="all, delete-orphan", order_by="DatasetTag.name")
    treatments: Mapped[list[ElementTreatment]] = relationship(
        cascade="all, delete-orphan", order_by="ElementTreatment.position"
    )

    __table_args__ = (
        Index("ix_opendata_datasets_organization_id", "organization_id"),
        Index("ix_opendata_datasets_catalog_resource_id", "catalog_resource_id"),
        Index("ix_opendata_datasets_metadata_modified", "metadata_modified"),
    )


class Distribution(Base):
    """One way to get a dataset's data (CKAN resource, DCAT distribution): a file or an API."""

    __tablename__ = "opendata_distributions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    format: Mapped[str] = mapped_column(String(32), default="")
    mimetype: Mapped[str] = mapped_column(String(100), default="")
    size: Mapped[int | None] = mapped_column(BigId)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_modified: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    dataset: Mapped[Dataset] = relationship(back_populates="distributions")

    __table_args__ = (Index("ix_opendata_distributions_dataset_id", "dataset_id"),)


class DatasetTag(Base):
    """A free keyword of a dataset (CKAN tag)."""

    __tablename__ = "opendata_dataset_tags"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        PrimaryKeyConstraint("dataset_id", "name", name="pk_opendata_dataset_tags"),
        Index("ix_opendata_dataset_tags_name", "name"),
    )


class Group(Base):
    """A topic of the portal (CKAN group), e.g. 交通出行, 教育文化; may mirror a catalog topic."""

    __tablename__ = "opendata_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    catalog_topic_code: Mapped[str | None] = mapped_column(String(32))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetGroup(Base):
    """Membership of a dataset in a topic."""

    __tablename__ = "opendata_dataset_groups"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("opendata_groups.id", ondelete="CASCADE"))

    __table_args__ = (
        PrimaryKeyConstraint("dataset_id", "group_id", name="pk_opendata_dataset_groups"),
        Index("ix_opendata_dataset_groups_group_id", "group_id"),
    )


class ElementTreatment(Base):
    """The treatment of one data element of the source catalog entry, as checked at publication."""

    __tablename__ = "opendata_element_treatments"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"))
    name_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    sensitivity: Mapped[str] = mapped_column(String(16))
    treatment: Mapped[Treatment] = mapped_column(_enum(Treatment))

    __table_args__ = (PrimaryKeyConstraint("dataset_id", "name_en", name="pk_opendata_element_treatments"),)


class SearchDoc(Base):
    """A dataset as ``package_search`` returns it: its CKAN dictionary, ready to send, and sort keys."""

    __tablename__ = "opendata_search_docs"

    dataset_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("opendata_datasets.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100))
    title_key: Mapped[str] = mapped_column(String(300))
    metadata_created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    metadata_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    package_json: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        # Sorting a page of matches reads only this index (index-only on PostgreSQL), never the wide rows.
        Index(
            "ix_opendata_search_docs_sort",
            "dataset_id",
            "metadata_modified",
            "title_key",
            "name",
            "metadata_created",
        ),
        Index("ix_opendata_search_docs_metadata_modified", "metadata_modified"),
    )


class SearchTerm(Base):
    """Inverted index: text terms (jieba tokens, bigrams, ASCII words) and facet terms (``tags=交通``).

    Clustered on (term, dataset): the postings of a term are one contiguous key range.
    """

    __tablename__ = "opendata_search_terms"

    term: Mapped[str] = mapped_column(TERM_TEXT)
    dataset_id: Mapped[int] = mapped_column(BigId, ForeignKey("opendata_datasets.id", ondelete="CASCADE"))

    __table_args__ = (
        PrimaryKeyConstraint("term", "dataset_id", name="pk_opendata_search_terms"),
        Index("ix_opendata_search_terms_dataset_id", "dataset_id"),
        {"sqlite_with_rowid": False},
    )


class SearchFacet(Base):
    """The facet terms of each dataset, keyed by dataset: what facet counting joins the matches to."""

    __tablename__ = "opendata_search_facets"

    dataset_id: Mapped[int] = mapped_column(BigId, ForeignKey("opendata_datasets.id", ondelete="CASCADE"))
    term: Mapped[str] = mapped_column(TERM_TEXT)

    __table_args__ = (
        PrimaryKeyConstraint("dataset_id", "term", name="pk_opendata_search_facets"),
        {"sqlite_with_rowid": False},
    )


class SearchState(Base):
    """One row (id 1): a random token replaced by every change of the search index.

    ``package_search`` keeps the docs' sort keys, posting lists and facet tables in process memory
    (``search_memory.py``) keyed by it, so none outlives the index it was read from; random rather than
    a counter, so that a rolled-back change's value never returns.
    """

    __tablename__ = "opendata_search_state"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(32))
