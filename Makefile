# phoneprov: `make demo` (or `make run`) to see it work, `make test` to check it.
GO      ?= go
BIN     := bin/phoneprov
SIM     := bin/phonesim
RESULTS := bench-results

.PHONY: all build run demo test test-packages lint bench bench-packages dist clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/phoneprov
	$(GO) build -o $(SIM) ./cmd/phonesim

# The appliance on the sample tree in testdata/, on unprivileged ports, no root needed.
run: build
	./$(BIN) serve -c testdata/run.toml

# 50 simulated phones boot against phoneprov (DHCP + files) in a throwaway
# network-namespace lab, then the table of phones it saw. Root needed.
demo: build test-packages
	bash deploy/lab/lab.sh --phones 50

test-packages:
	bash deploy/dev/install-test-packages.sh

test: test-packages lint
	$(GO) test -race -count=1 -timeout 15m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench-packages:
	bash deploy/dev/install-test-packages.sh --bench

# Side by side with the peers a user would pick instead; prints ratios and
# writes a Markdown report to $(RESULTS)/.
bench: build bench-packages
	$(GO) run ./cmd/phonebench -phoneprov $(BIN) -out $(RESULTS)
	$(GO) run ./cmd/dhcpbench -phoneprov $(BIN) -out $(RESULTS)
	$(GO) run ./cmd/phonebench -storm -phoneprov $(BIN) -phonesim $(SIM) -out $(RESULTS)

# Static binaries and .deb packages (amd64, arm64, armhf) in dist/; see deploy/dist.sh.
dist:
	bash deploy/dist.sh --out dist

clean:
	rm -rf bin .run $(RESULTS) dist
