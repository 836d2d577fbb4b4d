# govirtd — see README.md.
GO      ?= go
BIN     := bin
TESTFLAGS ?=

.PHONY: all build run test deps vet fmt-check unit fuzz bench bench-quick bench-micro clean

all: build

build:
	$(GO) build -o $(BIN)/govirtd ./cmd/govirtd
	$(GO) build -o $(BIN)/govirsh ./cmd/govirsh

# Runs the daemon on the embedded default configuration.
run: build
	$(BIN)/govirtd

# Installs the Debian packages the tests need (virsh, qemu, libvirtd) when missing.
deps:
	./scripts/install-deps.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Every test, with the race detector, after installing what they need.
test: deps vet fmt-check
	$(GO) test -race -timeout 20m $(TESTFLAGS) ./...

# A short run of every fuzz target.
fuzz:
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime 20s
	$(GO) test ./rpc -run '^$$' -fuzz '^FuzzReadFrame$$' -fuzztime 20s

# Side by side with a private real libvirtd 9.0, same client (go-libvirt),
# alternating A B: prints a table and writes bench/results/latest.json
# (about four minutes). Installs Debian's libvirt-daemon when missing.
# Not part of `make test`: the numbers depend on the machine's load.
bench:
	./scripts/install-deps.sh bench
	$(GO) build -o $(BIN)/govirtd ./cmd/govirtd
	$(GO) build -o $(BIN)/govirtd-bench ./bench
	$(BIN)/govirtd-bench -govirtd $(BIN)/govirtd $(BENCHFLAGS)

# The same with fewer, shorter rounds (under a minute): bench/results/quick.json.
bench-quick:
	./scripts/install-deps.sh bench
	$(GO) build -o $(BIN)/govirtd ./cmd/govirtd
	$(GO) build -o $(BIN)/govirtd-bench ./bench
	$(BIN)/govirtd-bench -govirtd $(BIN)/govirtd -quick $(BENCHFLAGS)

# Go micro-benchmarks of our own hot paths, no libvirtd needed.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHFLAGS) ./protocol ./rpc ./daemon ./drivers/...

clean:
	rm -rf $(BIN)
