# leen-healthd — common tasks. `make demo` and `make test` are the two commands in the README.
SWIFT        ?= swift
PREFIX       ?= /usr/local
# Debian packages the test suite needs (installed by `make test` when missing and root):
# libsystemd for the CSystemd module, systemd-journald and util-linux's unshare for the journal tests.
TEST_DEBS    ?= libsystemd-dev pkg-config systemd util-linux
BENCH_DEBS   ?= wrk curl jq procps

.PHONY: all build release test demo sim bench-sim clean deps

all: build

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

deps:
	@./scripts/ensure-packages.sh $(TEST_DEBS)

# Installs what the tests need, builds, and runs every test (Swift Testing). The journal end-to-end suite
# runs next to a private systemd-journald (scripts/with-journald.sh; root). Exit 77 there means "skipped"
# (not root, or no journald) and is only allowed outside CI: .ci/run sets LEEN_REQUIRE_REAL_PARTS=1.
E2E_SUITES = JournalEndToEnd|SystemdJournalTests
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest --skip '$(E2E_SUITES)'
	LEEN_HEALTHD_BIN=$$($(SWIFT) build --show-bin-path)/leen-healthd ./scripts/with-journald.sh \
	    $(SWIFT) test --skip-build --disable-xctest --filter '$(E2E_SUITES)' || [ $$? -eq 77 ]

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
