"""The open data portal's tabular data store (CKAN DataStore): one real table per loaded resource.

A tabular distribution is loaded into its own table (``ds_<hex>``) so that it can be searched,
filtered, queried with read-only SQL and downloaded as CSV, XLSX, JSON or GeoJSON. Everything is keyed
by the CKAN ``resource_id`` (a UUID string); ``datastore_tables`` records the physical table, its
fields and types, and whether it is open to the public.
"""
