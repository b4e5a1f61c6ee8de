#!/usr/bin/env bash
# The whole test suite: install, start services, lint, type-check, then pytest on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
scripts/ensure_services.sh
echo "== ruff"; .venv/bin/ruff check src tests bench scripts
echo "== mypy"; .venv/bin/mypy
echo "== pytest"
# Two workers for two cores; each worker gets its own PostgreSQL database.
exec .venv/bin/python -m pytest -n 2 -q "$@"
