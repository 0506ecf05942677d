//go:build gpu

package cuda

// What gorgonia.org/cu v0.9.6 lacks, bound directly: cuBLAS on a stream of
// our choosing with our own workspace (cu/blas has no cublasSetStream and
// takes Go slices, not device pointers), and CUDA Graphs: stream capture,
// instantiation and launch (cu has graph construction but no capture,
// instantiate or launch). Device pointers cross into C as integers, so no Go
// pointer rules are bent.

/*
#cgo CFLAGS: -I/usr/local/cuda/include
#cgo LDFLAGS: -L/usr/local/cuda/lib64 -L/usr/local/cuda/lib64/stubs -lcublas -lcuda
#include <cuda.h>
#include <cublas_v2.h>

static cublasStatus_t gtBlasCreate(cublasHandle_t *h, CUstream s, CUdeviceptr ws, size_t wsBytes) {
	cublasStatus_t st = cublasCreate(h);
	if (st != CUBLAS_STATUS_SUCCESS) return st;
	// Host pointer mode: alpha and beta are read at the call, so a captured
	// graph carries them by value.
	if ((st = cublasSetPointerMode(*h, CUBLAS_POINTER_MODE_HOST)) != CUBLAS_STATUS_SUCCESS) return st;
	if ((st = cublasSetStream(*h, (cudaStream_t)s)) != CUBLAS_STATUS_SUCCESS) return st;
	// A workspace of our own, set after the stream (cublasSetStream resets
	// it), keeps cuBLAS from allocating while a step is being captured.
	return cublasSetWorkspace(*h, (void *)ws, wsBytes);
}

static cublasStatus_t gtSgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha,
	CUdeviceptr a, int lda, CUdeviceptr b, int ldb, float beta, CUdeviceptr c, int ldc) {
	return cublasSgemm(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
		&alpha, (const float *)a, lda, (const float *)b, ldb, &beta, (float *)c, ldc);
}

static cublasStatus_t gtDgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, double alpha,
	CUdeviceptr a, int lda, CUdeviceptr b, int ldb, double beta, CUdeviceptr c, int ldc) {
	return cublasDgemm(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
		&alpha, (const double *)a, lda, (const double *)b, ldb, &beta, (double *)c, ldc);
}

// Thread-local capture: only this (locked) thread is barred from calls
// that are unsafe during a capture, and it makes none.
static CUresult gtCaptureBegin(CUstream s) {
	return cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
}

static CUresult gtCaptureEnd(CUstream s, CUgraphExec *exec) {
	CUgraph g;
	CUresult r = cuStreamEndCapture(s, &g);
	if (r != CUDA_SUCCESS) return r;
	r = cuGraphInstantiateWithFlags(exec, g, 0);
	cuGraphDestroy(g);
	return r;
}

static const char *gtErrorName(CUresult r) {
	const char *s = 0;
	if (cuGetErrorName(r, &s) != CUDA_SUCCESS || !s) return "CUDA_ERROR_UNKNOWN";
	return s;
}

static const char *gtErrorString(CUresult r) {
	const char *s = 0;
	if (cuGetErrorString(r, &s) != CUDA_SUCCESS || !s) return "unknown error";
	return s;
}
*/
import "C"

import (
	"fmt"
	"reflect"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/graph"
)

// driverError is a CUDA driver API status.
type driverError C.CUresult

func (e driverError) Error() string {
	return fmt.Sprintf("%s (%s)", C.GoString(C.gtErrorString(C.CUresult(e))), C.GoString(C.gtErrorName(C.CUresult(e))))
}

func check(r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	return driverError(r)
}

// describe gives a cu error the driver's own words ("out of memory") with
// its name, as driverError does: cu's errors print only the name.
func describe(err error) error {
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Int && v.Type().PkgPath() == "gorgonia.org/cu" {
		return driverError(C.CUresult(v.Int()))
	}
	return err
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

func cStream(s cu.Stream) C.CUstream { return C.CUstream(unsafe.Pointer(s.C())) }

// blas is a cuBLAS handle bound to one stream and workspace.
type blas struct {
	h  C.cublasHandle_t
	dt graph.Dtype
}

func newBLAS(s cu.Stream, workspace cu.DevicePtr, bytes int64, dt graph.Dtype) (*blas, error) {
	b := &blas{dt: dt}
	if err := blasCheck(C.gtBlasCreate(&b.h, cStream(s), C.CUdeviceptr(workspace), C.size_t(bytes))); err != nil {
		if b.h != nil {
			C.cublasDestroy(b.h)
		}
		return nil, err
	}
	return b, nil
}

func (b *blas) close() error {
	if b == nil || b.h == nil {
		return nil
	}
	err := blasCheck(C.cublasDestroy(b.h))
	b.h = nil
	return err
}

// gemm issues one planned product on the handle's stream; ptr gives each
// buffer's device address.
func (b *blas) gemm(g *gemmCall, ptr func(int) cu.DevicePtr) error {
	ta, tb := C.int(0), C.int(0)
	if g.TransA {
		ta = 1
	}
	if g.TransB {
		tb = 1
	}
	a, bb, c := C.CUdeviceptr(ptr(g.First)), C.CUdeviceptr(ptr(g.Second)), C.CUdeviceptr(ptr(g.Dst))
	if b.dt == graph.Float64 {
		return blasCheck(C.gtDgemm(b.h, ta, tb, C.int(g.M), C.int(g.N), C.int(g.K), C.double(g.Alpha),
			a, C.int(g.LdA), bb, C.int(g.LdB), C.double(g.Beta), c, C.int(g.LdC)))
	}
	return blasCheck(C.gtSgemm(b.h, ta, tb, C.int(g.M), C.int(g.N), C.int(g.K), C.float(g.Alpha),
		a, C.int(g.LdA), bb, C.int(g.LdB), C.float(g.Beta), c, C.int(g.LdC)))
}

// execGraph is an instantiated CUDA graph.
type execGraph struct{ e C.CUgraphExec }

// capture records what enqueue issues on s, without running it, and
// instantiates it. A failed capture is ended before returning.
func capture(s cu.Stream, enqueue func() error) (*execGraph, error) {
	if err := check(C.gtCaptureBegin(cStream(s))); err != nil {
		return nil, err
	}
	err := enqueue()
	g := &execGraph{}
	if endErr := check(C.gtCaptureEnd(cStream(s), &g.e)); err == nil {
		err = endErr
	}
	if err != nil {
		if g.e != nil {
			C.cuGraphExecDestroy(g.e)
		}
		return nil, err
	}
	return g, nil
}

func (g *execGraph) launch(s cu.Stream) error { return check(C.cuGraphLaunch(g.e, cStream(s))) }

func (g *execGraph) destroy() {
	if g != nil && g.e != nil {
		C.cuGraphExecDestroy(g.e)
		g.e = nil
	}
}
