# leen-healthd — common tasks. `make demo` and `make test` are the two commands in the README.
SWIFT        ?= swift
PREFIX       ?= /usr/local
# Debian packages the test suite needs (installed by `make test` when missing and root).
TEST_DEBS    ?=
BENCH_DEBS   ?= wrk curl jq procps

.PHONY: all build release test demo sim bench-sim clean deps

all: build

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

deps:
	@./scripts/ensure-packages.sh $(TEST_DEBS)

# Installs what the tests need, builds, and runs every test (Swift Testing).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest

# The daemon against an embedded leen-sim with a lively fleet; every event is printed (Ctrl-C stops).
# DURATION=60 make demo stops by itself after 60 seconds.
demo:
	$(SWIFT) build --product leen-healthd
	$$($(SWIFT) build --show-bin-path)/leen-healthd demo $(if $(DURATION),--duration $(DURATION))

# leen-sim with a lively demo fleet on 127.0.0.1:8080 (key: leen-sim-key).
sim: build
	$(SWIFT) run leen-sim --organizations 3 --connections 24 --time-scale 1440 --seed 7

# Throughput of leen-sim's list endpoint with 100,000 connections (prints a table).
bench-sim:
	@./scripts/ensure-packages.sh $(BENCH_DEBS)
	./scripts/bench-sim.sh

clean:
	$(SWIFT) package clean
