"""Harvesting (级联): the portal imports the datasets of other portals (CKAN API, DCAT) on a schedule."""
