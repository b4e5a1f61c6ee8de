# The obvious targets. `make demo` and `make test` are the README's two commands.
.PHONY: demo test install dev lint typecheck fmt bench-crypto bench-seed clean

demo:            ## install and start the demo on http://127.0.0.1:8000
	scripts/demo.sh

test:            ## the whole suite: ruff, mypy, pytest on SQLite and PostgreSQL
	scripts/test.sh

install:         ## runtime dependencies into .venv
	scripts/bootstrap.sh

dev:             ## runtime and development dependencies into .venv
	scripts/bootstrap.sh dev

lint: dev
	.venv/bin/ruff check src tests bench scripts

typecheck: dev
	.venv/bin/mypy

fmt: dev
	.venv/bin/ruff format src tests bench scripts

bench-crypto: dev
	.venv/bin/python bench/bench_crypto.py

bench-seed: dev
	.venv/bin/python bench/bench_seed.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
