#!/usr/bin/env bash
# Install and start the demo: SQLite under ./var, seeded once, served on http://127.0.0.1:8000.
# Extra arguments go to `zhengwu demo` (e.g. --port 8001 --data-dir var2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/zhengwu demo "$@"
