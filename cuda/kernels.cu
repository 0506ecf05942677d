// The CUDA kernels of gputrain's GPU backend.
//
// This one source is compiled two ways: by nvcc to PTX for compute_60
// (cuda/kernels.ptx, embedded in the Go binary and JIT-compiled by the
// driver for whatever GPU it finds), and by the host C++ compiler through
// emu/cuda_emu.h, which runs every block and thread on the CPU so that the
// Go tests check these very kernels without a GPU.
//
// Matrix products are not here: they go to cuBLAS. Everything else a
// compiled graph.Program does is a "segment": a list of op descriptors that
// one kernel launch interprets, so that a chain of element-wise ops costs
// one launch instead of one each (at batch 10 a step is launch-bound).
// Segments come in two kinds, chosen by the Go scheduler (plan.go):
//
//   gt_seg1_*: one block; a barrier after every op, so any op may read what
//              an earlier op of the segment wrote, reductions included.
//   gt_segn_*: a grid of blocks; element-wise ops only, each thread
//              running every op on the same element indices, so an op may
//              read what an earlier op wrote at the same index and nothing
//              else written in the segment.
//
// Every kernel parameter is 8 bytes wide (pointers, long long, double):
// gorgonia.org/cu copies 8 bytes for each argument.

#define PIXELS 784 // the input row: 28×28 MNIST pixels
#define CLASSES 10 // the output row: one per digit

// Opcodes of an op descriptor: graph.Op's values, generated from the op
// table (go generate ./cuda/).
#include "ops.h"
// The end of a training step: record the step's cost and advance the
// batch offset for the next step (see gt_seg1).
#define OP_EPILOGUE 100

// SEG1_MAX_THREADS bounds the block of gt_seg1 and sizes its reduction buffer.
#define SEG1_MAX_THREADS 1024
// SEGN_THREADS bounds the block of gt_segn, gt_gather and gt_argmax.
#define SEGN_THREADS 256

// OpDesc is one op of a segment, as plan.go's encodeOps lays it out: nine
// 8-byte fields, 72 bytes. dst, a and b index the segment's buffer table.
//   element-wise ops: n = elements of dst; cols = row length of AddRow's b
//   UPDATE:  dst[i] = beta·dst[i] − alpha·a[i] (beta: the L2 weight decay, or 1)
//   SOFTMAX: each row of dst (rows × cols) = the softmax of that row of a; XENT and NLL:
//            dst[r] = a sample's cross-entropy / log-likelihood over row r of a (z) and b (y)
//            (the three in one block only: a thread a row)
//   TANH:    dst[i] = tanh(a[i]); GATE: dst[i] = a[i] ≥ beta ? 1 : 0 (ReLU's gate)
//   SUMROWS: dst[j] = alpha·Σ_r a[r·cols+j] + beta·dst[j], j < cols, r < rows
//   SUMALL:  dst[0] = Σ a[i], i < rows
//   EPILOGUE: a = the cost buffer, n = images in this step, cols = the batch size
//   chapter 6's ops (shaped): n = elements of dst, each computed alone from the shapes:
//     IM2COL, COL2IM: rows × cols = h × w of the image side, alpha = f, beta = c (maps)
//     PERMUTE: rows = h·w, cols = c of the (m, c, h, w) side, alpha = the direction
//     MAXPOOL, MAXPOOLBACK: rows × cols = h × w of the pool's input, alpha = p; MAXPOOLBACK's b the input
//     ADDMAP: dst[i] = a[i] + b[(i / alpha) mod cols]; SUMINNER: dst[i] = Σ of rows entries of a from i·rows
//     DROPOUT: dst[i] = 1 if unit i of layer beta is kept with p = alpha, from the key words in a (gt_key)
struct OpDesc {
	long long op, dst, a, b, n, cols, rows;
	double alpha, beta;
};

template <typename T> __device__ __forceinline__ T sigmoid(T z);

template <> __device__ __forceinline__ float sigmoid<float>(float z) {
	return 1.0f / (1.0f + expf(-z));
}

template <> __device__ __forceinline__ double sigmoid<double>(double z) {
	return 1.0 / (1.0 + exp(-z));
}

// mix is SplitMix64's output function of z + γ, graph/dropout's mix: the
// dropout masks' generator, integer arithmetic only, so that the GPU draws
// the CPU's masks bit for bit.
__device__ __forceinline__ unsigned long long mix(unsigned long long z) {
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

// KEY_WORDS is dropout.KeyWords: a step key in 16-bit words, low first.
#define KEY_WORDS 4

// shaped computes element i of the destination of one of chapter 6's ops
// (graph/ops_conv.go), tensors laid out images × maps × height × width;
// the descriptor carries the shapes (see OpDesc). Each element is
// computed alone, in the order of sums the CPU kernel adds it in, so the
// two agree bit for bit.
template <typename T>
__device__ void shaped(const OpDesc &o, T *const *bufs, int i) {
	T *d = bufs[o.dst];
	const T *a = bufs[o.a];
	const int h = (int)o.rows, w = (int)o.cols;
	switch (o.op) {
	case OP_IM2COL: {
		// d is (m, oh, ow, c·f·f): the f×f patch of every map at (y, x).
		const int f = (int)o.alpha, c = (int)o.beta, oh = h - f + 1, ow = w - f + 1, K = c * f * f;
		const int col = i % K, pos = i / K, x = pos % ow, y = pos / ow % oh, img = pos / (ow * oh);
		const int ch = col / (f * f), ki = col / f % f, kj = col % f;
		d[i] = a[((long long)(img * c + ch) * h + y + ki) * w + x + kj];
		break;
	}
	case OP_COL2IM: {
		// d is (m, c, h, w): the sum of every patch entry taken from (Y, X),
		// patches in row-major order of their position, as the CPU adds them.
		const int f = (int)o.alpha, c = (int)o.beta, oh = h - f + 1, ow = w - f + 1, K = c * f * f;
		const int X = i % w, Y = i / w % h, ch = i / (w * h) % c, img = i / (w * h * c);
		T s = 0;
		for (int y = max(0, Y - f + 1); y <= min(Y, oh - 1); y++)
			for (int x = max(0, X - f + 1); x <= min(X, ow - 1); x++)
				s += a[((long long)(img * oh + y) * ow + x) * K + (ch * f + Y - y) * f + X - x];
		d[i] = s;
		break;
	}
	case OP_PERMUTE: {
		// rows = h·w, cols = c of the (m, c, h, w) side; α 0: (m, h, w, c) →
		// (m, c, h, w), α 1 back.
		const int hw = h, c = w;
		if (o.alpha == 0) {
			const int p = i % hw, ch = i / hw % c, n = i / (hw * c);
			d[i] = a[((long long)n * hw + p) * c + ch];
		} else {
			const int ch = i % c, p = i / c % hw, n = i / (c * hw);
			d[i] = a[((long long)n * c + ch) * hw + p];
		}
		break;
	}
	case OP_MAXPOOL:
	case OP_MAXPOOLBACK: {
		// rows, cols: the pool's input map; α: the window p. The first
		// largest input of each whole window, as graph's poolArg.
		const int p = (int)o.alpha, oh = h / p, ow = w / p;
		int map, y, x;
		if (o.op == OP_MAXPOOL) {
			x = i % ow, y = i / ow % oh, map = i / (ow * oh);
		} else {
			const int X = i % w, Y = i / w % h;
			x = X / p, y = Y / p, map = i / (w * h);
			if (y >= oh || x >= ow) {
				d[i] = 0; // outside every whole window
				break;
			}
		}
		const T *in = o.op == OP_MAXPOOL ? a : bufs[o.b];
		const long long base = (long long)map * h * w;
		long long best = base + (long long)y * p * w + x * p;
		for (int r = 0; r < p; r++)
			for (int q = 0; q < p; q++) {
				const long long at = base + (long long)(y * p + r) * w + x * p + q;
				if (in[at] > in[best])
					best = at;
			}
		if (o.op == OP_MAXPOOL)
			d[i] = a[best];
		else
			d[i] = best == i ? (T)0 + a[((long long)map * oh + y) * ow + x] : (T)0;
		break;
	}
	case OP_ADDMAP:
		// α: the positions of a map; cols: the maps (len(b)).
		d[i] = a[i] + bufs[o.b][(long long)i / (long long)o.alpha % o.cols];
		break;
	case OP_DROPOUT: {
		// graph/dropout: unit i of layer beta is kept when its bits, from
		// the step's key (a's words), clear p's threshold; p as T holds it.
		unsigned long long key = 0;
		for (int k = 0; k < KEY_WORDS; k++)
			key |= (unsigned long long)a[k] << (16 * k);
		const unsigned long long bits = mix(key ^ ((unsigned long long)o.beta << 40 | (unsigned long long)i));
		const unsigned long long th = (unsigned long long)((double)(T)o.alpha * 9007199254740992.0); // p·2⁵³
		d[i] = (bits >> 11) >= th ? (T)1 : (T)0;
		break;
	}
	case OP_SUMINNER: {
		// rows: the inner length summed into each element.
		const long long K = o.rows;
		T s = 0;
		for (long long k = 0; k < K; k++)
			s += a[(long long)i * K + k];
		d[i] = s;
		break;
	}
	}
}

// elem computes element i of an element-wise op. Scalars are rounded to T
// first, as the CPU backend does, so both round the same products.
template <typename T>
__device__ __forceinline__ void elem(const OpDesc &o, T *const *bufs, int i) {
	T *d = bufs[o.dst];
	const T *a = bufs[o.a];
	switch (o.op) {
	case OP_ADDROW:
		d[i] = a[i] + bufs[o.b][i % (int)o.cols];
		break;
	case OP_ADD:
		d[i] = a[i] + bufs[o.b][i];
		break;
	case OP_SUB:
		d[i] = a[i] - bufs[o.b][i];
		break;
	case OP_MUL:
		d[i] = a[i] * bufs[o.b][i];
		break;
	case OP_AFFINE:
		d[i] = (T)o.alpha * a[i] + (T)o.beta;
		break;
	case OP_SIGMOID:
		d[i] = sigmoid(a[i]);
		break;
	case OP_SQUARE:
		d[i] = a[i] * a[i];
		break;
	case OP_UPDATE:
		d[i] = (T)o.beta * d[i] - (T)o.alpha * a[i];
		break;
	case OP_TANH:
		d[i] = (T)tanh((double)a[i]); // in double, as the CPU backend computes it
		break;
	case OP_GATE:
		d[i] = a[i] >= (T)o.beta ? (T)1 : (T)0;
		break;
	default:
		shaped(o, bufs, i);
	}
}

// seg1 runs a segment in one block. Every thread takes part in every op and
// reaches every barrier, as __syncthreads requires.
template <typename T>
__device__ void seg1(const OpDesc *ops, long long nops, T *const *bufs, long long *offset, double *costs) {
	// Partial sums of SUMALL, in double like the CPU backend's sum.
	__shared__ double red[SEG1_MAX_THREADS];
	const int tid = threadIdx.x, nt = blockDim.x;
	for (long long k = 0; k < nops; k++) {
		const OpDesc o = ops[k];
		switch (o.op) {
		case OP_SUMROWS: {
			T *d = bufs[o.dst];
			const T *a = bufs[o.a];
			const int cols = (int)o.cols, rows = (int)o.rows;
			if (cols >= nt || rows == 1) {
				// A thread per column, down the rows in order, as the CPU
				// backend sums.
				for (int j = tid; j < cols; j += nt) {
					T s = 0;
					for (int r = 0; r < rows; r++)
						s += a[r * cols + j];
					d[j] = o.beta == 0 ? (T)o.alpha * s : (T)o.alpha * s + (T)o.beta * d[j];
				}
			} else {
				// Few columns (a bias of 10 over a batch of 256): a column a
				// thread would leave most threads idle and walk the rows one
				// load latency at a time. Threads j, j+cols, … each sum every
				// slices-th row of column j (in double), then thread j adds
				// their partial sums.
				const int slices = min(nt / cols, rows);
				if (tid < cols * slices) {
					double s = 0;
					for (int r = tid / cols; r < rows; r += slices)
						s += (double)a[r * cols + tid % cols];
					red[tid] = s;
				}
				__syncthreads();
				if (tid < cols) {
					double s = 0;
					for (int k = 0; k < slices; k++)
						s += red[k * cols + tid];
					d[tid] = o.beta == 0 ? (T)o.alpha * (T)s : (T)o.alpha * (T)s + (T)o.beta * d[tid];
				}
			}
			break;
		}
		case OP_SUMALL: {
			const T *a = bufs[o.a];
			const int len = (int)o.rows;
			double s = 0;
			for (int i = tid; i < len; i += nt)
				s += (double)a[i];
			red[tid] = s;
			__syncthreads();
			int half = 1;
			while (half < nt)
				half <<= 1;
			for (half >>= 1; half > 0; half >>= 1) {
				if (tid < half && tid + half < nt)
					red[tid] += red[tid + half];
				__syncthreads();
			}
			if (tid == 0)
				bufs[o.dst][0] = (T)red[0];
			break;
		}
		case OP_XENT:
		case OP_SOFTMAX:
		case OP_NLL: {
			// A thread a row, in double as the CPU backend computes it.
			T *d = bufs[o.dst];
			const T *a = bufs[o.a];
			const int cols = (int)o.cols, rows = (int)o.rows;
			for (int r = tid; r < rows; r += nt) {
				const T *z = a + (long long)r * cols;
				const T *y = o.op == OP_SOFTMAX ? z : bufs[o.b] + (long long)r * cols;
				if (o.op == OP_XENT) {
					// Σ ln(1 + e^−|z|) as the log of the product, as the CPU.
					double s = 0, p = 1;
					for (int j = 0; j < cols; j++) {
						const double zj = (double)z[j];
						s += fmax(zj, 0.0) - (double)y[j] * zj;
						p *= 1.0 + exp(-fabs(zj));
					}
					d[r] = (T)(s + log(p));
					continue;
				}
				double hi = (double)z[0];
				for (int j = 1; j < cols; j++)
					hi = fmax(hi, (double)z[j]);
				double sum = 0;
				for (int j = 0; j < cols; j++)
					sum += exp((double)z[j] - hi);
				if (o.op == OP_SOFTMAX) {
					for (int j = 0; j < cols; j++)
						d[r * cols + j] = (T)(exp((double)z[j] - hi) / sum);
				} else {
					const double lse = hi + log(sum);
					double c = 0;
					for (int j = 0; j < cols; j++)
						c += (double)y[j] * (lse - (double)z[j]);
					d[r] = (T)c;
				}
			}
			break;
		}
		case OP_EPILOGUE:
			// The step's batch number is its offset into the order over the
			// batch size; every step but an epoch's last is full.
			if (tid == 0) {
				const long long off = *offset;
				costs[off / o.cols] = (double)bufs[o.a][0];
				*offset = off + o.n;
			}
			break;
		default:
			for (int i = tid; i < (int)o.n; i += nt)
				elem(o, bufs, i);
		}
		__syncthreads();
	}
}

// segn runs a segment of element-wise ops across a grid. Thread t owns the
// indices t, t+stride, …, the same ones in every op, so an op sees what
// earlier ops wrote at its own indices without a barrier.
template <typename T>
__device__ void segn(const OpDesc *ops, long long nops, T *const *bufs) {
	const int stride = gridDim.x * blockDim.x;
	const int first = blockIdx.x * blockDim.x + threadIdx.x;
	for (long long k = 0; k < nops; k++) {
		const OpDesc o = ops[k];
		for (int i = first; i < (int)o.n; i += stride)
			elem(o, bufs, i);
	}
}

// gather fills X (m×784, p/255) and, when y is not null, the one-hot Y
// (m×10) with images order[off], …, order[off+m−1] of the device-resident
// set, off = base + *offset. A null order means images off, …, off+m−1; a
// null offset means 0. Reading the offset on the device lets one captured
// step serve every batch of an epoch.
template <typename T>
__device__ void gather(T *x, T *y, const unsigned char *images, const unsigned char *labels, const int *order,
		       const long long *offset, long long base, long long m) {
	const long long off = base + (offset ? *offset : 0);
	const int stride = gridDim.x * blockDim.x;
	const int first = blockIdx.x * blockDim.x + threadIdx.x;
	const int nx = (int)m * PIXELS;
	for (int i = first; i < nx; i += stride) {
		const int r = i / PIXELS, k = i - r * PIXELS;
		const long long img = order ? (long long)order[off + r] : off + r;
		x[i] = (T)images[img * PIXELS + k] / (T)255;
	}
	if (y) {
		const int ny = (int)m * CLASSES;
		for (int i = first; i < ny; i += stride) {
			const int r = i / CLASSES, c = i - r * CLASSES;
			const long long img = order ? (long long)order[off + r] : off + r;
			y[i] = labels[img] == c ? (T)1 : (T)0;
		}
	}
}

// argmax writes the most active output of each of m rows (the first on a
// tie, as the CPU backend) to pred[base+r], and when labels and correct are
// not null counts the rows whose prediction is the label.
template <typename T>
__device__ void argmax(const T *out, long long m, unsigned char *pred, long long base, const unsigned char *labels,
		       unsigned long long *correct) {
	const int stride = gridDim.x * blockDim.x;
	for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < (int)m; r += stride) {
		const T *row = out + (long long)r * CLASSES;
		int best = 0;
		for (int j = 1; j < CLASSES; j++)
			if (row[j] > row[best])
				best = j;
		pred[base + r] = (unsigned char)best;
		if (labels && correct && labels[base + r] == best)
			atomicAdd(correct, 1ULL);
	}
}

// The entry points, one per dtype, with C names for cuModuleGetFunction.

extern "C" __global__ void __launch_bounds__(SEG1_MAX_THREADS)
gt_seg1_f32(const OpDesc *ops, long long nops, float *const *bufs, long long *offset, double *costs) {
	seg1(ops, nops, bufs, offset, costs);
}

extern "C" __global__ void __launch_bounds__(SEG1_MAX_THREADS)
gt_seg1_f64(const OpDesc *ops, long long nops, double *const *bufs, long long *offset, double *costs) {
	seg1(ops, nops, bufs, offset, costs);
}

extern "C" __global__ void __launch_bounds__(SEGN_THREADS)
gt_segn_f32(const OpDesc *ops, long long nops, float *const *bufs) {
	segn(ops, nops, bufs);
}

extern "C" __global__ void __launch_bounds__(SEGN_THREADS)
gt_segn_f64(const OpDesc *ops, long long nops, double *const *bufs) {
	segn(ops, nops, bufs);
}

extern "C" __global__ void __launch_bounds__(SEGN_THREADS)
gt_gather_f32(float *x, float *y, const unsigned char *images, const unsigned char *labels, const int *order,
	      const long long *offset, long long base, long long m) {
	gather(x, y, images, labels, order, offset, base, m);
}

extern "C" __global__ void __launch_bounds__(SEGN_THREADS)
gt_gather_f64(double *x, double *y, const unsigned char *images, const unsigned char *labels, const int *order,
	      const long long *offset, long long base, long long m) {
	gather(x, y, images, labels, order, offset, base, m);
}

// The batched entry points (gt_b*) run one program for nets networks at
// once, a sweep's group (group_gpu.go): network n is blockIdx.y, its
// buffers those of its own buffer table, bufs + n·nbufs, and its op
// descriptors (which carry its own η and weight decay) ops + n·nops. Each
// block runs the solo kernel's code on its network, so a network's
// arithmetic is its solo run's.

template <typename T>
__device__ void bseg1(const OpDesc *ops, long long nops, T *const *bufs, long long nbufs, long long *offset,
		      double *costs, long long costStride, long long nets) {
	const long long n = blockIdx.y;
	if (n >= nets)
		return;
	seg1(ops + n * nops, nops, bufs + n * nbufs, offset ? offset + n : offset, costs ? costs + n * costStride : costs);
}

extern "C" __global__ void __launch_bounds__(SEG1_MAX_THREADS)
gt_bseg1_f32(const OpDesc *ops, long long nops, float *const *bufs, long long nbufs, long long *offset, double *costs,
	     long long costStride, long long nets) {
	bseg1(ops, nops, bufs, nbufs, offset, costs, costStride, nets);
}

extern "C" __global__ void __launch_bounds__(SEG1_MAX_THREADS)
gt_bseg1_f64(const OpDesc *ops, long long nops, double *const *bufs, long long nbufs, long long *offset,
	     double *costs, long long costStride, long long nets) {
	bseg1(ops, nops, bufs, nbufs, offset, costs, costStride, nets);
}

template <typename T>
__device__ void bsegn(const OpDesc *ops, long long nops, T *const *bufs, long long nbufs, long long nets) {
	const long long n = blockIdx.y;
	if (n < nets)
		segn(ops + n * nops, nops, bufs + n * nbufs);
}

extern "C" __global__ void __launch_bounds__(SEGN_THREADS)
gt_bsegn_f32(const OpDesc *ops, long long nops, float *const *bufs, long long nbufs, long long nets) {
	bsegn(ops, nops, bufs, nbufs, nets);
}

extern "C" __global__ void __launch_bounds__(SEGN_THREADS)
gt_bsegn_f64(const OpDesc *ops, long long nops, double *const *bufs, long long nbufs, long long nets) {
	bsegn(ops, nops, bufs, nbufs, nets);
}

// bgather is gather for network blockIdx.y: its X and Y at a constant
// stride from the first network's, its own order (orderStride entries
// apart) and batch offset.
template <typename T>
__device__ void bgather(T *x, T *y, long long xStride, long long yStride, const unsigned char *images,
			const unsigned char *labels, const int *order, long long orderStride, const long long *offset,
			long long base, long long m, long long nets) {
	const long long n = blockIdx.y;
	if (n >= nets)
		return;
	gather(x + n * xStride, y ? y + n * yStride : y, images, labels, order ? order + n * orderStride : order,
	       offset ? offset + n : offset, base, m);
}

extern "C" __global__ void __launch_bounds__(SEGN_THREADS)
gt_bgather_f32(float *x, float *y, long long xStride, long long yStride, const unsigned char *images,
	       const unsigned char *labels, const int *order, long long orderStride, const long long *offset,
	       long long base, long long m, long long nets) {
	bgather(x, y, xStride, yStride, images, labels, order, orderStride, offset, base, m, nets);
}

extern "C" __global__ void __launch_bounds__(SEGN_THREADS)
gt_bgather_f64(double *x, double *y, long long xStride, long long yStride, const unsigned char *images,
	       const unsigned char *labels, const int *order, long long orderStride, const long long *offset,
	       long long base, long long m, long long nets) {
	bgather(x, y, xStride, yStride, images, labels, order, orderStride, offset, base, m, nets);
}

// stepKey writes the dropout masks' key of the step about to run into key:
// dropout.StepKey(seed, step), step = *base + *offset / batch (the run's
// steps before this epoch, then the epoch's, by the batch offset the
// epilogue advances), so that one captured step serves every step.
template <typename T>
__device__ void stepKey(T *key, const long long *offset, const long long *base, long long batch,
			unsigned long long seed) {
	if (blockIdx.x != 0 || threadIdx.x != 0)
		return;
	const unsigned long long step = (unsigned long long)(*base + *offset / batch);
	const unsigned long long k = mix(mix(seed) ^ step);
	for (int w = 0; w < KEY_WORDS; w++)
		key[w] = (T)((k >> (16 * w)) & 0xffff);
}

extern "C" __global__ void gt_key_f32(float *key, const long long *offset, const long long *base, long long batch,
				      unsigned long long seed) {
	stepKey(key, offset, base, batch, seed);
}

extern "C" __global__ void gt_key_f64(double *key, const long long *offset, const long long *base, long long batch,
				      unsigned long long seed) {
	stepKey(key, offset, base, batch, seed);
}

extern "C" __global__ void __launch_bounds__(SEGN_THREADS)
gt_argmax_f32(const float *out, long long m, unsigned char *pred, long long base, const unsigned char *labels,
	      unsigned long long *correct) {
	argmax(out, m, pred, base, labels, correct);
}

extern "C" __global__ void __launch_bounds__(SEGN_THREADS)
gt_argmax_f64(const double *out, long long m, unsigned char *pred, long long base, const unsigned char *labels,
	      unsigned long long *correct) {
	argmax(out, m, pred, base, labels, correct);
}
