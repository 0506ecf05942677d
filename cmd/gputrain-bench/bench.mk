# The peer benchmarks, included by the top-level Makefile:
#
#   make bench       gputrain against its peers, then the cost curves (about 25 minutes on 2 cores)
#   make curves      the cost curves alone
#   make reproduce   the chapter's experiments, accuracy per epoch
#   make bench-conv  chapter 6's networks: an epoch of gputrain --layers vs PyTorch CPU
#   make reproduce-ch6  chapter 6's networks, network3's best-validation test accuracy
#
# Each rewrites its own section of BENCHMARKS.md. BENCH_FLAGS passes extra
# flags to `gputrain-bench peers` (e.g. --epochs gputrain=20 or --only gputrain,gomlx),
# CURVES_FLAGS and REPRODUCE_FLAGS to the other two. The Go peers are built
# into $(BIN) beside gputrain: the TapeMachine one from this module, the GoMLX
# one from its own (cmd/gputrain-bench/peers/gomlx, which fetches GoMLX
# through the Go module proxy the first time; where that fails, its rows are
# skipped and the table says why). On a machine with an NVIDIA GPU, bench
# builds the CUDA binary (cuda/cuda.mk's `make cuda`, $(CUDA_BIN)/gputrain-cuda)
# when it is missing; BENCH_CUDA names another.

GO            ?= go
BIN           ?= bin
PYTHON        ?= /usr/bin/python3
BENCH_FLAGS   ?=
CURVES_FLAGS  ?=
REPRODUCE_FLAGS ?=
SWEEP_FLAGS   ?=
CONV_FLAGS    ?=
CH6_FLAGS     ?=
BENCH_CUDA    ?= $(or $(CUDA_BIN),$(BIN))/gputrain-cuda

# The second table: a wide hidden layer at a large batch, where the work is
# in big matrix products and the peers' BLAS is at its best. GoMLX takes
# minutes an epoch there, so it is timed on 2,500 images and scaled.
BENCH_LARGE_PEERS  := gputrain,gputrain-cuda,batched-numpy,torch-autograd,torch-explicit,gomlx
BENCH_LARGE_EPOCHS := gputrain=3,gputrain-cuda=3,batched-numpy=3,torch-autograd=3,torch-explicit=3,gomlx=3
BENCH_LARGE_LIMITS := gomlx=2500

BENCH_DATA    := data/mnist
BENCH_COMMON  := --bin $(BIN) --python $(PYTHON) --data $(BENCH_DATA)

.PHONY: bench curves reproduce bench-sweep bench-conv reproduce-ch6 bench-build bench-data bench-deps bench-cuda

## bench: gputrain vs network.py, batched numpy, PyTorch, TapeMachine, GoMLX (and CUDA), then the curves, the sweep and (with gputrain --layers) bench-conv, into BENCHMARKS.md
bench: bench-build bench-data bench-deps bench-cuda
	$(BIN)/gputrain-bench peers $(BENCH_COMMON) --cuda-bin $(BENCH_CUDA) $(BENCH_FLAGS)
	$(BIN)/gputrain-bench peers $(BENCH_COMMON) --cuda-bin $(BENCH_CUDA) --section peers-large \
	  --sizes 784,1000,10 --batch-size 100 --dtypes float32 --only $(BENCH_LARGE_PEERS) --epochs $(BENCH_LARGE_EPOCHS) \
	  --limits $(BENCH_LARGE_LIMITS) $(BENCH_FLAGS)
	$(BIN)/gputrain-bench curves $(BENCH_COMMON) $(CURVES_FLAGS)
	$(BIN)/gputrain-bench sweep --bin $(BIN) --data $(BENCH_DATA) $(SWEEP_FLAGS)
	@if $(BIN)/gputrain train -h 2>&1 | grep -q -- -layers; then \
	  $(BIN)/gputrain-bench conv $(BENCH_COMMON) $(CONV_FLAGS); \
	else echo "bench: gputrain --layers not available (chapter 6's layers, issue 24): bench-conv skipped"; fi

## bench-conv: an epoch of chapter 6's shallow and ReLU networks at batch 10 and 100, gputrain train --layers against PyTorch CPU (oneDNN), into BENCHMARKS.md (about 10 minutes; gputrain's rows say why when --layers is missing)
bench-conv: bench-build bench-data bench-deps
	$(BIN)/gputrain-bench conv $(BENCH_COMMON) $(CONV_FLAGS)

## reproduce-ch6: chapter 6's shallow and ReLU networks at the book's 60 epochs, network3's best-validation test accuracy, into BENCHMARKS.md (hours on 2 cores; the other rows are the GPU kit's ch6 part; fails in one line without gputrain --layers)
reproduce-ch6: bench-build bench-data
	$(BIN)/gputrain-bench reproduce-ch6 $(BENCH_COMMON) $(CH6_FLAGS)

## bench-sweep: 16 book networks as one gputrain sweep against 16 gputrain train runs one after another and two at a time, and a 64-network sweep, into BENCHMARKS.md (about 5 minutes)
bench-sweep: bench-build bench-data
	$(BIN)/gputrain-bench sweep --bin $(BIN) --data $(BENCH_DATA) $(SWEEP_FLAGS)

## curves: seconds per epoch against hidden size and batch size, with the arithmetic floor, into BENCHMARKS.md and docs/*.png
curves: bench-build bench-data bench-deps
	$(BIN)/gputrain-bench curves $(BENCH_COMMON) $(CURVES_FLAGS)

## reproduce: chapter 1's runs ([784,30,10], [784,100,10], [784,10]) and chapter 3's three (cross-entropy, L2), 30 epochs each, beside the book's figures, into BENCHMARKS.md
reproduce: bench-build bench-data
	$(BIN)/gputrain-bench reproduce $(BENCH_COMMON) $(REPRODUCE_FLAGS)

bench-build:
	$(GO) build -o $(BIN)/gputrain ./cmd/gputrain
	$(GO) build -o $(BIN)/gputrain-bench ./cmd/gputrain-bench
	$(GO) build -o $(BIN)/gputrain-tapemachine ./cmd/gputrain-bench/peers/tapemachine
	@cd cmd/gputrain-bench/peers/gomlx && $(GO) build -o $(abspath $(BIN))/gputrain-gomlx . || \
	  { rm -f $(abspath $(BIN))/gputrain-gomlx; \
	    echo "bench: building the GoMLX peer failed (it needs GoMLX v0.26.0 from the Go module proxy); its rows will be skipped"; }

bench-data: bench-build
	$(BIN)/gputrain data --data $(BENCH_DATA)

# The CUDA row needs a GPU and a CUDA build; without either the table says
# why it is missing.
bench-cuda:
	@if nvidia-smi -L >/dev/null 2>&1 && [ ! -x $(BENCH_CUDA) ]; then \
	  $(MAKE) --no-print-directory cuda || echo "bench: building the CUDA binary failed; the CUDA row will be skipped"; \
	fi

# The Python peers need Debian's numpy and torch. Both call whichever
# libblas.so.3 Debian's alternatives provide; without an optimised one that
# is the unoptimised reference BLAS, which would make them look slower than
# they are, so OpenBLAS comes too. Nothing here fails the build: a peer
# whose module is missing is skipped, and the table says so.
bench-deps:
	@if $(PYTHON) -c 'import numpy, torch' 2>/dev/null && \
	    readlink -f /usr/lib/$$(uname -m)-linux-gnu/libblas.so.3 2>/dev/null | grep -q -e openblas -e blis; then \
	  echo "bench: found numpy and torch with an optimised BLAS in $(PYTHON)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "bench: installing python3-numpy, python3-torch and libopenblas0-pthread with apt-get"; \
	  { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      python3-numpy python3-torch libopenblas0-pthread >/dev/null; } || \
	    echo "bench: apt-get failed; the peers whose modules are missing will be skipped"; \
	else \
	  echo "bench: cannot install python3-numpy/python3-torch here (needs apt-get as root);"; \
	  echo "bench: the Python peers whose modules are missing will be skipped"; \
	fi
