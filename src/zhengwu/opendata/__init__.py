"""The public data open portal (公共数据开放网站): open datasets from the catalog, CKAN-compatible."""
