"""Tables of the exchange: the directory (subsystems, services) and the tamper-evident message log.

Message log storage, in three parts:

* ``exchange_log_records``: one row per call with the fields a person could dispute. Each carries its
  ``leaf_index``; the leaf is the canonical encoding of the row (see ``messagelog.leaf_bytes``).
* ``exchange_log_leaves``: ``(leaf_index, leaf_hash)`` only, ~40 bytes a call, written in the same
  transaction as the record. It is the Merkle tree's level 0 and *outlives* the record: once records
  are archived to signed files and deleted, the tree (heads, proofs, consistency) stays computable and
  the archive's range root is checked against these hashes.
* ``exchange_log_heads``: signed tree heads (size, root, time, SM2 signature, key fingerprint).
* ``exchange_log_archives``: one row per archive file, hash-chained (``prev_manifest_hash``).

``catalog_resource_id`` of a service is a plain integer, not a foreign key: this domain's migration
branch starts at revision 0001, before the catalog tables exist, and the catalog may be deployed later.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime, utcnow


class ExchangeSubsystem(Base):
    """An information system of a department (the ``SUBSYSTEM`` of an X-Road identifier)."""

    __tablename__ = "exchange_subsystems"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("department_id", "code", name="uq_exchange_subsystems_department_code"),
    )


class ExchangeService(Base):
    """A service a subsystem offers through the gateway: where to forward, how long to wait, its API."""

    __tablename__ = "exchange_services"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subsystem_id: Mapped[int] = mapped_column(ForeignKey("exchange_subsystems.id", ondelete="RESTRICT"))
    service_code: Mapped[str] = mapped_column(String(255))
    # "" rather than NULL for "no version": NULLs are never equal, so a unique key would let duplicates in.
    service_version: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(200))
    upstream_url: Mapped[str] = mapped_column(String(1000))
    timeout_ms: Mapped[int] = mapped_column(Integer, default=10_000)
    catalog_resource_id: Mapped[int | None] = mapped_column(BigInteger)
    openapi: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The gateway's credential at the upstream (a front node's token), SM4-GCM under a key derived from
    # the platform secret (see ``zhengwu.exchange.credentials``); NULL: the upstream needs none.
    # Added by migration gateway_0002. Write-only: no API, page or log shows it.
    upstream_credential: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        UniqueConstraint(
            "subsystem_id", "service_code", "service_version", name="uq_exchange_services_code_version"
        ),
        Index("ix_exchange_services_catalog_resource_id", "catalog_resource_id"),
    )


class ExchangeLogRecord(Base):
    """One exchange call, allowed or refused."""

    __tablename__ = "exchange_log_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    logged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    xroad_id: Mapped[str] = mapped_column(String(255))
    request_id: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(1100))
    service_id: Mapped[str | None] = mapped_column(String(1400))
    user_id: Mapped[str | None] = mapped_column(String(255))
    issue: Mapped[str | None] = mapped_column(String(1000))
    # The grant the call was decided against (allowed, or refused e.g. for its purpose; None when no
    # grant applied: unconditional resource, refused before one was found) and the purpose the consumer
    # declared (X-Zhengwu-Purpose): under which grant data left, and why.
    grant_id: Mapped[int | None] = mapped_column(BigInteger)
    purpose: Mapped[str | None] = mapped_column(String(1000))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    http_status: Mapped[int] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(255))
    request_size: Mapped[int] = mapped_column(BigInteger, default=0)
    response_size: Mapped[int] = mapped_column(BigInteger, default=0)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_hash: Mapped[str] = mapped_column(String(64))
    request_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_exchange_log_records_xroad_id", "xroad_id"),
        Index("ix_exchange_log_records_logged_at", "logged_at"),
    )


class ExchangeLogLeaf(Base):
    """Level 0 of the message log's Merkle tree; kept after the record itself is archived."""

    __tablename__ = "exchange_log_leaves"

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class ExchangeLogCounter(Base):
    """The next leaf index, in one row: a batch reserves its indices with one UPDATE ... RETURNING.

    The row lock orders concurrent writers (several gateway processes) and a rolled-back batch gives its
    indices back with its transaction, so the leaves never have a gap.
    """

    __tablename__ = "exchange_log_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_leaf_index: Mapped[int] = mapped_column(BigInteger)


class ExchangeLogHead(Base):
    """A signed tree head: the platform vouches for (size, root) at a time."""

    __tablename__ = "exchange_log_heads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    signature: Mapped[str] = mapped_column(Text)
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    public_pem: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_exchange_log_heads_tree_size", "tree_size"),)


class ExchangeLogArchive(Base):
    """One signed archive file of records ``[first_index, end_index)``, chained to the previous one."""

    __tablename__ = "exchange_log_archives"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    first_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    end_index: Mapped[int] = mapped_column(BigInteger)
    record_count: Mapped[int] = mapped_column(BigInteger)
    file_name: Mapped[str] = mapped_column(String(500))
    range_root: Mapped[str] = mapped_column(String(64))
    manifest_hash: Mapped[str] = mapped_column(String(64))
    prev_manifest_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
