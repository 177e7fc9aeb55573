# leen-healthd — common tasks. `make demo` and `make test` are the two commands in the README.
SWIFT        ?= swift
PREFIX       ?= /usr/local
# Debian packages building needs (installed by every target that builds, when missing and root): the
# headers of the system libraries the C modules wrap (libsystemd for CSystemd, zlib for CZlib, OpenSSL's
# libcrypto for CCrypto), jemalloc, which the daemon links as its allocator, and pkg-config, which finds them.
BUILD_DEBS   ?= libsystemd-dev zlib1g-dev libssl-dev libjemalloc-dev libisal-dev pkg-config
# What only the tests need on top (installed by `make test`): systemd (journald, PID 1, systemd-analyze)
# and util-linux (unshare, nsenter, setpriv) for the journal and service tests; prometheus (server and promtool)
# for the metrics tests; curl for commands run inside the systemd namespace; openssl for the test certificates
# of the TLS tests.
TEST_DEBS    ?= systemd util-linux prometheus curl openssl
BENCH_DEBS   ?= wrk curl jq procps bc prometheus-blackbox-exporter gcc

.PHONY: all build release test demo sim bench bench-sim bench-sync bench-deflate bench-metrics bench-micro bench-daemon soak clean deps build-deps fuzz fuzz-build

all: build

build: build-deps
	$(SWIFT) build

# The executables only: a release build of every target would include the tests' support module, which
# imports the daemon's modules @testable (debug builds only).
release: build-deps
	for product in leen-healthd leen-sim leen-healthd-bench; do $(SWIFT) build -c release --product $$product || exit 1; done

build-deps:
	@./scripts/ensure-packages.sh $(BUILD_DEBS)

deps:
	@./scripts/ensure-packages.sh $(BUILD_DEBS) $(TEST_DEBS)

# Installs what the tests need, builds, and runs every test (Swift Testing), in three phases chosen by test
# target, so a new suite runs where its target says, with fuzzing between the first two:
#   1. every unit-test target, in parallel;
#   1b. fuzzing: the fuzz targets of Fuzz/ are built (.build-fuzz, instrumented) and each runs for
#      FUZZ_TEST_SECONDS from its committed seeds (Fuzz/Corpus); a crash or trap fails the run (see `fuzz`);
#   2. IntegrationTests (real systemd as PID 1 in namespaces, Prometheus, promtool, the built executables on
#      real time), one suite at a time so a loaded 2-core machine cannot starve them;
#   3. JournalTests next to a private systemd-journald (scripts/with-journald.sh; root). Exit 77 there means
#      "skipped" (not root, or no journald) and is only allowed outside CI: .ci/run sets LEEN_REQUIRE_REAL_PARTS=1.
# HostIsolationTests/wholePhase brackets phases 2 and 3 (LEEN_HOST_BASELINE): before, it records the host
# (sysctls, binfmt_misc, /var/log/journal, /dev, mounts, cgroups) and leaves marker files in /tmp and /var/tmp;
# after, it fails if any of that changed, and it runs even when a phase failed, so the markers go away.
REAL_PART_TARGETS = IntegrationTests|JournalTests
HOST_BASELINE = $(CURDIR)/.build/host-baseline.json
HOST_CHECK = LEEN_HOST_BASELINE=$(HOST_BASELINE) $(SWIFT) test --skip-build --disable-xctest \
    --filter '^IntegrationTests\.HostIsolationTests/wholePhase'
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest --skip '^($(REAL_PART_TARGETS))\.'
	$(FUZZ_BUILD)
	./scripts/fuzz.sh $(FUZZ_TEST_SECONDS) $(FUZZ_TARGETS)
	rm -f $(HOST_BASELINE)
	$(HOST_CHECK)
	status=0; bin=$$($(SWIFT) build --show-bin-path)/leen-healthd; \
	LEEN_HEALTHD_BIN=$$bin $(SWIFT) test --skip-build --disable-xctest --no-parallel \
	    --filter '^IntegrationTests\.' --skip 'HostIsolationTests/wholePhase' || status=$$?; \
	if [ $$status -eq 0 ]; then \
	    LEEN_HEALTHD_BIN=$$bin ./scripts/with-journald.sh \
	        $(SWIFT) test --skip-build --disable-xctest --no-parallel --filter '^JournalTests\.' || status=$$?; \
	    [ $$status -ne 77 ] || status=0; \
	fi; \
	$(HOST_CHECK) || status=1; \
	exit $$status

# Fuzzing (docs/reliability.md, "Fuzzing"): one libFuzzer executable per target in Fuzz/, a package of its own
# that depends on this one by path, so the build above never compiles it. It is built into .build-fuzz with
# -sanitize=fuzzer on every Swift module (coverage of the code under test, not only of the harness).
# `make fuzz` runs each target for FUZZ_SECONDS; FUZZ_TARGETS="config page" picks some. What it finds that is
# new is kept in .build-fuzz/corpus (copy the worthwhile inputs to Fuzz/Corpus by hand); crashes go to
# .build-fuzz/findings with the command that replays them.
# The manifest is touched first: SwiftPM does not look for source files added to a path dependency until its
# dependent's manifest changes, so a kept .build-fuzz would fail to find a new file of this package.
FUZZ_BUILD        = touch Fuzz/Package.swift && $(SWIFT) build --package-path Fuzz --scratch-path $(CURDIR)/.build-fuzz -Xswiftc -sanitize=fuzzer
FUZZ_SECONDS      ?= 300
FUZZ_TEST_SECONDS ?= 20
FUZZ_TARGETS      ?=

fuzz-build: build-deps
	$(FUZZ_BUILD)

fuzz: fuzz-build
	./scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The daemon against an embedded leen-sim with a lively fleet; every event is printed (Ctrl-C stops).
# DURATION=60 make demo stops by itself after 60 seconds. The first run builds first (see the README).
demo: build-deps
	$(SWIFT) build --product leen-healthd
	$$($(SWIFT) build --show-bin-path)/leen-healthd demo $(if $(DURATION),--duration $(DURATION))

# leen-sim with a lively demo fleet on 127.0.0.1:8080 (key: leen-sim-key).
sim: build
	$(SWIFT) run leen-sim --organizations 3 --connections 24 --time-scale 1440 --seed 7

# Throughput of leen-sim's list endpoint with 100,000 connections (prints a table).
bench-sim:
	@./scripts/ensure-packages.sh $(BUILD_DEBS) $(BENCH_DEBS)
	./scripts/bench-sim.sh

# What a commit's fdatasync costs on this disk: one per organization's log, or the shared change log synced
# once for several commits (prints a table; DIRECTORY=/var/lib/leen-healthd to measure the state's disk).
bench-sync:
	@./scripts/ensure-packages.sh gcc
	./scripts/bench-sync.sh $(DIRECTORY)

# What compressing the /metrics runs costs with igzip: a Huffman code per run (level 1) or one code made from
# a sample (level 0), on a synthetic fleet's scrape or FILE=… (prints a table).
bench-deflate: release
	@./scripts/ensure-packages.sh gcc curl
	./scripts/bench-deflate.sh $(FILE)

# The hot paths (decode a page, diff an organization, compare and encode its state) with ordo-one/benchmark:
# allocations, CPU and wall time (instructions too where the machine has a PMU). Its own package, Benchmarks/;
# the first run builds the framework (about 5 minutes on 2 cores).
bench-micro: build-deps
	cd Benchmarks && $(SWIFT) package benchmark --target HotPaths --no-progress

# /metrics: render time and bytes for 1k, 10k and 100k connections, then wrk with 8 concurrent scrapers.
bench-metrics:
	@./scripts/ensure-packages.sh $(BUILD_DEBS) $(BENCH_DEBS)
	./scripts/bench-metrics.sh

# The whole daemon at 1k, 10k and 100k connections (issue #12): CPU per connection-poll, API requests, memory,
# start and restart to READY, /metrics, the journal next to a C program's ceiling, blackbox_exporter on the
# same fleet. One table, written to docs/benchmarks.md as a dated section. SIZES="1000 10000" make bench for
# fewer sizes; scripts/bench.sh --help lists the settings. systemd and util-linux: the private journald.
bench:
	@./scripts/ensure-packages.sh $(BUILD_DEBS) $(BENCH_DEBS) systemd util-linux
	./scripts/bench.sh

# The daemon polling leen-sim with 100k connections while 8 scrapers hammer /metrics: polls on schedule?
bench-daemon:
	@./scripts/ensure-packages.sh $(BUILD_DEBS) $(BENCH_DEBS)
	./scripts/bench-daemon-scrape.sh

# 10k connections that keep changing and 50 scrapers for 10 minutes: RSS, fds and poll lag flat, no event
# lost (docs/reliability.md, "Soak"). MINUTES=2 CONNECTIONS=2000 make soak for a quick check.
soak:
	@./scripts/ensure-packages.sh $(BUILD_DEBS) $(BENCH_DEBS)
	./scripts/soak.sh

clean:
	$(SWIFT) package clean

# ---------------------------------------------------------------------------------------------------------
# Packaging (docs/operations.md): release binaries, manual pages, shell completions, install, Debian package.
#   make install                          PREFIX=/usr/local; run as root it also creates the user (sysusers)
#   make install DESTDIR=/tmp/stage PREFIX=/usr
#   make deb                              out/leen-healthd_<version>-<revision>_<arch>.deb, checked by lintian
.PHONY: release-static man completions install deb

VERSION       ?= $(shell sed -n 's/.*static let current = "\([^"]*\)".*/\1/p' Sources/Healthd/DaemonRunner.swift)
DESTDIR       ?=
BINDIR        ?= $(PREFIX)/bin
DATADIR       ?= $(PREFIX)/share
MANDIR        ?= $(DATADIR)/man
DOCDIR        ?= $(DATADIR)/doc/leen-healthd
SYSCONFDIR    ?= /etc
# systemd 252 reads units and sysusers.d from /usr/local/lib/systemd/system and /usr/local/lib/sysusers.d
# too (systemd-analyze unit-paths), but the journal catalog only from /usr/lib/systemd/catalog.
UNITDIR       ?= $(if $(filter /usr /usr/local,$(PREFIX)),$(PREFIX)/lib/systemd/system,/lib/systemd/system)
SYSUSERSDIR   ?= $(if $(filter /usr /usr/local,$(PREFIX)),$(PREFIX)/lib/sysusers.d,/usr/lib/sysusers.d)
CATALOGDIR    ?= /usr/lib/systemd/catalog
INSTALL_LICENSE ?= yes
OUT           ?= out
# The Swift runtime is linked into the binaries: where they run, only libc6, libstdc++6, libgcc-s1,
# libsystemd0, zlib1g, libssl3 (libcrypto) and, for leen-healthd, libjemalloc2 and libisal2 are needed
# (objdump -p | grep NEEDED).
# -z now: full RELRO (changing linker flags only relinks).
RELEASE_FLAGS ?= -c release --static-swift-stdlib -Xlinker -z -Xlinker now
RELEASE_BIN   ?= .build/release
MAN_DATE      ?= $(shell git log -1 --format=%cs 2>/dev/null || date -u +%F)
# Units, catalog and manual name /usr/bin/leen-healthd and /usr/share/doc/leen-healthd: rewritten for PREFIX.
PATH_SUBST     = s\#/usr/bin/leen-healthd\#$(BINDIR)/leen-healthd\#g; s\#/usr/share/doc/leen-healthd\#$(DOCDIR)\#g; s\#/usr/lib/systemd/system/leen-healthd\#$(UNITDIR)/leen-healthd\#g; s\#/usr/lib/sysusers.d/leen-healthd\#$(SYSUSERSDIR)/leen-healthd\#g

# Release binaries with the Swift runtime linked in (they need no Swift toolchain where they run).
release-static: build-deps
	$(SWIFT) build $(RELEASE_FLAGS) --product leen-healthd
	$(SWIFT) build $(RELEASE_FLAGS) --product leen-sim

# out/man: leen-healthd.1 is written by hand (packaging/man: commands, systemd integration, files, exit
# status); leen-sim.1 is generated from leen-sim's own help by swift-argument-parser's generate-manual tool
# (the tool its generate-manual plugin runs).
man: release-static
	@mkdir -p $(OUT)/man
	sed -e '$(PATH_SUBST)' packaging/man/leen-healthd.1 > $(OUT)/man/leen-healthd.1
	$(SWIFT) build --product generate-manual
	$$($(SWIFT) build --show-bin-path)/generate-manual $(RELEASE_BIN)/leen-sim --date $(MAN_DATE) \
	    --authors 'The leen-healthd authors' --output-directory $(OUT)/man

# out/completions: bash, zsh and fish completions of both commands, generated by swift-argument-parser
# (the bash script is sourced by bash-completion, so its #! line goes).
completions: release-static
	@mkdir -p $(OUT)/completions
	for tool in leen-healthd leen-sim; do \
	    $(RELEASE_BIN)/$$tool --generate-completion-script bash | sed '1{/^#!/d}' > $(OUT)/completions/$$tool.bash && \
	    $(RELEASE_BIN)/$$tool --generate-completion-script zsh > $(OUT)/completions/_$$tool && \
	    $(RELEASE_BIN)/$$tool --generate-completion-script fish > $(OUT)/completions/$$tool.fish || exit 1; \
	done

install: release-static man completions
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(CATALOGDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/bash-completion/completions \
	    $(DESTDIR)$(DATADIR)/zsh/vendor-completions $(DESTDIR)$(DATADIR)/fish/vendor_completions.d \
	    $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/leen-healthd
	install -m 0755 $(RELEASE_BIN)/leen-healthd $(RELEASE_BIN)/leen-sim $(DESTDIR)$(BINDIR)/
	for unit in leen-healthd.service leen-healthd@.service leen-healthd.socket; do \
	    sed -e '$(PATH_SUBST)' systemd/$$unit > $(DESTDIR)$(UNITDIR)/$$unit && chmod 0644 $(DESTDIR)$(UNITDIR)/$$unit || exit 1; \
	done
	install -m 0644 systemd/leen-healthd.sysusers $(DESTDIR)$(SYSUSERSDIR)/leen-healthd.conf
	sed -e '$(PATH_SUBST)' systemd/leen-healthd.catalog > $(DESTDIR)$(CATALOGDIR)/leen-healthd.catalog
	chmod 0644 $(DESTDIR)$(CATALOGDIR)/leen-healthd.catalog
	sed -e '$(PATH_SUBST)' packaging/man/leen-healthd.1 | gzip -9n > $(DESTDIR)$(MANDIR)/man1/leen-healthd.1.gz
	gzip -9n < $(OUT)/man/leen-sim.1 > $(DESTDIR)$(MANDIR)/man1/leen-sim.1.gz
	chmod 0644 $(DESTDIR)$(MANDIR)/man1/leen-healthd.1.gz $(DESTDIR)$(MANDIR)/man1/leen-sim.1.gz
	for tool in leen-healthd leen-sim; do \
	    install -m 0644 $(OUT)/completions/$$tool.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/$$tool && \
	    install -m 0644 $(OUT)/completions/_$$tool $(DESTDIR)$(DATADIR)/zsh/vendor-completions/_$$tool && \
	    install -m 0644 $(OUT)/completions/$$tool.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/$$tool.fish || exit 1; \
	done
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 packaging/leen-healthd.yaml $(DESTDIR)$(DOCDIR)/examples/leen-healthd.yaml
	for dir in prometheus grafana; do \
	    if [ -d packaging/$$dir ]; then \
	        install -d $(DESTDIR)$(DOCDIR)/$$dir && install -m 0644 packaging/$$dir/* $(DESTDIR)$(DOCDIR)/$$dir/ || exit 1; \
	    fi; \
	done
	if [ "$(INSTALL_LICENSE)" = yes ]; then install -m 0644 LICENSE $(DESTDIR)$(DOCDIR)/LICENSE; fi
	@# The example configuration, unless one is there already (never overwritten).
	if [ -e $(DESTDIR)$(SYSCONFDIR)/leen-healthd/leen-healthd.yaml ]; then \
	    echo "keeping the existing $(DESTDIR)$(SYSCONFDIR)/leen-healthd/leen-healthd.yaml"; \
	else \
	    install -m 0640 packaging/leen-healthd.yaml $(DESTDIR)$(SYSCONFDIR)/leen-healthd/leen-healthd.yaml; \
	fi
	@# Installing into the running system (no DESTDIR, as root): the user, the configuration's group,
	@# systemd and the catalog. The service is neither enabled nor started: it needs a configuration first.
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then \
	    systemd-sysusers $(SYSUSERSDIR)/leen-healthd.conf && \
	    if [ "$$(stat -c %G $(SYSCONFDIR)/leen-healthd/leen-healthd.yaml)" = root ]; then \
	        chgrp leen-healthd $(SYSCONFDIR)/leen-healthd/leen-healthd.yaml; fi && \
	    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi && \
	    journalctl --update-catalog; \
	fi

DEB_REVISION  ?= 1
DEB_VERSION    = $(VERSION)-$(DEB_REVISION)
DEB_ARCH      ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_STAGE      = $(OUT)/deb/leen-healthd
DEB_FILE       = $(OUT)/leen-healthd_$(DEB_VERSION)_$(DEB_ARCH).deb
LINTIAN_FLAGS ?= --fail-on error,warning --display-info

# The Debian package, from a staging `make install DESTDIR=… PREFIX=/usr`; then lintian, when installed.
# Depends is computed by dpkg-shlibdeps from the binaries' NEEDED libraries, plus systemd-sysusers (postinst).
deb: release-static man completions
	@v=$$(dpkg-parsechangelog -l packaging/debian/changelog -S Version); if [ "$$v" != "$(DEB_VERSION)" ]; then \
	    echo "packaging/debian/changelog ends at $$v, not $(DEB_VERSION): add an entry (dch)" >&2; exit 1; fi
	rm -rf $(DEB_STAGE)
	$(MAKE) --no-print-directory install -o release-static -o man -o completions \
	    DESTDIR=$(abspath $(DEB_STAGE)) PREFIX=/usr INSTALL_LICENSE=no
	strip --remove-section=.comment --remove-section=.note --strip-unneeded \
	    $(DEB_STAGE)/usr/bin/leen-healthd $(DEB_STAGE)/usr/bin/leen-sim
	@# Shipped 0644 as policy wants; the postinst makes it root:leen-healthd 0640.
	chmod 0644 $(DEB_STAGE)/etc/leen-healthd/leen-healthd.yaml
	install -D -m 0644 packaging/debian/leen-healthd.lintian-overrides \
	    $(DEB_STAGE)/usr/share/lintian/overrides/leen-healthd
	install -m 0644 packaging/debian/copyright $(DEB_STAGE)/usr/share/doc/leen-healthd/copyright
	gzip -9n < packaging/debian/changelog > $(DEB_STAGE)/usr/share/doc/leen-healthd/changelog.Debian.gz
	chmod 0644 $(DEB_STAGE)/usr/share/doc/leen-healthd/changelog.Debian.gz
	install -d -m 0755 $(DEB_STAGE)/DEBIAN
	install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm $(DEB_STAGE)/DEBIAN/
	echo /etc/leen-healthd/leen-healthd.yaml > $(DEB_STAGE)/DEBIAN/conffiles
	chmod 0644 $(DEB_STAGE)/DEBIAN/conffiles
	set -e; stage=$(abspath $(DEB_STAGE)); tmp=$$(mktemp -d); mkdir $$tmp/debian; \
	printf 'Source: leen-healthd\n\nPackage: leen-healthd\nArchitecture: any\n' > $$tmp/debian/control; \
	shlibs=$$(cd $$tmp && dpkg-shlibdeps -O -e$$stage/usr/bin/leen-healthd -e$$stage/usr/bin/leen-sim \
	    | sed -n 's/^shlibs:Depends=//p'); \
	rm -rf $$tmp; test -n "$$shlibs"; \
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' \
	    -e "s/@MAINTAINER@/$$(dpkg-parsechangelog -l packaging/debian/changelog -S Maintainer)/" \
	    -e "s/@INSTALLED_SIZE@/$$(du -sk --exclude=DEBIAN $$stage | cut -f1)/" \
	    -e "s/@DEPENDS@/$$shlibs, systemd | systemd-standalone-sysusers | systemd-sysusers/" \
	    packaging/debian/control.in > $$stage/DEBIAN/control; \
	(cd $$stage && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort | xargs md5sum) \
	    > $$stage/DEBIAN/md5sums; \
	chmod 0644 $$stage/DEBIAN/control $$stage/DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEB_STAGE) $(DEB_FILE)
	@dpkg-deb --info $(DEB_FILE) | sed -n '/Package:/,$$p'
	if command -v lintian >/dev/null; then lintian $(LINTIAN_FLAGS) $(DEB_FILE); \
	else echo "lintian is not installed (apt-get install lintian): the package is not checked"; fi
