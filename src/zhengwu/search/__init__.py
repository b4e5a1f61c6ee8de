"""Kernel: search index data held in process memory and the array kernels that query it.

Shared by the catalog's search (``catalog/search``) and the open data portal's ``package_search``
(``opendata/search_memory.py``): token-keyed copies of index tables (``memory.py``) and the vectorised
steps every search over them takes (``arrays.py``). The kernel knows no domain: each domain passes its
own SQL and builds its own document table.
"""
