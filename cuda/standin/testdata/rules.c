// rules.c: deliberately wrong (and right) calls into the stand-in's driver
// and cuBLAS, one case per run: rules CASE PTXFILE. Each case prints
// "LABEL RESULT" lines (RESULT: the status name a call returned, or a
// value); rules_test.go asserts them and the "standin:" line on stderr.
// Setup calls that fail end the run with status 10.
#include <cublas_v2.h>
#include <cuda.h>

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *name(CUresult r) {
	const char *s = NULL;
	return cuGetErrorName(r, &s) == CUDA_SUCCESS && s ? s : "?";
}

static const char *blasName(cublasStatus_t s) {
	switch (s) {
	case CUBLAS_STATUS_SUCCESS:
		return "CUBLAS_STATUS_SUCCESS";
	case CUBLAS_STATUS_NOT_INITIALIZED:
		return "CUBLAS_STATUS_NOT_INITIALIZED";
	case CUBLAS_STATUS_ALLOC_FAILED:
		return "CUBLAS_STATUS_ALLOC_FAILED";
	case CUBLAS_STATUS_INVALID_VALUE:
		return "CUBLAS_STATUS_INVALID_VALUE";
	case CUBLAS_STATUS_EXECUTION_FAILED:
		return "CUBLAS_STATUS_EXECUTION_FAILED";
	default:
		return "CUBLAS_STATUS_OTHER";
	}
}

#define CK(x)                                                                                     \
	do {                                                                                      \
		CUresult r_ = (x);                                                                \
		if (r_ != CUDA_SUCCESS) {                                                         \
			printf("setup failed: %s: %s (line %d)\n", #x, name(r_), __LINE__);       \
			exit(10);                                                                 \
		}                                                                                 \
	} while (0)
#define BK(x)                                                                                     \
	do {                                                                                      \
		cublasStatus_t s_ = (x);                                                          \
		if (s_ != CUBLAS_STATUS_SUCCESS) {                                                \
			printf("setup failed: %s: %s (line %d)\n", #x, blasName(s_), __LINE__);   \
			exit(10);                                                                 \
		}                                                                                 \
	} while (0)
#define R(label, x) printf("%s %s\n", label, name(x))
#define B(label, x) printf("%s %s\n", label, blasName(x))

// OpDesc is kernels.cu's op descriptor.
typedef struct {
	long long op, dst, a, b, n, cols, rows;
	double alpha, beta;
} OpDesc;

enum { OP_SIGMOID = 6 };

static char *ptx;
static CUcontext ctx;
static CUmodule mod;
static CUfunction segn;

static void readPTX(const char *path) {
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("setup failed: cannot open %s\n", path);
		exit(10);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	ptx = calloc(n + 1, 1);
	if (fread(ptx, 1, n, f) != (size_t)n)
		exit(10);
	fclose(f);
}

static void setup(void) {
	CUdevice d;
	CK(cuInit(0));
	CK(cuDeviceGet(&d, 0));
	CK(cuCtxCreate(&ctx, 0, d));
}

static void loadKernels(void) {
	CK(cuModuleLoadData(&mod, ptx));
	CK(cuModuleGetFunction(&segn, mod, "gt_segn_f32"));
}

// sigmoidSegment makes a one-op gt_segn_f32 segment, dst = σ(a) over n
// floats, with its descriptor and two-entry buffer table on the device.
static void sigmoidSegment(CUdeviceptr *desc, CUdeviceptr *table, CUdeviceptr *dst, CUdeviceptr *a, int n) {
	OpDesc o = {OP_SIGMOID, 0, 1, 0, n, 0, 0, 0, 0};
	CK(cuMemAlloc(desc, sizeof o));
	CK(cuMemcpyHtoD(*desc, &o, sizeof o));
	CK(cuMemAlloc(dst, n * sizeof(float)));
	CK(cuMemAlloc(a, n * sizeof(float)));
	CK(cuMemsetD8(*a, 0, n * sizeof(float)));
	uint64_t t[2] = {*dst, *a};
	CK(cuMemAlloc(table, sizeof t));
	CK(cuMemcpyHtoD(*table, t, sizeof t));
}

static CUresult launchSegn(CUdeviceptr desc, long long nops, CUdeviceptr table, unsigned grid, unsigned block, CUstream s) {
	void *args[] = {&desc, &nops, &table};
	return cuLaunchKernel(segn, grid, 1, 1, block, 1, 1, 0, s, args, NULL);
}

static void gemmCase(int workspaceAfterStream) {
	setup();
	CUstream s;
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	cublasHandle_t h;
	BK(cublasCreate(&h));
	CUdeviceptr ws, A, Bm, C;
	CK(cuMemAlloc(&ws, 1 << 20));
	// C (2×2) = A (2×3) · B (3×2), column-major.
	float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4];
	CK(cuMemAlloc(&A, sizeof a));
	CK(cuMemAlloc(&Bm, sizeof b));
	CK(cuMemAlloc(&C, sizeof c));
	CK(cuMemcpyHtoD(A, a, sizeof a));
	CK(cuMemcpyHtoD(Bm, b, sizeof b));
	if (workspaceAfterStream) {
		BK(cublasSetStream(h, s));
		BK(cublasSetWorkspace(h, (void *)ws, 1 << 20));
	} else {
		BK(cublasSetWorkspace(h, (void *)ws, 1 << 20));
		BK(cublasSetStream(h, s)); // drops the workspace
	}
	const float one = 1, zero = 0;
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
	B("gemm", cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, (float *)A, 2, (float *)Bm, 3, &zero, (float *)C, 2));
	CUgraph g;
	CUresult r = cuStreamEndCapture(s, &g);
	R("end", r);
	if (r != CUDA_SUCCESS)
		return;
	CUgraphExec e;
	CK(cuGraphInstantiateWithFlags(&e, g, 0));
	CK(cuMemsetD8(C, 0, sizeof c));
	CK(cuGraphLaunch(e, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(c, C, sizeof c));
	// A·B: column 0 = A·(1,0,0) = (1,2); column 1 = A·(1,1,1) = (1+3+5, 2+4+6).
	printf("C %g %g %g %g\n", c[0], c[1], c[2], c[3]);
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: rules CASE PTXFILE\n");
		return 2;
	}
	const char *c = argv[1];
	readPTX(argv[2]);
	setvbuf(stdout, NULL, _IONBF, 0);

	if (!strcmp(c, "identity")) {
		// Which library answers: the stand-in, found first on LD_LIBRARY_PATH.
		char n[256];
		CK(cuInit(0));
		CK(cuDeviceGetName(n, sizeof n, 0));
		printf("device %s\n", n);
		FILE *m = fopen("/proc/self/maps", "r");
		char line[4096];
		while (m && fgets(line, sizeof line, m))
			if (strstr(line, "libcuda.so")) {
				printf("mapped %s", strchr(line, '/'));
				break;
			}
	} else if (!strcmp(c, "dlopen-cublas")) {
		// As the CUDA binary will load cuBLAS at run time: by each soname,
		// through the library path, only the v2 entry points it needs.
		static const char *names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"};
		static const char *syms[] = {"cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2",
					     "cublasSetWorkspace_v2", "cublasSetPointerMode_v2", "cublasSgemm_v2",
					     "cublasDgemm_v2", "cublasGetVersion_v2", "cublasSgemmStridedBatched",
					     "cublasDgemmStridedBatched"};
		setup();
		for (int i = 0; i < 4; i++) {
			void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
			if (!lib) {
				printf("%s %s\n", names[i], dlerror());
				continue;
			}
			int missing = 0;
			for (int j = 0; j < (int)(sizeof syms / sizeof *syms); j++)
				missing += dlsym(lib, syms[j]) == NULL;
			cublasStatus_t (*create)(cublasHandle_t *) = (cublasStatus_t(*)(cublasHandle_t *))dlsym(lib, "cublasCreate_v2");
			cublasStatus_t (*version)(cublasHandle_t, int *) =
				(cublasStatus_t(*)(cublasHandle_t, int *))dlsym(lib, "cublasGetVersion_v2");
			cublasHandle_t h = NULL;
			int v = 0;
			if (!missing && create(&h) == CUBLAS_STATUS_SUCCESS && version(h, &v) == CUBLAS_STATUS_SUCCESS)
				printf("%s %d\n", names[i], v);
			else
				printf("%s missing %d\n", names[i], missing);
		}
	} else if (!strcmp(c, "error-strings")) {
		const char *s;
		CK(cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &s));
		printf("string %s\n", s);
		CK(cuGetErrorName(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, &s));
		printf("name %s\n", s);
		R("unknown", cuGetErrorName((CUresult)12345, &s));
	} else if (!strcmp(c, "use-after-free")) {
		setup();
		CUdeviceptr p;
		CK(cuMemAlloc(&p, 64));
		CK(cuMemFree(p));
		R("memset", cuMemsetD8(p + 8, 0, 8));
	} else if (!strcmp(c, "double-free")) {
		setup();
		CUdeviceptr p;
		CK(cuMemAlloc(&p, 64));
		CK(cuMemFree(p));
		R("free", cuMemFree(p));
	} else if (!strcmp(c, "overrun")) {
		setup();
		CUdeviceptr p;
		char buf[65] = {0};
		CK(cuMemAlloc(&p, 64));
		R("copy64", cuMemcpyHtoD(p, buf, 64));
		R("copy65", cuMemcpyHtoD(p, buf, 65));
	} else if (!strcmp(c, "host-as-device")) {
		setup();
		static float host[16];
		R("memset", cuMemsetD8((CUdeviceptr)(uintptr_t)host, 0, sizeof host));
	} else if (!strcmp(c, "kernel-use-after-free")) {
		setup();
		loadKernels();
		CUdeviceptr desc, table, dst, a;
		sigmoidSegment(&desc, &table, &dst, &a, 256);
		R("before", launchSegn(desc, 1, table, 1, 256, 0));
		CK(cuMemFree(a)); // still named by the buffer table
		R("after", launchSegn(desc, 1, table, 1, 256, 0));
	} else if (!strcmp(c, "swapped-args")) {
		setup();
		loadKernels();
		CUdeviceptr desc, table, dst, a;
		sigmoidSegment(&desc, &table, &dst, &a, 256);
		long long nops = 1;
		void *args[] = {&desc, &table, &nops}; // table and nops swapped
		R("launch", cuLaunchKernel(segn, 1, 1, 1, 256, 1, 1, 0, 0, args, NULL));
	} else if (!strcmp(c, "maxntid")) {
		setup();
		loadKernels();
		CUdeviceptr desc, table, dst, a;
		sigmoidSegment(&desc, &table, &dst, &a, 512);
		R("block256", launchSegn(desc, 1, table, 2, 256, 0));
		R("block512", launchSegn(desc, 1, table, 1, 512, 0));
	} else if (!strcmp(c, "grid-limit")) {
		setup();
		loadKernels();
		CUdeviceptr desc, table, dst, a;
		sigmoidSegment(&desc, &table, &dst, &a, 256);
		long long nops = 1;
		void *args[] = {&desc, &nops, &table};
		R("launch", cuLaunchKernel(segn, 1, 70000, 1, 256, 1, 1, 0, 0, args, NULL));
	} else if (!strcmp(c, "param-size")) {
		setup();
		loadKernels();
		CUdeviceptr desc, table, dst, a;
		sigmoidSegment(&desc, &table, &dst, &a, 256);
		struct {
			CUdeviceptr desc;
			long long nops;
			CUdeviceptr table;
		} buf = {desc, 1, table};
		size_t size = sizeof buf;
		void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
		R("24", cuLaunchKernel(segn, 1, 1, 1, 256, 1, 1, 0, 0, NULL, extra));
		size = 16; // two parameters' worth: one missing
		R("16", cuLaunchKernel(segn, 1, 1, 1, 256, 1, 1, 0, 0, NULL, extra));
	} else if (!strcmp(c, "stale-ptx")) {
		setup();
		// Drop gt_segn_f32's last parameter, as a PTX older than kernels.cu might.
		char *e = strstr(ptx, ".entry gt_segn_f32(");
		char *p = e ? strstr(e, ",\n\t.param .u64 gt_segn_f32_param_2") : NULL;
		if (!p) {
			printf("setup failed: no gt_segn_f32_param_2 in the PTX\n");
			return 10;
		}
		memset(p, ' ', strlen(",\n\t.param .u64 gt_segn_f32_param_2"));
		char log[512] = "unset";
		CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
		void *vals[] = {log, (void *)(uintptr_t)sizeof log};
		R("load", cuModuleLoadDataEx(&mod, ptx, 2, opts, vals));
		printf("log %s", log);
	} else if (!strcmp(c, "jit-info-log")) {
		setup();
		char info[16] = "unset", err[64] = "unset";
		CUjit_option opts[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
				       CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
		void *vals[] = {info, (void *)(uintptr_t)sizeof info, err, (void *)(uintptr_t)sizeof err};
		R("load", cuModuleLoadDataEx(&mod, ptx, 4, opts, vals));
		printf("info %s|%d\n", info, (int)(uintptr_t)vals[1]);
		printf("error %s|%d\n", err, (int)(uintptr_t)vals[3]);
	} else if (!strcmp(c, "alloc-in-capture") || !strcmp(c, "free-in-capture") || !strcmp(c, "sync-in-capture") ||
		   !strcmp(c, "pageable-copy-in-capture") || !strcmp(c, "pinned-copy-in-capture")) {
		setup();
		CUstream s;
		CUdeviceptr p, q;
		CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
		CK(cuMemAlloc(&p, 64));
		static char pageable[64];
		void *pinned;
		CK(cuMemAllocHost(&pinned, 64));
		memset(pinned, 7, 64);
		CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
		if (!strcmp(c, "alloc-in-capture"))
			R("call", cuMemAlloc(&q, 64));
		else if (!strcmp(c, "free-in-capture"))
			R("call", cuMemFree(p));
		else if (!strcmp(c, "sync-in-capture"))
			R("call", cuStreamSynchronize(s));
		else if (!strcmp(c, "pageable-copy-in-capture"))
			R("call", cuMemcpyHtoDAsync(p, pageable, 64, s));
		else
			R("call", cuMemcpyHtoDAsync(p, pinned, 64, s));
		CUgraph g;
		R("end", cuStreamEndCapture(s, &g));
	} else if (!strcmp(c, "capture-replay")) {
		// A captured memset and kernel run only when the graph is launched,
		// once per launch.
		setup();
		loadKernels();
		CUstream s;
		CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
		CUdeviceptr desc, table, dst, a;
		sigmoidSegment(&desc, &table, &dst, &a, 256);
		CK(cuMemsetD8(dst, 0, 256 * sizeof(float)));
		CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
		CK(cuMemsetD8Async(a, 0, 256 * sizeof(float), s));
		CK(launchSegn(desc, 1, table, 1, 256, s));
		CUstreamCaptureStatus st;
		CK(cuStreamIsCapturing(s, &st));
		printf("capturing %d\n", (int)st);
		CUgraph g;
		CK(cuStreamEndCapture(s, &g));
		float out[256];
		CK(cuMemcpyDtoH(out, dst, sizeof out));
		printf("before %g\n", out[255]);
		CUgraphExec e;
		CK(cuGraphInstantiateWithFlags(&e, g, 0));
		CK(cuGraphDestroy(g));
		R("launch", cuGraphLaunch(e, s));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(out, dst, sizeof out));
		printf("after %g\n", out[255]);
		CK(cuGraphExecDestroy(e));
		R("destroyed", cuGraphLaunch(e, s));
	} else if (!strcmp(c, "async-pinned-source")) {
		// Rewriting a pinned source before the stream has run the copy: a GPU
		// may copy either value; GPUTRAIN_STANDIN_ASYNC=1 copies the late one.
		setup();
		CUstream s;
		CUdeviceptr p;
		int *pinned, out = 0;
		CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
		CK(cuMemAlloc(&p, sizeof out));
		CK(cuMemAllocHost((void **)&pinned, sizeof *pinned));
		*pinned = 1;
		CK(cuMemcpyHtoDAsync(p, pinned, sizeof out, s));
		*pinned = 2;
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(&out, p, sizeof out));
		printf("device %d\n", out);
	} else if (!strcmp(c, "async-nonblocking")) {
		// A synchronous copy does not wait for a non-blocking stream.
		setup();
		CUstream s;
		CUdeviceptr p;
		unsigned out = 0;
		CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
		CK(cuMemAlloc(&p, sizeof out));
		CK(cuMemsetD8(p, 0, sizeof out));
		CK(cuMemsetD8Async(p, 7, sizeof out, s));
		CK(cuMemcpyDtoH(&out, p, sizeof out));
		printf("early %x\n", out);
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(&out, p, sizeof out));
		printf("late %x\n", out);
	} else if (!strcmp(c, "workspace-before-stream")) {
		gemmCase(0);
	} else if (!strcmp(c, "workspace-after-stream")) {
		gemmCase(1);
	} else if (!strcmp(c, "gemm-lda")) {
		setup();
		cublasHandle_t h;
		BK(cublasCreate(&h));
		CUdeviceptr A;
		CK(cuMemAlloc(&A, 64 * sizeof(double)));
		const double one = 1;
		// C is 4×2, so ldc and lda (A is 4×2 too, not transposed) must be ≥ 4.
		B("lda3", cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 2, &one, (double *)A, 3, (double *)A, 2, &one,
				      (double *)A, 4));
		B("trans9", cublasDgemm(h, (cublasOperation_t)9, CUBLAS_OP_N, 4, 2, 2, &one, (double *)A, 4, (double *)A, 2,
					&one, (double *)A, 4));
		B("ok", cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 2, &one, (double *)A, 4, (double *)A, 2, &one,
				    (double *)A + 16, 4));
	} else if (!strcmp(c, "gemm-strided")) {
		// Three products C_p (2×2) = A_p (2×2) · I at strides 4, 0 and 4:
		// A_p holds p+1 everywhere but the first matrix's first entry, 7.
		setup();
		cublasHandle_t h;
		BK(cublasCreate(&h));
		CUdeviceptr A, I, C;
		double a[12], id[4] = {1, 0, 0, 1}, c[12];
		for (int i = 0; i < 12; i++)
			a[i] = i / 4 + 1;
		a[0] = 7;
		CK(cuMemAlloc(&A, sizeof a));
		CK(cuMemAlloc(&I, sizeof id));
		CK(cuMemAlloc(&C, sizeof c));
		CK(cuMemcpyHtoD(A, a, sizeof a));
		CK(cuMemcpyHtoD(I, id, sizeof id));
		const double one = 1, zero = 0;
		B("ok", cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, (double *)A, 2, 4, (double *)I, 2,
						  0, &zero, (double *)C, 2, 4, 3));
		CK(cuCtxSynchronize());
		CK(cuMemcpyDtoH(c, C, sizeof c));
		printf("C %g %g %g %g\n", c[0], c[3], c[4], c[11]);
		B("batch-1", cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, (double *)A, 2, 4,
						       (double *)I, 2, 0, &zero, (double *)C, 2, 4, -1));
		B("batch-0", cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, (double *)A, 2, 4,
						       (double *)I, 2, 0, &zero, (double *)C, 2, 4, 0));
		B("ldb1", cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, (double *)A, 2, 4,
						    (double *)I, 1, 0, &zero, (double *)C, 2, 4, 3));
		B("overlap", cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, (double *)A, 2, 4,
						       (double *)I, 2, 0, &zero, (double *)C, 2, 2, 3));
		// Four matrices of A at stride 4 run past its 12 elements.
		B("past", cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, (double *)A, 2, 4,
						    (double *)I, 2, 0, &zero, (double *)C, 2, 4, 4));
		const float fone = 1;
		B("sgemm-ldc1", cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 2, &fone, (float *)A, 2, 4,
							  (float *)I, 2, 0, &fone, (float *)C, 1, 4, 1));
	} else if (!strcmp(c, "gemm-use-after-free")) {
		setup();
		cublasHandle_t h;
		BK(cublasCreate(&h));
		CUdeviceptr A, C;
		CK(cuMemAlloc(&A, 16 * sizeof(float)));
		CK(cuMemAlloc(&C, 16 * sizeof(float)));
		CK(cuMemFree(C));
		const float one = 1;
		B("gemm", cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, (float *)A, 4, (float *)A, 4, &one,
				      (float *)C, 4));
	} else if (!strcmp(c, "other-context")) {
		CUdevice d;
		CUcontext other;
		CUstream s;
		CUdeviceptr p;
		setup();
		CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
		CK(cuMemAlloc(&p, 64));
		R("own", cuMemsetD8Async(p, 0, 64, s));
		CK(cuDeviceGet(&d, 0));
		CK(cuCtxCreate(&other, 0, d)); // now current
		R("other", cuMemsetD8Async(p, 0, 64, s));
	} else if (!strcmp(c, "memory-cap")) {
		setup(); // GPUTRAIN_STANDIN_MEM=1048576 in the environment
		size_t free, total;
		CK(cuMemGetInfo(&free, &total));
		printf("total %zu\n", total);
		CUdeviceptr p, q;
		R("half", cuMemAlloc(&p, 512 << 10));
		R("more", cuMemAlloc(&q, 768 << 10));
	} else if (!strcmp(c, "nan-fill")) {
		setup();
		CUdeviceptr p;
		CK(cuMemAlloc(&p, 4 * sizeof(double)));
		double v[4] = {0, 0, 0, 0};
		CK(cuMemcpyDtoH(v, p, sizeof v));
		int nans = 0;
		for (int i = 0; i < 4; i++)
			nans += isnan(v[i]);
		printf("nans %d\n", nans);
	} else if (!strcmp(c, "leak")) {
		setup();
		CUdeviceptr p, q;
		CK(cuMemAlloc(&p, 100));
		CK(cuMemAlloc(&q, 28));
		CK(cuMemFree(q));
		R("destroy", cuCtxDestroy(ctx));
		printf("still running\n");
	} else if (!strcmp(c, "primary-leak")) {
		CUcontext p1, p2;
		CUdeviceptr p;
		CK(cuInit(0));
		CK(cuDevicePrimaryCtxRetain(&p1, 0));
		CK(cuDevicePrimaryCtxRetain(&p2, 0));
		printf("same %d\n", p1 == p2);
		CK(cuCtxSetCurrent(p1));
		CK(cuMemAlloc(&p, 100));
		R("release1", cuDevicePrimaryCtxRelease(0));
		printf("after first release\n");
		R("release2", cuDevicePrimaryCtxRelease(0));
		R("use", cuMemAlloc(&p, 100));
	} else if (!strcmp(c, "fault")) {
		// GPUTRAIN_STANDIN_FAIL=t:5, GPUTRAIN_STANDIN_FAIL_REPORT=/dev/stdout and
		// GPUTRAIN_STANDIN_STRICT=1 in the environment. The report's lines
		// ("TAG K CALL") come before the failed call's own.
		setup(); // calls 1 to 3: cuInit, cuDeviceGet, cuCtxCreate_v2
		CUdeviceptr p, q, r;
		R("alloc4", cuMemAlloc(&p, 64));
		R("alloc5", cuMemAlloc(&q, 64));
		R("alloc6", cuMemAlloc(&q, 64)); // once per value
		setenv("GPUTRAIN_STANDIN_FAIL", "u:2", 1); // the count starts again
		R("memset1", cuMemsetD8(p, 0, 64));
		R("memset2", cuMemsetD8(p, 0, 64));
		setenv("GPUTRAIN_STANDIN_FAIL", "v:1", 1);
		R("free1", cuMemFree(p)); // p stays allocated: not a leak at the end
		R("free2", cuMemFree(q));
		setenv("GPUTRAIN_STANDIN_FAIL", "w:2", 1);
		cublasHandle_t h;
		B("create1", cublasCreate(&h));
		B("stream2", cublasSetStream(h, NULL));
		setenv("GPUTRAIN_STANDIN_FAIL", "x:0", 1); // not a fault: said once
		R("alloc", cuMemAlloc(&r, 64));
		R("free", cuMemFree(r));
		R("destroy", cuCtxDestroy(ctx));
	} else if (!strcmp(c, "no-device")) {
		R("init", cuInit(0)); // GPUTRAIN_STANDIN_DEVICES=0 in the environment
	} else if (!strcmp(c, "unsupported")) {
		CK(cuInit(0));
		CUdeviceptr p;
		R("pitch", cuMemAllocPitch(&p, NULL, 16, 16, 4));
	} else {
		fprintf(stderr, "rules: unknown case %s\n", c);
		return 2;
	}
	return 0;
}
