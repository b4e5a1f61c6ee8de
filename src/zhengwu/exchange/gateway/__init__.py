"""The exchange gateway: consumer systems call providers' services through it (X-Road REST "r1")."""
