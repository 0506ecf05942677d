# cuda.mk: the CUDA build, the PTX, the GPU tests and benchmarks, and the
# container. Included by the top-level Makefile; `make help` lists these
# with the rest. Everything but gpu-check and gpu-bench runs without a GPU.
GO ?= go
CUDA_BIN ?= bin
# CUDA_PATH is where a CUDA toolkit lives outside the system directories
# (NVIDIA's installers and images use /usr/local/cuda; Debian's packages
# put the headers in /usr/include and the libraries in the multiarch dir).
CUDA_PATH ?= /usr/local/cuda

# The first directory holding cuda.h.
CUDA_INCLUDE_DIRS := $(CUDA_PATH)/include /usr/include $(filter-out $(CUDA_PATH)/include,/usr/local/cuda/include)
CUDA_INCLUDE := $(firstword $(foreach d,$(CUDA_INCLUDE_DIRS),$(if $(wildcard $(d)/cuda.h),$(d))))
# cgo finds the system directories by itself; gorgonia.org/cu and this
# package also search /usr/local/cuda. For any other CUDA_PATH, say where
# its headers, libraries and the libcuda link stub are.
CUDA_CGO_ENV := CGO_ENABLED=1
ifneq ($(filter-out /usr/include /usr/local/cuda/include,$(CUDA_INCLUDE)),)
CUDA_CGO_ENV += CGO_CFLAGS="-O2 -g -I$(CUDA_INCLUDE)" CGO_LDFLAGS="-O2 -g -L$(CUDA_PATH)/lib64 -L$(CUDA_PATH)/lib64/stubs"
endif

.PHONY: cuda cuda-toolkit ptx ptx-check cuda-vet gpu-check gpu-bench gpu-kit docker docker-lint install

# cuda-toolkit fails, saying how to get one, when no CUDA headers are found.
cuda-toolkit:
	@if [ -z "$(CUDA_INCLUDE)" ]; then \
	  echo "make cuda: no cuda.h in any of $(CUDA_INCLUDE_DIRS)."; \
	  echo "  Debian bookworm: enable the non-free component (add 'contrib non-free non-free-firmware' to"; \
	  echo "  Components: in /etc/apt/sources.list.d/debian.sources), then"; \
	  echo "    sudo apt-get update && sudo apt-get install nvidia-cuda-toolkit"; \
	  echo "  Elsewhere: install NVIDIA's CUDA toolkit and set CUDA_PATH, or build the container:"; \
	  echo "    make docker   (docker build -f docker/cuda.Dockerfile -t gputrain:cuda .)"; \
	  exit 1; \
	fi

## cuda: the CUDA binary, bin/gputrain-cuda (needs the CUDA toolkit; runs only where the NVIDIA driver is)
cuda: cuda-toolkit
	$(CUDA_CGO_ENV) $(GO) build -ldflags '$(VCS_LDFLAGS)' -tags gpu -o $(CUDA_BIN)/gputrain-cuda ./cmd/gputrain
	@echo "built $(CUDA_BIN)/gputrain-cuda (CUDA: kernels.ptx for compute_60, cuBLAS 11.8+ loaded at run time, headers from $(CUDA_INCLUDE)); train with: $(CUDA_BIN)/gputrain-cuda train --device cuda"

PREFIX ?= /usr/local

## install: gputrain into $(PREFIX)/bin (default /usr/local), and beside it gputrain-cuda where the CUDA toolkit is, which gputrain --device cuda then runs
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BIN)/gputrain $(DESTDIR)$(PREFIX)/bin/gputrain
	@if [ -n "$(CUDA_INCLUDE)" ]; then \
	  $(MAKE) --no-print-directory cuda && install -m 755 $(CUDA_BIN)/gputrain-cuda $(DESTDIR)$(PREFIX)/bin/gputrain-cuda && \
	  echo "installed $(DESTDIR)$(PREFIX)/bin/gputrain and gputrain-cuda: run gputrain doctor, then gputrain --device cuda"; \
	else \
	  echo "installed $(DESTDIR)$(PREFIX)/bin/gputrain (CPU only: no CUDA toolkit here for gputrain-cuda; make cuda-toolkit says how to get one)"; \
	fi

## ptx: regenerate cuda/kernels.ptx from cuda/kernels.cu (nvcc -ptx -arch=compute_60)
ptx:
	$(GO) generate ./cuda/

## ptx-check: the committed PTX matches kernels.cu, and ptxas takes it for sm_70, sm_80, sm_90
ptx-check:
	bash cuda/check-ptx.sh

## cuda-vet: go vet with -tags gpu, and the GPU tests compile (no GPU needed)
cuda-vet: cuda-toolkit
	$(CUDA_CGO_ENV) $(GO) vet -tags gpu ./...
	$(CUDA_CGO_ENV) $(GO) test -tags gpu -c -o /dev/null ./cuda/
	@echo "cuda-vet: ok: go vet -tags gpu ./... and the gpu-tagged tests of ./cuda/ compile"

## gpu-check: the GPU tests (CUDA vs CPU over 100 steps, graph replays vs launches, accuracy, cuBLAS lookup, divergence, out of memory); needs a GPU
gpu-check: cuda-toolkit
	GPUTRAIN_DATA=$${GPUTRAIN_DATA:-$(CURDIR)/data/mnist} $(CUDA_CGO_ENV) $(GO) test -count=1 -tags gpu -run GPU -v ./cuda/

## gpu-bench: epoch and SGEMM benchmarks on the GPU (3 iterations each)
gpu-bench: cuda-toolkit
	GPUTRAIN_DATA=$${GPUTRAIN_DATA:-$(CURDIR)/data/mnist} $(CUDA_CGO_ENV) $(GO) test -tags gpu -run '^$$' -bench . -benchtime 3x ./cuda/

## docker: the CUDA container, gputrain:cuda, both builds (run: docker run --gpus all --entrypoint gputrain-cuda gputrain:cuda doctor, then docker run --gpus all gputrain:cuda --device cuda); arm64: docker buildx build --platform linux/arm64 -f docker/cuda.Dockerfile .
docker:
	docker build -f docker/cuda.Dockerfile -t gputrain:cuda .

## docker-lint: hadolint docker/cuda.Dockerfile, where hadolint is installed
docker-lint:
	@if command -v hadolint >/dev/null 2>&1; then \
	  hadolint docker/cuda.Dockerfile && echo "docker-lint: ok: hadolint docker/cuda.Dockerfile"; \
	else \
	  echo "docker-lint: skipped: hadolint is not installed (Debian does not package it; the PyPI wheels and npm's wrapper, which downloads from GitHub, are out of reach here)."; \
	  echo "  Get the static binary from https://github.com/hadolint/hadolint/releases, or run"; \
	  echo "    docker run --rm -i hadolint/hadolint < docker/cuda.Dockerfile"; \
	fi

KIT ?= build/gpu-kit
KIT_MAX_MIB ?= 60

## gpu-kit: build/gpu-kit, the first GPU run prepared: copy it to any x86-64 NVIDIA machine, run [BUDGET=480] build/gpu-kit/run.sh OUTDIR (preflight in 10 s, each part time-limited, report.md rewritten after each)
gpu-kit: cuda-toolkit
	rm -rf $(KIT)
	mkdir -p $(KIT)/mnist $(KIT)/peers $(KIT)/testdata
	$(CUDA_CGO_ENV) $(GO) build -tags gpu -trimpath -ldflags='-s -w' -o $(KIT)/gputrain-cuda ./cmd/gputrain
	$(CUDA_CGO_ENV) $(GO) test -tags gpu -c -trimpath -ldflags='-s -w' -o $(KIT)/cuda.test ./cuda/
	gzip -9 $(KIT)/gputrain-cuda $(KIT)/cuda.test
	$(GO) run ./cmd/gputrain data --data $(CURDIR)/data/mnist >/dev/null
	cp data/mnist/*.gz $(KIT)/mnist/
	cp cmd/gputrain-bench/peers/peerlib.py cmd/gputrain-bench/peers/torch_sgd.py cmd/gputrain-bench/peers/torch_cuda.py cmd/gputrain-bench/peers/torch_ensemble.py $(KIT)/peers/
	cp cuda/testdata/* $(KIT)/testdata/
	cp cuda/kit/run.sh cuda/kit/report.py cuda/kernels.ptx $(KIT)/
	@size=$$(du -sm $(KIT) | cut -f1); \
	  if [ $$size -gt $(KIT_MAX_MIB) ]; then echo "gpu-kit: $(KIT) is $$size MiB, over $(KIT_MAX_MIB) MiB"; exit 1; fi; \
	  echo "built $(KIT) ($$size MiB): copy it to a machine with an NVIDIA GPU and run $(KIT)/run.sh OUTDIR"

-include cuda/standin/standin.mk
