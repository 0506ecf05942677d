//go:build gpu

package cuda

// cuBLAS, opened with dlopen when the backend first needs it (see
// cublas.go for where it is looked for). The headers give the types; no
// cuBLAS symbol is linked, so `readelf -d bin/gputrain-cuda` lists no
// libcublas.

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE // dladdr
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <cuda.h>
#include <cublas_v2.h>

typedef cublasStatus_t (*gtCreate_t)(cublasHandle_t *);
typedef cublasStatus_t (*gtDestroy_t)(cublasHandle_t);
typedef cublasStatus_t (*gtSetStream_t)(cublasHandle_t, cudaStream_t);
typedef cublasStatus_t (*gtSetWorkspace_t)(cublasHandle_t, void *, size_t);
typedef cublasStatus_t (*gtSetPointerMode_t)(cublasHandle_t, cublasPointerMode_t);
typedef cublasStatus_t (*gtGetVersion_t)(cublasHandle_t, int *);
typedef cublasStatus_t (*gtSgemm_t)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
	const float *, const float *, int, const float *, int, const float *, float *, int);
typedef cublasStatus_t (*gtDgemm_t)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
	const double *, const double *, int, const double *, int, const double *, double *, int);
typedef cublasStatus_t (*gtSgemmSB_t)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
	const float *, const float *, int, long long, const float *, int, long long, const float *, float *, int, long long, int);
typedef cublasStatus_t (*gtDgemmSB_t)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
	const double *, const double *, int, long long, const double *, int, long long, const double *, double *, int, long long, int);

typedef struct {
	void *lib;
	gtCreate_t create;
	gtDestroy_t destroy;
	gtSetStream_t setStream;
	gtSetWorkspace_t setWorkspace;
	gtSetPointerMode_t setPointerMode;
	gtGetVersion_t getVersion;
	gtSgemm_t sgemm;
	gtDgemm_t dgemm;
	gtSgemmSB_t sgemmSB;
	gtDgemmSB_t dgemmSB;
} gtBlasLib;

// gtBlas is the library the backend uses, loaded once.
gtBlasLib gtBlas;

// gtBlasOpen loads path and binds the entry points, or returns why not
// (a string owned by the dynamic linker or static, never to be freed).
// The wheel's and toolkit's libcublas.so.N need libcublasLt.so.N, which
// their RUNPATH may not find when the folder is not on the search path:
// load it from the same folder first.
static const char *gtBlasOpen(gtBlasLib *L, const char *path, const char *ltPath) {
	if (ltPath) dlopen(ltPath, RTLD_NOW | RTLD_GLOBAL); // best effort: dlopen(path) says what is missing
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return dlerror();
#define BIND(field, sym) \
	if (!(*(void **)&L->field = dlsym(lib, sym))) { dlclose(lib); return "lacks " sym; }
	BIND(create, "cublasCreate_v2");
	BIND(destroy, "cublasDestroy_v2");
	BIND(setStream, "cublasSetStream_v2");
	BIND(setWorkspace, "cublasSetWorkspace_v2");
	BIND(setPointerMode, "cublasSetPointerMode_v2");
	BIND(getVersion, "cublasGetVersion_v2");
	BIND(sgemm, "cublasSgemm_v2");
	BIND(dgemm, "cublasDgemm_v2");
	BIND(sgemmSB, "cublasSgemmStridedBatched");
	BIND(dgemmSB, "cublasDgemmStridedBatched");
#undef BIND
	L->lib = lib;
	return 0;
}

// gtBlasPath is the file a library was loaded from.
static const char *gtBlasPath(gtBlasLib *L) {
	static char buf[4096];
	Dl_info info;
	if (!L->lib || !dladdr(*(void **)&L->create, &info) || !info.dli_fname) return "";
	strncpy(buf, info.dli_fname, sizeof buf - 1);
	return buf;
}

// gtBlasVersion asks a library for its version through a handle of its
// own: cublasGetVersion's number, or minus the status that failed.
static int gtBlasVersion(gtBlasLib *L) {
	cublasHandle_t h;
	int v = 0;
	cublasStatus_t st = L->create(&h);
	if (st != CUBLAS_STATUS_SUCCESS) return -(int)st;
	st = L->getVersion(h, &v);
	L->destroy(h);
	return st == CUBLAS_STATUS_SUCCESS ? v : -(int)st;
}

static void gtBlasClose(gtBlasLib *L) {
	if (L->lib) dlclose(L->lib);
	L->lib = 0;
}

static cublasStatus_t gtBlasCreate(cublasHandle_t *h, CUstream s, CUdeviceptr ws, size_t wsBytes, int *version) {
	cublasStatus_t st = gtBlas.create(h);
	if (st != CUBLAS_STATUS_SUCCESS) return st;
	if ((st = gtBlas.getVersion(*h, version)) != CUBLAS_STATUS_SUCCESS) return st;
	// Host pointer mode: alpha and beta are read at the call, so a captured
	// graph carries them by value.
	if ((st = gtBlas.setPointerMode(*h, CUBLAS_POINTER_MODE_HOST)) != CUBLAS_STATUS_SUCCESS) return st;
	if ((st = gtBlas.setStream(*h, (cudaStream_t)s)) != CUBLAS_STATUS_SUCCESS) return st;
	// A workspace of our own, set after the stream (cublasSetStream resets
	// it), keeps cuBLAS from allocating while a step is being captured.
	return gtBlas.setWorkspace(*h, (void *)ws, wsBytes);
}

static cublasStatus_t gtBlasDestroy(cublasHandle_t h) { return gtBlas.destroy(h); }

static cublasStatus_t gtSgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha,
	CUdeviceptr a, int lda, CUdeviceptr b, int ldb, float beta, CUdeviceptr c, int ldc) {
	return gtBlas.sgemm(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
		&alpha, (const float *)a, lda, (const float *)b, ldb, &beta, (float *)c, ldc);
}

static cublasStatus_t gtDgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, double alpha,
	CUdeviceptr a, int lda, CUdeviceptr b, int ldb, double beta, CUdeviceptr c, int ldc) {
	return gtBlas.dgemm(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
		&alpha, (const double *)a, lda, (const double *)b, ldb, &beta, (double *)c, ldc);
}

// gtSgemmSB and gtDgemmSB are the strided-batched products of a sweep's
// group: batch products, the i-th of each matrix i·stride elements on.
static cublasStatus_t gtSgemmSB(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha,
	CUdeviceptr a, int lda, long long sa, CUdeviceptr b, int ldb, long long sb, float beta, CUdeviceptr c, int ldc,
	long long sc, int batch) {
	return gtBlas.sgemmSB(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
		&alpha, (const float *)a, lda, sa, (const float *)b, ldb, sb, &beta, (float *)c, ldc, sc, batch);
}

static cublasStatus_t gtDgemmSB(cublasHandle_t h, int ta, int tb, int m, int n, int k, double alpha,
	CUdeviceptr a, int lda, long long sa, CUdeviceptr b, int ldb, long long sb, double beta, CUdeviceptr c, int ldc,
	long long sc, int batch) {
	return gtBlas.dgemmSB(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
		&alpha, (const double *)a, lda, sa, (const double *)b, ldb, sb, &beta, (double *)c, ldc, sc, batch);
}

*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/graph"
)

// cublasLib is the library the backend uses, found once it loads: dlopen's
// handle lives as long as the process. A search that found none is tried
// again at the next Open (a context may have been missing, or the
// library's cublasCreate may fail only for a while).
var cublasLib struct {
	mu    sync.Mutex
	found *cublasFound
}

// cublasFound is the outcome of a search that loaded a library.
type cublasFound struct {
	path    string   // the file loaded
	version int      // cublasGetVersion's number
	passed  []string // the libraries passed over before it, each with why
}

// loadCuBLAS finds and loads cuBLAS on first use. The caller's thread must
// have a current context: each candidate must create a handle.
func loadCuBLAS() (*cublasFound, error) {
	cublasLib.mu.Lock()
	defer cublasLib.mu.Unlock()
	if cublasLib.found != nil {
		return cublasLib.found, nil
	}
	f, err := findCuBLAS(&C.gtBlas, os.Getenv)
	if err != nil {
		return nil, err
	}
	cublasLib.found = f
	return f, nil
}

// findCuBLAS loads into lib the first of cublasCandidates that loads, has
// every entry point and creates a handle (so a current context is needed),
// and says which file it came from and what was passed over on the way.
func findCuBLAS(lib *C.gtBlasLib, getenv func(string) string) (*cublasFound, error) {
	var failures []string
	for _, c := range cublasCandidates(getenv, filepath.Glob) {
		var lt *C.char
		if dir := filepath.Dir(c); dir != "." {
			ltPath := filepath.Join(dir, strings.Replace(filepath.Base(c), "libcublas", "libcublasLt", 1))
			if _, err := os.Stat(ltPath); err == nil {
				lt = C.CString(ltPath)
			}
		}
		cs := C.CString(c)
		why := C.gtBlasOpen(lib, cs, lt)
		C.free(unsafe.Pointer(cs))
		if lt != nil {
			C.free(unsafe.Pointer(lt))
		}
		if why != nil {
			// A name that is not there is the common case: say only what
			// was there but would not load, or what the user named.
			msg := C.GoString(why)
			if getenv(envCuBLAS) != "" || !strings.Contains(msg, "cannot open shared object file") {
				failures = append(failures, c+": "+msg)
			}
			continue
		}
		path := C.GoString(C.gtBlasPath(lib))
		if path == "" {
			path = c
		}
		// A library that loads but cannot start (a cuBLAS too new for the
		// driver, say) is passed over for the next.
		v := libVersion(lib)
		if v >= 0 {
			return &cublasFound{path: path, version: v, passed: failures}, nil
		}
		failures = append(failures, fmt.Sprintf("%s: cublasCreate_v2 or cublasGetVersion_v2 failed: %v", path, blasError(-v)))
		closeBLASLib(lib)
	}
	return nil, errors.New(cublasMissing(getenv, filepath.Glob, failures))
}

// Describe says what CUDA support this binary has, for --version: the
// driver, the first device and the cuBLAS library Open would use.
func Describe() string {
	d := "CUDA driver " + driverVersion()
	dev, err := cu.GetDevice(0)
	if err != nil {
		return d + "; no device 0: " + describe(err).Error()
	}
	if name, err := dev.Name(); err == nil {
		d += ", device 0: " + name
	}
	// cuBLAS needs a current context for a handle, as Open provides.
	release, err := primaryContext(dev)
	if err != nil {
		return d + "; " + err.Error()
	}
	defer release()
	f, err := loadCuBLAS()
	if err != nil {
		return d + "; " + strings.TrimPrefix(err.Error(), "cuda: ")
	}
	return d + ", cuBLAS " + blasVersion(f.version) + " from " + f.path
}

// primaryContext retains dev's primary context and makes it current on
// this thread, which stays locked to the goroutine until release.
func primaryContext(dev cu.Device) (release func(), err error) {
	runtime.LockOSThread()
	ctx, err := dev.RetainPrimaryCtx()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("retaining the primary context: %w", describe(err))
	}
	release = func() {
		dev.ReleasePrimaryCtx()
		cu.SetCurrentContext(cu.CUContext{})
		runtime.UnlockOSThread()
	}
	if err := cu.SetCurrentContext(ctx); err != nil {
		release()
		return nil, fmt.Errorf("making the primary context current: %w", describe(err))
	}
	return release, nil
}

// gtBlasLib is a loaded cuBLAS (the tests load libraries of their own).
type gtBlasLib = C.gtBlasLib

func libVersion(lib *gtBlasLib) int { return int(C.gtBlasVersion(lib)) }

func closeBLASLib(lib *gtBlasLib) { C.gtBlasClose(lib) }

// blas is a cuBLAS handle bound to one stream and workspace.
type blas struct {
	h       C.cublasHandle_t
	dt      graph.Dtype
	version int // cublasGetVersion's number
	path    string
}

func newBLAS(s cu.Stream, workspace cu.DevicePtr, bytes int64, dt graph.Dtype) (*blas, error) {
	f, err := loadCuBLAS()
	if err != nil {
		return nil, err
	}
	path := f.path
	b := &blas{dt: dt, path: path}
	var v C.int
	if err := blasCheck(C.gtBlasCreate(&b.h, C.CUstream(unsafe.Pointer(s.C())), C.CUdeviceptr(workspace), C.size_t(bytes), &v)); err != nil {
		if b.h != nil {
			C.gtBlasDestroy(b.h)
		}
		return nil, fmt.Errorf("cuda: creating the cuBLAS handle (%s): %w", path, err)
	}
	b.version = int(v)
	return b, nil
}

// versionString reads cublasGetVersion's major·10000 + minor·100 + patch.
func (b *blas) versionString() string { return blasVersion(b.version) }

func blasVersion(v int) string { return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100) }

func (b *blas) close() error {
	if b == nil || b.h == nil {
		return nil
	}
	err := blasCheck(C.gtBlasDestroy(b.h))
	b.h = nil
	return err
}

// gemm issues one planned product on the handle's stream; ptr gives each
// buffer's device address.
func (b *blas) gemm(g *gemmCall, ptr func(int) cu.DevicePtr) error {
	ta, tb := transFlags(g)
	a, bb, c := C.CUdeviceptr(ptr(g.First)), C.CUdeviceptr(ptr(g.Second)), C.CUdeviceptr(ptr(g.Dst))
	if b.dt == graph.Float64 {
		return blasCheck(C.gtDgemm(b.h, ta, tb, C.int(g.M), C.int(g.N), C.int(g.K), C.double(g.Alpha),
			a, C.int(g.LdA), bb, C.int(g.LdB), C.double(g.Beta), c, C.int(g.LdC)))
	}
	return blasCheck(C.gtSgemm(b.h, ta, tb, C.int(g.M), C.int(g.N), C.int(g.K), C.float(g.Alpha),
		a, C.int(g.LdA), bb, C.int(g.LdB), C.float(g.Beta), c, C.int(g.LdC)))
}

// gemmBatched issues one planned product for batch networks at once, a
// strided-batched cuBLAS call: network i's matrices lie stride(id)·i
// elements past the first network's, ptr(id).
func (b *blas) gemmBatched(g *gemmCall, ptr func(int) cu.DevicePtr, stride func(int) int64, batch int) error {
	ta, tb := transFlags(g)
	a, bb, c := C.CUdeviceptr(ptr(g.First)), C.CUdeviceptr(ptr(g.Second)), C.CUdeviceptr(ptr(g.Dst))
	sa, sb, sc := C.longlong(stride(g.First)), C.longlong(stride(g.Second)), C.longlong(stride(g.Dst))
	if b.dt == graph.Float64 {
		return blasCheck(C.gtDgemmSB(b.h, ta, tb, C.int(g.M), C.int(g.N), C.int(g.K), C.double(g.Alpha),
			a, C.int(g.LdA), sa, bb, C.int(g.LdB), sb, C.double(g.Beta), c, C.int(g.LdC), sc, C.int(batch)))
	}
	return blasCheck(C.gtSgemmSB(b.h, ta, tb, C.int(g.M), C.int(g.N), C.int(g.K), C.float(g.Alpha),
		a, C.int(g.LdA), sa, bb, C.int(g.LdB), sb, C.float(g.Beta), c, C.int(g.LdC), sc, C.int(batch)))
}

// transFlags are g's transposes as the C wrappers take them: 1 for CUBLAS_OP_T.
func transFlags(g *gemmCall) (ta, tb C.int) {
	if g.TransA {
		ta = 1
	}
	if g.TransB {
		tb = 1
	}
	return ta, tb
}

// blasError is a cuBLAS status.
type blasError C.cublasStatus_t

var blasStatus = map[C.cublasStatus_t]string{
	C.CUBLAS_STATUS_NOT_INITIALIZED:  "not initialized",
	C.CUBLAS_STATUS_ALLOC_FAILED:     "allocation failed (out of memory)",
	C.CUBLAS_STATUS_INVALID_VALUE:    "invalid value",
	C.CUBLAS_STATUS_ARCH_MISMATCH:    "not supported by this GPU's architecture",
	C.CUBLAS_STATUS_MAPPING_ERROR:    "mapping error",
	C.CUBLAS_STATUS_EXECUTION_FAILED: "execution failed",
	C.CUBLAS_STATUS_INTERNAL_ERROR:   "internal error",
	C.CUBLAS_STATUS_NOT_SUPPORTED:    "not supported",
	C.CUBLAS_STATUS_LICENSE_ERROR:    "license error",
}

func (e blasError) Error() string {
	if s, ok := blasStatus[C.cublasStatus_t(e)]; ok {
		return "cuBLAS: " + s
	}
	return fmt.Sprintf("cuBLAS status %d", int(e))
}

func blasCheck(st C.cublasStatus_t) error {
	if st == C.CUBLAS_STATUS_SUCCESS {
		return nil
	}
	return blasError(st)
}
