"""Catalog search: Chinese word segmentation, facets, ranking with exact name matches first."""
