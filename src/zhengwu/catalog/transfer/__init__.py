"""Bulk import and export of the catalog: the departments' Excel layout, CSV, JSON and DCAT."""
