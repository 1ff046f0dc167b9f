# The two commands a newcomer needs: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray

.PHONY: demo test test-ray lint serve clean system-deps bench bench-ray

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Ray (and PyTorch, for the TorchScript test) are optional extras: only `make test-ray` and
# `make bench-ray` install them.
$(RAY_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,ray-tests]'
	touch $(RAY_STAMP)

demo: $(STAMP)
	$(BIN)/shadowserve demo

# The tests start throwaway PostgreSQL servers, drive the dashboard in Chromium and run the
# benchmark harness briefly (wrk, nginx);
# install Debian's packages when they are missing.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	command -v nginx >/dev/null 2>&1 || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

# Two processes: most tests wait on servers and workers, so two share the 2 cores of CI well
# (9m50s → 7m20s here); a test file stays in one process, so its fixtures are made once.
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests --ignore=tests/on_ray

# --runtime ray against a throwaway one-node Ray cluster on loopback (about 2 minutes).
test-ray: $(RAY_STAMP) system-deps
	$(BIN)/python -m pytest -q tests/on_ray

# Benchmarks and the soak run (not part of `make test`): about 27 minutes, loopback only;
# see docs/benchmarks.md and docs/reliability.md. `bench.run --shared` repeats the shadow
# isolation cells with nothing pinned (one box everything shares); `bench.ab_gateways`
# runs the gateway as #16 found it (d5add74, from git) beside this tree's, side by side.
bench: $(STAMP) system-deps
	timeout 720 $(BIN)/python -m bench.run --out bench/results
	timeout 480 $(BIN)/python -m bench.run --shared --out bench/results
	timeout 600 $(BIN)/python -m bench.ab_gateways --against d5add74 --out bench/results
	timeout 180 $(BIN)/python -m bench.shedding --out bench/results
	timeout 300 $(BIN)/python -m bench.shadow_priority --out bench/results
	timeout 210 $(BIN)/python -m bench.soak --out bench/results
	timeout 120 $(BIN)/python -m bench.route_propagation --out bench/results
	timeout 180 $(BIN)/python -m bench.cluster_capacity --out bench/results

# The Ray runtime against local workers: placement time and the data path's latency.
bench-ray: $(RAY_STAMP) system-deps
	timeout 300 $(BIN)/python -m bench.ray_runtime --out bench/results

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

serve: $(STAMP)
	$(BIN)/shadowserve serve

clean:
	rm -rf $(VENV) .shadowserve .pytest_cache .mypy_cache .ruff_cache
