# gputrain: build, test and benchmark. `make help` lists the targets.
GO      ?= go
GOFLAGS ?=
BIN     := bin

.PHONY: all build test test-short check check-all fuzz train help clean arm64-check bench-compare

all: build

# The git revision, given to the linker: go build's own VCS stamping is
# off where GOFLAGS holds -buildvcs=false (go env -w), and does not see a
# git worktree; `gputrain version` prints these when it has no stamp of
# its own. Empty outside a git checkout.
VCS_LDFLAGS = $(shell git rev-parse --verify -q HEAD >/dev/null 2>&1 && \
  echo "-X main.vcsRevision=$$(git rev-parse HEAD)" \
       "-X main.vcsTime=$$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ)" \
       "-X main.vcsModified=$$(test -z "$$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo false || echo true)")

## build: the CPU binary, bin/gputrain (pure Go, no cgo), with the git revision `gputrain version` prints
build:
	$(GO) build -ldflags '$(VCS_LDFLAGS)' -o $(BIN)/gputrain ./cmd/gputrain
	@echo "built $(BIN)/gputrain (CPU; 'make cuda' for the GPU build)"

## test: every test, the real-data ones included (fetches MNIST once into $GPUTRAIN_DATA or the user's cache); offline once go mod download has run; minutes on 2 cores (TESTING.md)
# Measured on a fresh clone, 2 cores shared with other jobs (load 11–17):
# 3m31s with the build cache warm, 14m17s cold; cmd/gputrain-bench and
# cmd/gputrain (about 3 minutes each there) are the longest packages.
# go vet runs once, in check; go test's own vet pass would repeat it. The
# packages run TEST_P at a time: more than the cores, since several tests
# wait on g++, python or the network part of the time.
# go test's default limit of 10 minutes a package is too tight for
# cmd/gputrain on a loaded two-core machine: 30.
TEST_P ?= 4
test: check
	@echo "test: go test -p $(TEST_P) ./... with MNIST in \$$GPUTRAIN_DATA or the user's cache (fetched if missing); one line per package"
	@start=$$(date +%s); \
	  $(GO) test -count=1 -vet=off -timeout 30m -p $(TEST_P) ./...; rc=$$?; \
	  echo "test: go test took $$(($$(date +%s) - start))s"; exit $$rc

## test-short: the tests that need no network or data
test-short:
	$(GO) test -short ./...

## check: gofmt, go vet (also GOARCH=arm64 for cpu/'s NEON assembly); offline once go mod download has run
check:
	@echo "check: gofmt -l"
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@echo "check: go vet ./..., and GOARCH=arm64 go vet ./cpu/ (the NEON assembly)"
	@$(GO) vet ./...
	@GOARCH=arm64 $(GO) vet ./cpu/

## check-all: check, cpu/'s kernels are what their generator writes, go.mod and go.sum tidy in all three modules (needs the module proxy the first time: the dependencies' test modules, the side modules'); CI runs it
# go mod tidy looks at the tests of every dependency, whose modules go mod
# download does not fetch; the side modules (the GoMLX peer, the avo
# generator) require gputrain, so its new dependencies go into their
# go.sum too. Kept out of check (and so of make test), which must run
# offline.
check-all: check
	@echo "check-all: asmgen -check (cpu/'s kernels are what their generator writes)"
	@cd cpu/internal/asmgen && $(GO) vet . && $(GO) run . -check ../.. # avo, a module of its own (go generate ./cpu/... rewrites them)
	@echo "check-all: go mod tidy -diff in ., cpu/internal/asmgen and cmd/gputrain-bench/peers/gomlx"
	@for m in . cpu/internal/asmgen cmd/gputrain-bench/peers/gomlx; do \
	  (cd $$m && $(GO) mod tidy -diff) || { echo "check-all: $$m: go.mod or go.sum is not tidy: run go mod tidy there"; exit 1; }; \
	done

## fuzz: each fuzz target for FUZZTIME (default 10s)
# Go minimises each new interesting input for up to a minute by default,
# running no new inputs meanwhile: a 10 s run of FuzzUnmarshalModel spent
# most of its time stalled on one 28 KB model. A second per input keeps
# the fuzzers fuzzing (4–15× the executions here).
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" as -fuzztime runs out, writing no failing input (a
# race at the deadline, go.dev/issue/75804, fixed in Go 1.27; CI hit it
# under load). That one failure, with nothing new in testdata/fuzz, is
# reported and passed over; any other failure, or a failing input, fails.
FUZZTIME ?= 10s
FUZZMINIMIZETIME ?= 1s
fuzz:
	@for spec in $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go') | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' $$spec/*_test.go | cut -d' ' -f2); do \
	    echo "fuzz $$spec $$f ($(FUZZTIME))"; \
	    before=$$(ls $$spec/testdata/fuzz/$$f 2>/dev/null | wc -l); \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./$$spec 2>&1); rc=$$?; \
	    echo "$$out"; \
	    after=$$(ls $$spec/testdata/fuzz/$$f 2>/dev/null | wc -l); \
	    if [ $$rc -ne 0 ]; then \
	      if [ "$$after" = "$$before" ] && echo "$$out" | grep -qx '    context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
	        echo "fuzz: $$f: Go's race at the -fuzztime deadline (go.dev/issue/75804), no failing input written: passed over"; \
	      else exit 1; fi; \
	    fi; \
	  done; \
	done

## train: the book's run, [784,30,10] for 30 epochs at batch 10 and eta 3.0
train: build
	./$(BIN)/gputrain train

## bench-cpu: Go benchmarks of the CPU backend: whole epochs, then the training step's matrix products in GFLOP/s
bench-cpu:
	$(GO) test -run '^$$' -bench Epoch -benchtime 5x ./cpu/
	$(GO) test -run '^$$' -bench GEMM -benchtime 1s ./cpu/

## bench-compare BASE=rev: BenchmarkEpoch of this tree against git revision BASE, run alternately COUNT (10) times, compared by benchstat
bench-compare:
	GPUTRAIN_DATA=$(CURDIR)/data/mnist bash cpu/bench-compare.sh $(BASE) $(or $(COUNT),10)

## arm64-check: cpu/'s tests and the book's first epoch for linux/arm64 under qemu-user (NEON kernels; the count must equal amd64's), and builds for darwin/arm64, windows/amd64, linux/ppc64le and linux/386
arm64-check:
	GPUTRAIN_DATA=$(CURDIR)/data/mnist bash .ci/arm64.sh

clean:
	rm -rf $(BIN)

help:
	@grep -h '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

# The CUDA build, PTX and container targets, and the peer benchmarks.
-include cuda/cuda.mk
-include cmd/gputrain-bench/bench.mk
