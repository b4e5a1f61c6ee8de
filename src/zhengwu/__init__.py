"""zhengwu (政务): the national e-government information platform.

The package is a small kernel (config, db, errors, identifiers, crypto, accounts, audit, web) and one
folder per domain (catalog, exchange, registries, opendata, services). See docs/architecture.md.
"""

__version__ = "0.1.0"
