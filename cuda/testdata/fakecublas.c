/* A file that loads as libcublas.so.N for the tests of how the CUDA
 * backend finds cuBLAS: it exports the cuBLAS v2 entry points the backend
 * binds, and cublasGetVersion_v2 reports FAKE_VERSION so a test can tell
 * which file was loaded. It computes nothing: the library search is all it
 * stands in for. FAKE_CREATE_STATUS makes cublasCreate_v2 fail with that
 * status, as a cuBLAS too new for the driver does. */
#ifndef FAKE_CREATE_STATUS
#define FAKE_CREATE_STATUS 0
#endif
#ifdef FAKE_LT
/* libcublasLt: nothing the backend calls, and no cuBLAS name that would
 * stand before another library's once loaded RTLD_GLOBAL. */
int fake_cublaslt_loaded = 1;
#else
typedef struct fake *cublasHandle_t;
static struct fake { int unused; } handle;

int cublasCreate_v2(cublasHandle_t *h) { *h = &handle; return FAKE_CREATE_STATUS; }
int cublasDestroy_v2(cublasHandle_t h) { (void)h; return 0; }
int cublasGetVersion_v2(cublasHandle_t h, int *v) { (void)h; *v = FAKE_VERSION; return 0; }
int cublasSetStream_v2(void) { return 0; }
int cublasSetWorkspace_v2(void) { return 0; }
int cublasSetPointerMode_v2(void) { return 0; }
int cublasSgemm_v2(void) { return 0; }
#ifndef FAKE_NO_DGEMM
int cublasDgemm_v2(void) { return 0; }
#endif
int cublasSgemmStridedBatched(void) { return 0; }
int cublasDgemmStridedBatched(void) { return 0; }
#endif
