"""Harvest backends as plugins: importing this package registers the built-in ones (ckan, dcat)."""

from zhengwu.opendata.harvest.backends import ckan, dcat
from zhengwu.opendata.harvest.backends.base import (
    BACKENDS,
    Backend,
    Converted,
    RemoteError,
    RemoteRef,
    backend_class,
    register_backend,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "Converted",
    "RemoteError",
    "RemoteRef",
    "backend_class",
    "ckan",
    "dcat",
    "register_backend",
]
