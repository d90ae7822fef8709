# make bench: the benchmark table (bench/run.py) on a generated 1 GB Common-Crawl-shaped file;
# results go to docs/benchmarks.md. Installs what it needs, like the README commands.
.PHONY: bench
bench:
	python3 -m pip install --quiet uv==0.13.8 && python3 -m uv run --frozen --extra bench python bench/run.py
