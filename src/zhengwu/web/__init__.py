"""The web kernel: error mapping, request dependencies (database, caller), templates, CSRF."""
