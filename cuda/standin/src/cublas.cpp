// cublas.cpp: the stand-in's libcublas.so.N, the ten cuBLAS v2 entry
// points gputrain's CUDA backend calls, on top of the stand-in driver. Built
// once per soname (libcublas.so.11, .12, .13 and libcublas.so), each with
// STANDIN_CUBLAS_VERSION as cublasGetVersion's answer.
//
// A GEMM is checked as cuBLAS checks its arguments (CUBLAS_STATUS_INVALID_VALUE
// for a negative size, an unknown transpose, a leading dimension too small,
// and for the strided-batched ones a negative batchCount),
// its matrices must lie in live device allocations, and it runs as a job on
// the handle's stream: at once, or recorded during stream capture and run by
// each replay. cublasSetStream resets the workspace to cuBLAS's own, as the
// real one does; a GEMM captured without a workspace of the caller's own
// would make cuBLAS allocate during the capture, so it is refused and the
// capture invalidated. The product is a plain column-major triple loop, so
// its rounding is not cuBLAS's.
// Each entry point counts towards GPUTRAIN_STANDIN_FAIL's injected fault
// (standin::injected).
#include "standin.h"

#include <cublas_v2.h>

#include <algorithm>
#include <set>
#include <string>

#ifndef STANDIN_CUBLAS_VERSION
#error "build with -DSTANDIN_CUBLAS_VERSION=NNNNNN (what cublasGetVersion returns)"
#endif

struct cublasContext {
	CUcontext ctx;
	CUstream stream = nullptr;
	CUdeviceptr workspace = 0; // 0: cuBLAS's own, which it allocates when it needs it
	size_t workspaceBytes = 0;
	cublasPointerMode_t mode = CUBLAS_POINTER_MODE_HOST;
};

namespace {

#define LOCK std::lock_guard<std::recursive_mutex> guard_(standin::lock())

std::set<cublasHandle_t> &handles() {
	static auto *h = new std::set<cublasHandle_t>;
	return *h;
}

cublasStatus_t live(const char *call, cublasHandle_t h) {
	if (!handles().count(h)) {
		standin::diag(call, "%s", h ? "not a live cuBLAS handle (destroyed already?)" : "null handle");
		return CUBLAS_STATUS_NOT_INITIALIZED;
	}
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t invalid(const char *call, const char *fmt, long long v) {
	char msg[256];
	snprintf(msg, sizeof msg, fmt, v);
	standin::diag(call, "%s: CUBLAS_STATUS_INVALID_VALUE", msg);
	return CUBLAS_STATUS_INVALID_VALUE;
}

// bytesOf is the extent of a column-major rows×cols matrix with leading
// dimension ld, in elements of size e.
size_t bytesOf(int rows, int cols, int ld, size_t e) {
	if (rows == 0 || cols == 0)
		return 0;
	return ((size_t)ld * (cols - 1) + rows) * e;
}

// span is the extent of batch matrices of extent bytes each, stride
// elements of size e apart.
size_t span(size_t bytes, long long stride, int batch, size_t e) {
	if (bytes == 0 || batch == 0)
		return 0;
	return (size_t)stride * (batch - 1) * e + bytes;
}

// gemm is cublas{S,D}gemm and, with batch > 0, cublas{S,D}gemmStridedBatched:
// batch products, matrix i of A, B and C at sA, sB and sC elements times i
// from the first.
template <class T>
cublasStatus_t gemm(const char *call, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
		    int k, const T *alpha, const T *A, int lda, long long sA, const T *B, int ldb, long long sB,
		    const T *beta, T *C, int ldc, long long sC, int batch) {
	LOCK;
	if (standin::injected(call))
		return CUBLAS_STATUS_EXECUTION_FAILED;
	if (cublasStatus_t st = live(call, h))
		return st;
	for (cublasOperation_t op : {ta, tb})
		if (op != CUBLAS_OP_N && op != CUBLAS_OP_T && op != CUBLAS_OP_C)
			return invalid(call, "transpose %lld is not CUBLAS_OP_N, _T or _C", op);
	if (m < 0)
		return invalid(call, "m = %lld < 0", m);
	if (n < 0)
		return invalid(call, "n = %lld < 0", n);
	if (k < 0)
		return invalid(call, "k = %lld < 0", k);
	const int rowsA = ta == CUBLAS_OP_N ? m : k, colsA = ta == CUBLAS_OP_N ? k : m;
	const int rowsB = tb == CUBLAS_OP_N ? k : n, colsB = tb == CUBLAS_OP_N ? n : k;
	if (lda < std::max(1, rowsA))
		return invalid(call, "lda = %lld, less than the rows of A as stored", lda);
	if (ldb < std::max(1, rowsB))
		return invalid(call, "ldb = %lld, less than the rows of B as stored", ldb);
	if (ldc < std::max(1, m))
		return invalid(call, "ldc = %lld < max(1, m)", ldc);
	if (!alpha || !beta)
		return invalid(call, "alpha or beta is null (%lld)", 0);
	if (batch < 0)
		return invalid(call, "batchCount = %lld < 0", batch);
	// cuBLAS leaves matrices of C that overlap undefined; the stand-in
	// refuses them, and negative strides, which it does not model.
	if (sA < 0 || sB < 0 || sC < 0)
		return invalid(call, "a negative stride (%lld): not modelled by the stand-in", std::min({sA, sB, sC}));
	if (batch > 1 && (size_t)sC * sizeof(T) < bytesOf(m, n, ldc, sizeof(T)))
		return invalid(call, "strideC = %lld: the matrices of C overlap, which cuBLAS leaves undefined", sC);
	if (m == 0 || n == 0 || batch == 0)
		return CUBLAS_STATUS_SUCCESS;
	const std::string name = call;
	const CUresult E = CUDA_ERROR_INVALID_VALUE;
	if (standin::current() != h->ctx) {
		standin::diag(call, "the handle was created in another context than the current one");
		return CUBLAS_STATUS_EXECUTION_FAILED;
	}
	const bool readAB = k > 0;
	if ((readAB && (standin::checkRange(name, "A", (CUdeviceptr)A, span(bytesOf(rowsA, colsA, lda, sizeof(T)), sA, batch, sizeof(T)), E) ||
			standin::checkRange(name, "B", (CUdeviceptr)B, span(bytesOf(rowsB, colsB, ldb, sizeof(T)), sB, batch, sizeof(T)), E))) ||
	    standin::checkRange(name, "C", (CUdeviceptr)C, span(bytesOf(m, n, ldc, sizeof(T)), sC, batch, sizeof(T)), E))
		return CUBLAS_STATUS_EXECUTION_FAILED;
	if (standin::checkStream(name, h->stream))
		return CUBLAS_STATUS_EXECUTION_FAILED;
	if (h->workspace && standin::checkRange(name, "the workspace (cublasSetWorkspace)", h->workspace, h->workspaceBytes, E))
		return CUBLAS_STATUS_EXECUTION_FAILED;
	if (standin::capturing(h->stream) && !h->workspace) {
		if (standin::prohibitedInCapture(name, "cuBLAS allocating its workspace (the handle has none of its own: "
						       "cublasSetStream resets it; call cublasSetWorkspace after it)"))
			return CUBLAS_STATUS_ALLOC_FAILED;
	}
	// Host pointer mode: alpha and beta are read now, and a captured graph
	// carries their values; device mode: read when the product runs.
	const bool device = h->mode == CUBLAS_POINTER_MODE_DEVICE;
	if (device && (standin::checkRange(name, "alpha (device pointer mode)", (CUdeviceptr)alpha, sizeof(T), E) ||
		       standin::checkRange(name, "beta (device pointer mode)", (CUdeviceptr)beta, sizeof(T), E)))
		return CUBLAS_STATUS_EXECUTION_FAILED;
	const T a0 = device ? T(0) : *alpha, b0 = device ? T(0) : *beta;
	const CUdeviceptr ws = h->workspace;
	const size_t wsBytes = h->workspaceBytes;
	CUresult r = standin::enqueue(h->stream, {name, [=](const std::string &c) {
		const CUresult X = CUDA_ERROR_ILLEGAL_ADDRESS;
		if (CUresult r = (readAB ? standin::checkRange(c, "A", (CUdeviceptr)A, span(bytesOf(rowsA, colsA, lda, sizeof(T)), sA, batch, sizeof(T)), X) : CUDA_SUCCESS))
			return r;
		if (CUresult r = (readAB ? standin::checkRange(c, "B", (CUdeviceptr)B, span(bytesOf(rowsB, colsB, ldb, sizeof(T)), sB, batch, sizeof(T)), X) : CUDA_SUCCESS))
			return r;
		if (CUresult r = standin::checkRange(c, "C", (CUdeviceptr)C, span(bytesOf(m, n, ldc, sizeof(T)), sC, batch, sizeof(T)), X))
			return r;
		if (CUresult r = ws ? standin::checkRange(c, "the workspace", ws, wsBytes, X) : CUDA_SUCCESS)
			return r;
		if (device) {
			if (CUresult r = standin::checkRange(c, "alpha", (CUdeviceptr)alpha, sizeof(T), X))
				return r;
			if (CUresult r = standin::checkRange(c, "beta", (CUdeviceptr)beta, sizeof(T), X))
				return r;
		}
		const T al = device ? *alpha : a0, be = device ? *beta : b0;
		for (int p = 0; p < batch; p++) {
			const T *Ap = A + p * sA, *Bp = B + p * sB;
			T *Cp = C + p * sC;
			for (int j = 0; j < n; j++)
				for (int i = 0; i < m; i++) {
					T s = 0;
					for (int l = 0; l < k; l++) {
						const T x = ta == CUBLAS_OP_N ? Ap[i + (size_t)l * lda] : Ap[l + (size_t)i * lda];
						const T y = tb == CUBLAS_OP_N ? Bp[l + (size_t)j * ldb] : Bp[j + (size_t)l * ldb];
						s += x * y;
					}
					T &out = Cp[i + (size_t)j * ldc];
					// beta == 0: C is not read, as BLAS specifies (it may hold NaN).
					out = be == T(0) ? al * s : al * s + be * out;
				}
		}
		return CUDA_SUCCESS;
	}});
	if (r == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED || r == CUDA_ERROR_STREAM_CAPTURE_IMPLICIT)
		return CUBLAS_STATUS_EXECUTION_FAILED;
	return r == CUDA_SUCCESS ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

} // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t *h) {
	if (standin::injected("cublasCreate_v2"))
		return CUBLAS_STATUS_ALLOC_FAILED;
	LOCK;
	if (!h)
		return CUBLAS_STATUS_INVALID_VALUE;
	CUcontext c = standin::current();
	if (!c) {
		standin::diag("cublasCreate_v2", "no current context");
		return CUBLAS_STATUS_NOT_INITIALIZED;
	}
	*h = new cublasContext{c};
	handles().insert(*h);
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
	if (standin::injected("cublasDestroy_v2"))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	LOCK;
	if (cublasStatus_t st = live("cublasDestroy_v2", h))
		return st;
	handles().erase(h);
	// The handle's memory is kept, so that a later use of it is caught.
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s) {
	if (standin::injected("cublasSetStream_v2"))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	LOCK;
	if (cublasStatus_t st = live("cublasSetStream_v2", h))
		return st;
	if (standin::checkStream("cublasSetStream_v2", (CUstream)s))
		return CUBLAS_STATUS_INVALID_VALUE;
	h->stream = (CUstream)s;
	// As cuBLAS does: a new stream drops the caller's workspace.
	h->workspace = 0;
	h->workspaceBytes = 0;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void *ws, size_t bytes) {
	if (standin::injected("cublasSetWorkspace_v2"))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	LOCK;
	if (cublasStatus_t st = live("cublasSetWorkspace_v2", h))
		return st;
	if (bytes && !ws)
		return invalid("cublasSetWorkspace_v2", "a null workspace of %lld bytes", (long long)bytes);
	if (bytes && standin::checkRange("cublasSetWorkspace_v2", "the workspace", (CUdeviceptr)ws, bytes,
					 CUDA_ERROR_INVALID_VALUE))
		return CUBLAS_STATUS_INVALID_VALUE;
	if ((uintptr_t)ws % 256)
		return invalid("cublasSetWorkspace_v2", "the workspace is not 256-byte aligned (address %% 256 = %lld)",
			       (long long)((uintptr_t)ws % 256));
	h->workspace = (CUdeviceptr)ws;
	h->workspaceBytes = bytes;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t h, cublasPointerMode_t mode) {
	if (standin::injected("cublasSetPointerMode_v2"))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	LOCK;
	if (cublasStatus_t st = live("cublasSetPointerMode_v2", h))
		return st;
	if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE)
		return invalid("cublasSetPointerMode_v2", "pointer mode %lld", mode);
	h->mode = mode;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion_v2(cublasHandle_t, int *v) {
	if (standin::injected("cublasGetVersion_v2"))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (!v)
		return CUBLAS_STATUS_INVALID_VALUE;
	*v = STANDIN_CUBLAS_VERSION;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
			      const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
			      float *C, int ldc) {
	return gemm("cublasSgemm_v2", h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

cublasStatus_t cublasDgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
			      const double *alpha, const double *A, int lda, const double *B, int ldb,
			      const double *beta, double *C, int ldc) {
	return gemm("cublasDgemm_v2", h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
					 int k, const float *alpha, const float *A, int lda, long long sA,
					 const float *B, int ldb, long long sB, const float *beta, float *C, int ldc,
					 long long sC, int batch) {
	return gemm("cublasSgemmStridedBatched", h, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC,
		    batch);
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
					 int k, const double *alpha, const double *A, int lda, long long sA,
					 const double *B, int ldb, long long sB, const double *beta, double *C, int ldc,
					 long long sC, int batch) {
	return gemm("cublasDgemmStridedBatched", h, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC,
		    batch);
}

// standin_blas_unsupported answers every cuBLAS call the stand-in does not
// implement (the generated stubs call it).
cublasStatus_t standin_blas_unsupported(const char *name) {
	standin::diag(name, "not implemented by the stand-in: CUBLAS_STATUS_NOT_SUPPORTED");
	return CUBLAS_STATUS_NOT_SUPPORTED;
}

} // extern "C"
