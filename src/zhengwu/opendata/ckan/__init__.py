"""The CKAN Action API front-end (``/api/3/action/<name>``) of the open data portal."""
