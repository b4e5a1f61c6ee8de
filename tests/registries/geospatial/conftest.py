"""Fixtures of the geospatial registry tests (defined in geo_helpers, which test modules also import)."""

from registries.geospatial.geo_helpers import geo

__all__ = ["geo"]
