# make bench: the benchmark table (bench/run.py) on a generated 1 GB Common-Crawl-shaped file
# (results go to docs/benchmarks.md), then the proof of shape (make bench-scale). Installs
# what it needs, like the README commands.
# make bench-scale: the aggregation's cost per row, bytes read, largest task and task count
# as the input grows 1x, 4x, 16x (bench/scale.py: SCALE_ROWS link rows at 1x, generated
# parts of SCALE_SHAPE; the default reaches 50 M link rows at 16x: about 25 minutes and 9 GB
# of disk; SCALE_ROWS=400000 takes five minutes), then what a task costs in Prefect and Dask
# over OVERHEAD_PARTS one-page files (local threads, local processes, Dask), then the plan
# and what a task pays for it over PLAN_PARTS copies of one part (PLAN_ROWS link rows) of
# 1,500 partitions.
# Printed as markdown tables; docs/scale.md holds the figures and what they say.
# make bench-smoke: every benchmark script on a tiny input (tests/test_bench.py, about a
# minute; the test suite runs it too), writing nothing outside a temporary folder.
.PHONY: bench bench-scale bench-smoke
UV_RUN = python3 -m pip install --quiet uv==0.13.8 && python3 -m uv run --frozen --compile-bytecode
SCALE_ROWS ?= 3125000
SCALE_SHAPE ?= stress
OVERHEAD_PARTS ?= 1000
PLAN_PARTS ?= 1000 4000 16000
PLAN_ROWS ?= 1000000
bench:
	$(UV_RUN) --extra bench --extra core python bench/run.py
	$(MAKE) bench-scale
bench-scale:
	$(UV_RUN) --extra bench --extra core python bench/scale.py --rows $(SCALE_ROWS) --factors 1 4 16 --shape $(SCALE_SHAPE)
	$(UV_RUN) --extra bench --extra core python bench/scale.py --overhead-parts $(OVERHEAD_PARTS)
	$(UV_RUN) --extra bench --extra core python bench/scale.py --plan-parts $(PLAN_PARTS) --partitions 1500 --shape crawl --rows $(PLAN_ROWS)
bench-smoke:
	$(UV_RUN) --extra test --extra bench pytest tests/test_bench.py
