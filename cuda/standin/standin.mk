# standin.mk: the CPU stand-in for the CUDA driver and cuBLAS (cuda/standin/),
# and the check that runs the CUDA build on it. Included by cuda/cuda.mk.
# Test-only: nothing here is linked into a product binary.
STANDIN     := $(CUDA_BIN)/standin
STANDIN_OBJ := $(STANDIN)/obj
STANDIN_SRC := cuda/standin/src
STANDIN_CXX ?= g++
STANDIN_CC  ?= gcc
STANDIN_CXXFLAGS := -std=c++17 -O2 -g -fPIC -Wall -Wextra $(if $(CUDA_INCLUDE),-I$(CUDA_INCLUDE))
# soname suffix : what cublasGetVersion answers (major*10000 + minor*100 + patch,
# as the real 11.8 (11.11.3), 12.4 (12.4.5) and 13.0 (13.0.0) libraries do).
STANDIN_BLAS := .11:111103 .12:120405 .13:130000 :120405

.PHONY: standin gpu-standin-check

## standin: bin/standin/: libcuda.so.1 and libcublas.so{.11,.12,.13,} that run the CUDA build on the CPU (tests only; gcc, no GPU)
standin: cuda-toolkit cuda
	@mkdir -p $(STANDIN_OBJ)
	$(CUDA_CGO_ENV) $(GO) test -tags gpu -c -cover -coverpkg=./cuda -o $(STANDIN)/cuda.test ./cuda/
	$(MAKE) --no-print-directory $(STANDIN_OBJ)/driver.o $(STANDIN_OBJ)/kernels.o $(STANDIN_OBJ)/cublas.o
	bash $(STANDIN_SRC)/gen-stubs.sh driver $(STANDIN_OBJ)/driver.o $(CUDA_BIN)/gputrain-cuda $(STANDIN)/cuda.test > $(STANDIN_OBJ)/driver-stubs.c
	bash $(STANDIN_SRC)/gen-stubs.sh blas $(STANDIN_OBJ)/cublas.o $(CUDA_BIN)/gputrain-cuda $(STANDIN)/cuda.test > $(STANDIN_OBJ)/blas-stubs.c
	$(STANDIN_CC) -O2 -fPIC -c -o $(STANDIN_OBJ)/driver-stubs.o $(STANDIN_OBJ)/driver-stubs.c
	$(STANDIN_CC) -O2 -fPIC -c -o $(STANDIN_OBJ)/blas-stubs.o $(STANDIN_OBJ)/blas-stubs.c
	$(STANDIN_CXX) -shared -Wl,-soname,libcuda.so.1 -Wl,--version-script=$(STANDIN_SRC)/libcuda.map -Wl,-z,defs \
	  -o $(STANDIN)/libcuda.so.1 $(STANDIN_OBJ)/driver.o $(STANDIN_OBJ)/kernels.o $(STANDIN_OBJ)/driver-stubs.o -lpthread
	@set -e; for b in $(STANDIN_BLAS); do \
	  so=libcublas.so$${b%%:*}; v=$${b##*:}; \
	  printf '%s {\n\tglobal: cublas*; standin_blas_unsupported;\n\tlocal: *;\n};\n' $$so > $(STANDIN_OBJ)/$$so.map; \
	  echo "$(STANDIN)/$$so (cublasGetVersion $$v)"; \
	  $(STANDIN_CXX) $(STANDIN_CXXFLAGS) -DSTANDIN_CUBLAS_VERSION=$$v -c -o $(STANDIN_OBJ)/cublas-$$v.o $(STANDIN_SRC)/cublas.cpp; \
	  $(STANDIN_CXX) -shared -Wl,-soname,$$so -Wl,--version-script=$(STANDIN_OBJ)/$$so.map -Wl,-z,defs \
	    -Wl,-rpath,'$$ORIGIN' -o $(STANDIN)/$$so $(STANDIN_OBJ)/cublas-$$v.o $(STANDIN_OBJ)/blas-stubs.o \
	    $(STANDIN)/libcuda.so.1 -lpthread; \
	done
	@echo "built $(STANDIN)/: run a CUDA binary on the CPU with LD_LIBRARY_PATH=$(STANDIN)"

$(STANDIN_OBJ)/driver.o: $(STANDIN_SRC)/driver.cpp $(STANDIN_SRC)/standin.h
	$(STANDIN_CXX) $(STANDIN_CXXFLAGS) -c -o $@ $<

$(STANDIN_OBJ)/kernels.o: $(STANDIN_SRC)/kernels.cpp $(STANDIN_SRC)/standin.h $(STANDIN_SRC)/opforms.h cuda/kernels.cu cuda/ops.h cuda/emu/cuda_emu.h
	$(STANDIN_CXX) $(STANDIN_CXXFLAGS) -c -o $@ $<

# cublas.o only tells gen-stubs.sh which cuBLAS names are implemented.
$(STANDIN_OBJ)/cublas.o: $(STANDIN_SRC)/cublas.cpp $(STANDIN_SRC)/standin.h
	$(STANDIN_CXX) $(STANDIN_CXXFLAGS) -DSTANDIN_CUBLAS_VERSION=0 -c -o $@ $<

## gpu-standin-check: the CUDA build end to end on the stand-in: the gpu-tagged tests with coverage of cuda/*_gpu.go (also with work deferred), the rules' tests, training, eval, predict, show and --monitor against the CPU build, cuBLAS in wheel trees, doctor's failures, the GPU kit (also with BUDGET=60 and with no device), gputrain --device cuda handing over (~4 min)
gpu-standin-check: standin build gpu-kit
	bash cuda/standin/check.sh
