# make bench: the benchmark table (bench/run.py) on a generated 1 GB Common-Crawl-shaped file;
# results go to docs/benchmarks.md. Installs what it needs, like the README commands.
# make bench-smoke: every benchmark script on a tiny input (tests/test_bench.py, about a
# minute; the test suite runs it too), writing nothing outside a temporary folder.
.PHONY: bench bench-smoke
bench:
	python3 -m pip install --quiet uv==0.13.8 && python3 -m uv run --frozen --extra bench --extra core --compile-bytecode python bench/run.py
bench-smoke:
	python3 -m pip install --quiet uv==0.13.8 && python3 -m uv run --frozen --extra test --extra bench --compile-bytecode pytest tests/test_bench.py
