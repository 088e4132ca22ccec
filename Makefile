# phoneprov: `make demo` (or `make run`) to see it work, `make test` to check it.
GO      ?= go
BIN     := bin/phoneprov
SIM     := bin/phonesim
RESULTS := bench-results

.PHONY: all build run demo test test-packages lint fuzz bench bench-packages bench-rollout dist clean

all: build

# What `phoneprov version` prints: the tag (or commit) and the commit, set
# at link time (main.version, main.commit).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/phoneprov
	$(GO) build -o $(SIM) ./cmd/phonesim

# The appliance on the sample tree in testdata/, on unprivileged ports, no root needed.
run: build
	./$(BIN) serve -c testdata/run.toml

# 50 simulated phones boot against phoneprov (DHCP + files) in a throwaway
# network-namespace lab, then the table of phones it saw. Root needed.
demo: build
	bash deploy/dev/install-test-packages.sh --demo
	bash deploy/lab/lab.sh --phones 50

test-packages:
	bash deploy/dev/install-test-packages.sh

# Most of the suite's wall time is waiting: lab tests in network
# namespaces wait for DHCP retries, HA heartbeats, TFTP retransmissions and
# browsers, not for the CPU. So more packages run at once (-p) than the
# machine has cores; packages made of such labs let more of their own tests
# run at once too (netlabtest.ParallelLabs in their TestMain).
TESTFLAGS ?= -p 4
test: test-packages lint
	$(GO) test -race -count=1 -timeout 15m $(TESTFLAGS) ./...

# Every fuzz target in the repository for FUZZTIME each, FUZZJOBS at once
# (deploy/dev/fuzz-all.sh says how).
FUZZTIME ?= 4s
fuzz:
	FUZZTIME=$(FUZZTIME) bash deploy/dev/fuzz-all.sh $(GO)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench-packages:
	bash deploy/dev/install-test-packages.sh --bench

# Side by side with the peers a user would pick instead; prints ratios and
# writes a Markdown report to $(RESULTS)/.
bench: build bench-packages
	$(GO) run ./cmd/phonebench -phoneprov $(BIN) -out $(RESULTS) -rounds 3 -duration 3s
	$(GO) run ./cmd/dhcpbench -phoneprov $(BIN) -out $(RESULTS)
	$(GO) run ./cmd/dhcpbench -pair -phoneprov $(BIN) -out $(RESULTS)
	$(GO) run ./cmd/phonebench -storm -phoneprov $(BIN) -phonesim $(SIM) -out $(RESULTS)
	$(MAKE) bench-rollout

# The roll-out lab at the issue's sizes (root): 500 phones in waves, the
# brake, a kill -9, and a 1,000-phone storm of a 20 MB image with a cap of
# 50 beside the uncapped one, one lab at a time. `make test` runs the same
# tests small, side by side.
bench-rollout:
	$(GO) test -count=1 -v -timeout 60m -parallel 1 -run 'TestLabRollout|TestLabDownloadCap' ./cmd/phonesim \
	  -args -rollout.phones 500 -storm.phones 1000 -storm.mb 20 -storm.cap 50

# Static binaries and .deb packages (amd64, arm64, armhf) in dist/; see deploy/dist.sh.
dist:
	bash deploy/dist.sh --out dist

clean:
	rm -rf bin .run $(RESULTS) dist
