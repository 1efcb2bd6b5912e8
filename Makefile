# fstream developer tasks. "make" alone lists them.

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
FUZZTIME ?= 10s
BIN      := bin/fstream
DIST     := dist
# The platforms "make release" builds for: GOOS/GOARCH.
PLATFORMS := linux/amd64 linux/arm64 windows/amd64 darwin/arm64 darwin/amd64
LDFLAGS  := -s -w -X main.version=$(VERSION)
# golangci-lint is pinned and built into bin/ on first use (go install).
LINT_VERSION := v2.15.0
LINT         := bin/golangci-lint-$(LINT_VERSION)

.DEFAULT_GOAL := help
.PHONY: help build run test bench fuzz soak lint release clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-7s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/fstream (static, version stamped from git)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/fstream

run: build ## build, then serve on :61920 with ./users (more flags: ARGS='--http 127.0.0.1:61921')
	./$(BIN) serve --listen :61920 --users ./users $(ARGS)

test: ## go vet, then every test with the race detector
	go vet ./...
	go test -race -count=1 -timeout 9m ./...

bench: ## Go benchmarks, then the performance suite; any FAIL fails (about 4 minutes)
	go test -run='^$$' -bench=. -benchmem -benchtime=200ms ./internal/...
	@$(MAKE) --no-print-directory build
	CGO_ENABLED=0 go build -trimpath -o bin/fstream-suite ./internal/bench/cmd/suite
	./bin/fstream-suite --strict --fstream $(BIN)

SOAK ?= 5m
soak: ## churn clients against a real server for SOAK (default 5m); fails if it leaks; then a 60 s recording
	FSTREAM_SOAK=$(SOAK) go test -race -count=1 -run '^TestSoak$$' -v -timeout 3h ./e2e/
	FSTREAM_SOAK=$(SOAK) go test -race -count=1 -run '^TestSoakRecord$$' -v -timeout 10m ./internal/record/

fuzz: ## run every fuzz target for FUZZTIME (default 10s) each
	@set -e; for pkg in $$(go list ./...); do \
		for target in $$(go test -list '^Fuzz' "$$pkg" | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target for $(FUZZTIME)"; \
			go test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s "$$pkg"; \
		done; \
	done

lint: $(LINT) ## gofmt, go vet, golangci-lint (with the package layers in .golangci.yml)
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(LINT) run ./...

$(LINT):
	@mkdir -p bin
	GOBIN=$(CURDIR)/bin/lint-tmp go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VERSION)
	mv bin/lint-tmp/golangci-lint $(LINT) && rm -rf bin/lint-tmp

.PHONY: web
web: ## vendor mpegts.js (pinned version, sha512 checked) for the HTTP player
	bash internal/httpapi/web/vendor/update.sh

release: ## static binaries for every platform in dist/, version stamped, with SHA256SUMS
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ "$$os" = windows ] && ext=.exe; \
		out=$(DIST)/fstream-$(VERSION)-$$os-$$arch$$ext; \
		echo "build $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "$(LDFLAGS)" -o $$out ./cmd/fstream; \
	done
	@cd $(DIST) && if command -v sha256sum >/dev/null; then sha256sum fstream-*; else shasum -a 256 fstream-*; fi > SHA256SUMS
	@echo "$(DIST)/SHA256SUMS"; cat $(DIST)/SHA256SUMS

clean: ## remove build output
	rm -rf bin $(DIST)
