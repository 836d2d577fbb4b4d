# govirtd — see README.md. `make help` lists the targets.
GO      ?= go
BIN     := bin
TESTFLAGS ?=
# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 20s
# How long `make soak` runs its frame fuzz (the other phases have fixed sizes).
SOAK_TIME ?= 8m
# staticcheck 2026.2.2 (module v0.8.2, released 2026-10-12; its go.mod
# wants Go 1.26). `make lint` runs it with `go run pkg@version`, which
# fetches it through the module proxy, leaves go.mod alone and caches the build.
STATICCHECK_VERSION := v0.8.2

# Where `make install` puts things (DESTDIR is prepended to each). The
# units in systemd/ name /usr/local/sbin/govirtd and
# /etc/govirtd/govirtd.conf; install writes them with these paths.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=
UNITS := govirtd.service govirtd.socket govirtd-ro.socket govirtd-admin.socket govirtd-tls.socket

.PHONY: all help build install run test deps vet fmt-check lint generate generate-check fuzz soak bench bench-quick bench-micro clean

# Same as build.
all: build

# Lists the targets, one line each.
help:
	@awk '/^# / && !doc { doc = substr($$0, 3) } /^[a-z][a-z-]*:/ { if (doc) printf "  make %-12s %s\n", substr($$1, 1, length($$1) - 1), doc } !/^# / { doc = "" }' $(MAKEFILE_LIST)

# Builds bin/govirtd and bin/govirsh.
build:
	$(GO) build -o $(BIN)/govirtd ./cmd/govirtd
	$(GO) build -o $(BIN)/govirsh ./cmd/govirsh

# Installs govirtd (SBINDIR), govirsh (BINDIR), the systemd units (UNITDIR) and, unless one exists, the default govirtd.conf; DESTDIR-aware.
install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/govirtd
	install -m 0755 $(BIN)/govirtd $(DESTDIR)$(SBINDIR)/govirtd
	install -m 0755 $(BIN)/govirsh $(DESTDIR)$(BINDIR)/govirsh
	for u in $(UNITS); do \
		sed -e 's|/usr/local/sbin/govirtd|$(SBINDIR)/govirtd|g' -e 's|/etc/govirtd/govirtd.conf|$(SYSCONFDIR)/govirtd/govirtd.conf|g' \
			systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u.tmp && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && mv $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/govirtd/govirtd.conf ]; then \
		echo "kept the existing $(DESTDIR)$(SYSCONFDIR)/govirtd/govirtd.conf"; \
	else \
		install -m 0644 daemon/govirtd.conf $(DESTDIR)$(SYSCONFDIR)/govirtd/govirtd.conf; \
	fi
	@[ -n "$(DESTDIR)" ] || echo "then: systemctl daemon-reload && systemctl enable --now govirtd.socket govirtd-ro.socket govirtd-admin.socket"

# Runs the daemon on the embedded default configuration.
run: build
	$(BIN)/govirtd

# Installs the Debian packages the tests need (virsh, qemu, libvirtd) when missing.
deps:
	./scripts/install-deps.sh

# Regenerates the protocol code from Debian's libvirt 9.0 source (fetched
# with apt-get source into a temporary directory); see protocol/README.md.
generate:
	$(GO) run ./cmd/protogen $(GENFLAGS)

# Fails when `make generate` would change a committed file.
generate-check: generate
	@git diff --exit-code --stat -- protocol vir drivers/ops.gen.go daemon/dispatch.gen.go daemon/admin_dispatch.gen.go remote/calls.gen.go || { echo "the generated files differ from what make generate writes"; exit 1; }

# go vet of every package.
vet:
	$(GO) vet ./...

# Fails when gofmt would change a committed Go file.
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Every test, with the race detector, after installing what they need
# and checking that the generated files are what make generate writes.
test: deps vet fmt-check generate-check
	$(GO) test -race -timeout 20m $(TESTFLAGS) ./...

# staticcheck (pinned, see STATICCHECK_VERSION) and `go mod tidy -diff`; both run, either fails it.
lint:
	@rc=0; \
	echo "staticcheck $(STATICCHECK_VERSION) ./..."; $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./... || rc=1; \
	echo "go mod tidy -diff"; $(GO) mod tidy -diff || rc=1; \
	exit $$rc

# A short run (FUZZTIME each, default 20s) of every fuzz target of the module, found by scripts/fuzz.sh.
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

# The reliability suite against the real daemon (about 10 minutes; SOAK_TIME=8m of frame fuzz): one line of figures per phase. See README.
soak: build
	./scripts/install-deps.sh
	$(GO) build -o $(BIN)/govirtd-soak ./soak
	SOAK_TIME=$(SOAK_TIME) $(BIN)/govirtd-soak -govirtd $(BIN)/govirtd $(SOAKFLAGS)

# govirtd against a private real libvirtd 9.0 (about 10 minutes; measure 9, the QEMU drivers, needs root): a table and bench/results/latest.json.
# Same client (go-libvirt) for both, alternating A B. Installs Debian's
# libvirt-daemon when missing. Not part of `make test`: the numbers depend
# on the machine's load.
bench:
	./scripts/install-deps.sh bench
	$(GO) build -o $(BIN)/govirtd ./cmd/govirtd
	$(GO) build -o $(BIN)/govirtd-bench ./bench
	$(BIN)/govirtd-bench -govirtd $(BIN)/govirtd $(BENCHFLAGS)

# The same with fewer, shorter rounds (about 30 seconds): bench/results/quick.json.
bench-quick:
	./scripts/install-deps.sh bench
	$(GO) build -o $(BIN)/govirtd ./cmd/govirtd
	$(GO) build -o $(BIN)/govirtd-bench ./bench
	$(BIN)/govirtd-bench -govirtd $(BIN)/govirtd -quick $(BENCHFLAGS)

# Go micro-benchmarks of our own hot paths, no libvirtd needed.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHFLAGS) ./protocol ./rpc ./daemon ./drivers/...

# Removes bin/.
clean:
	rm -rf $(BIN)
