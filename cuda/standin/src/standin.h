// standin.h: what the stand-in's libcuda.so.1 offers its libcublas.so.N and
// its kernel table (kernels.cpp), beyond the driver API itself.
//
// The stand-in is a CPU implementation of the part of the CUDA driver API
// and cuBLAS that gputrain's CUDA backend calls, built only for tests (make
// standin): it runs the unchanged bin/gputrain-cuda and the gpu-tagged test
// binary on a machine without a GPU, and enforces CUDA's rules on every call,
// printing one "standin: CALL: ..." line on stderr for each rule broken and
// returning the error the real driver returns.
//
// What it cannot show (README.md, "Training on an NVIDIA GPU"): real
// asynchrony (work runs at once, in the calling thread, or is recorded
// during stream capture and replayed by cuGraphLaunch;
// GPUTRAIN_STANDIN_ASYNC=1 defers it to the next synchronisation, one of the
// orders a GPU may take); races between blocks
// or streams (blocks run one after another); the PTX itself, which never
// executes (kernels.cu runs, compiled by g++ through cuda/emu/cuda_emu.h;
// ptxas checks the PTX in make ptx-check); rounding as nvcc's fma
// contractions and cuBLAS's summation order do it; speed. It checks the
// contract between the Go code and the driver, not the GPU.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace standin {

// A job is work on a stream: run at once (or at the stream's next
// synchronisation, GPUTRAIN_STANDIN_ASYNC=1), or recorded during capture and
// run by every replay of the graph. call names the API call that issued it, for
// diagnostics; run gets it (with " replayed by cuGraphLaunch" appended on a
// replay) and returns the error the work would raise.
struct Job {
	std::string call;
	std::function<CUresult(const std::string &call)> run;
};

// lock guards all of the stand-in's state: every entry point takes it, and
// work runs under it, so calls from several threads are serialised.
std::recursive_mutex &lock();

// diag prints one "standin: CALL: message" line on stderr.
void diag(const std::string &call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// checkRange reports (and returns err) unless [p, p+bytes) lies inside one
// live device allocation: use after free, a pointer past the end, host
// memory passed as device memory. what names the argument.
CUresult checkRange(const std::string &call, const std::string &what, CUdeviceptr p, size_t bytes, CUresult err);

// current is the calling thread's current context, or null.
CUcontext current();

// checkStream is CUDA_SUCCESS when s is the null stream, or a live stream of
// the current context; otherwise it reports and returns the error.
CUresult checkStream(const std::string &call, CUstream s);

// enqueue runs job on s now (or defers it, GPUTRAIN_STANDIN_ASYNC=1), or
// records it while s is being captured. The stream must have passed
// checkStream.
CUresult enqueue(CUstream s, Job job);

// capturing reports whether s is being captured (an invalidated capture
// counts: work on it is refused).
bool capturing(CUstream s);

// prohibitedInCapture is CUDA_SUCCESS unless the calling thread may not make
// a call that would allocate, free or synchronise now (a capture in global
// mode, or in thread-local mode begun by this thread, is in progress); then
// it reports, invalidates those captures and returns
// CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, as the driver does.
CUresult prohibitedInCapture(const std::string &call, const std::string &what);

// injected reports whether the fault GPUTRAIN_STANDIN_FAIL=TAG:K sets falls
// on this call, which must then return its error without doing its work.
// Every driver and cuBLAS entry point the stand-in implements asks once, on
// entry, with its own name (helpers shared by entry points ask for them), so
// the K-th API call the program makes, counted from when the variable last
// changed value (it is read on every call), fails, once per value. The
// stand-in's calls to itself are not counted, nor cuGetErrorName and
// cuGetErrorString, which never fail, nor the generated stubs. When it fires
// it prints one "standin: CALL: ..." line and, with
// GPUTRAIN_STANDIN_FAIL_REPORT=PATH, appends "TAG K CALL" to PATH. A value
// that is not TAG:K (K >= 1) is said once and injects nothing. The error
// returned, one the documentation gives for the call:
//
//   allocations and creations: cuMemAlloc_v2, cuMemAllocHost_v2,
//     cuMemHostAlloc, cuStreamCreate, cuGraphInstantiate*  CUDA_ERROR_OUT_OF_MEMORY
//   launches and synchronisation: cuLaunchKernel, cuGraphLaunch,
//     cuStreamSynchronize, cuCtxSynchronize (an earlier
//     launch's failure, as the driver reports it)          CUDA_ERROR_LAUNCH_FAILED
//   contexts: cuDevicePrimaryCtxRetain/Release, cuCtxCreate,
//     cuCtxDestroy, cuCtxSet/GetCurrent, cuCtxPush/PopCurrent CUDA_ERROR_INVALID_CONTEXT
//   cuModuleLoadData, cuModuleLoadDataEx (the JIT error log
//     says the fault was injected)                         CUDA_ERROR_INVALID_PTX
//   cuModuleGetFunction                                    CUDA_ERROR_NOT_FOUND
//   every other driver call: cuInit, device and function
//     queries, copies, memsets, frees, destroys, unloads,
//     capture begin, end and status                        CUDA_ERROR_INVALID_VALUE
//   cublasCreate_v2                                        CUBLAS_STATUS_ALLOC_FAILED
//   cublasSgemm_v2, cublasDgemm_v2                         CUBLAS_STATUS_EXECUTION_FAILED
//   cublasDestroy_v2, cublasSetStream_v2,
//     cublasSetWorkspace_v2, cublasSetPointerMode_v2,
//     cublasGetVersion_v2                                  CUBLAS_STATUS_NOT_INITIALIZED
//
// A free refused this way (cuMemFree_v2, cuMemFreeHost) leaves the memory
// allocated, as a failed free does; its context's destruction frees it
// without reporting it as a leak, since the program could not have freed it.
bool injected(const char *call);

// A kernel of kernels.cu, as kernels.cpp compiles it for the host.
struct Kernel {
	const char *name;
	std::vector<size_t> params; // the C++ parameter sizes, in order
	// check validates the arguments (args[i] points at parameter i) against
	// the live allocations, reporting under call; run runs the grid.
	std::function<CUresult(const std::string &call, void *const *args)> check;
	std::function<void(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, void *const *args)> run;
};

// kernels lists every kernel kernels.cpp compiled.
const std::vector<Kernel> &kernels();

} // namespace standin
