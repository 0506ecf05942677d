// kernels.cpp: cuda/kernels.cu compiled for the host through
// cuda/emu/cuda_emu.h, as the stand-in's cuLaunchKernel runs it, with a check
// per kernel of every address it will touch.
//
// The checks read the op descriptors, buffer tables and batch offset the
// kernels read (device memory is host memory here), and so find a stale
// buffer table or a freed buffer behind one, not only a bad argument.
#include "standin.h"

#include "../../emu/cuda_emu.h"

#include "../../kernels.cu"
#include "opforms.h"

#include <cstring>
#include <tuple>
#include <utility>

namespace {

using standin::checkRange;

// at reads parameter i of a launch.
template <class T> T at(void *const *args, int i) {
	T v;
	std::memcpy(&v, args[i], sizeof v);
	return v;
}

CUdeviceptr dp(const void *p) { return (CUdeviceptr)(uintptr_t)p; }

// checkOps checks a segment: its descriptors, its buffer table and each
// buffer an op reads or writes, over the elements the op touches.
// checkShaped checks one of chapter 6's ops (kernels.cu's shaped): its
// shape fields describe whole tensors, and each operand holds as many
// elements as those shapes make of the destination's n.
template <class Buf>
CUresult checkShaped(const std::string &call, long long k, const OpDesc &o, Buf buf) {
	const long long h = o.rows, w = o.cols, n = o.n;
	const long long f = (long long)o.alpha, c = (long long)o.beta;
	auto bad = [&](const char *why) {
		standin::diag(call, "op %lld (opcode %lld): %s (n %lld, rows %lld, cols %lld, alpha %g, beta %g)", k,
			      o.op, why, n, h, w, o.alpha, o.beta);
		return CUDA_ERROR_ILLEGAL_ADDRESS;
	};
	if (n <= 0)
		return bad("no elements");
	long long aElems = n, bElems = 0;
	switch (opForm(o.op)) {
	case FORM_IM2COL:
	case FORM_COL2IM: {
		if (f < 1 || c < 1 || (double)f != o.alpha || (double)c != o.beta || h < f || w < f)
			return bad("not a valid convolution's shapes");
		const long long col = (h - f + 1) * (w - f + 1) * c * f * f, im = c * h * w;
		const long long dstPer = opForm(o.op) == FORM_IM2COL ? col : im, aPer = opForm(o.op) == FORM_IM2COL ? im : col;
		if (n % dstPer)
			return bad("the destination is not a whole number of images");
		aElems = n / dstPer * aPer;
		break;
	}
	case FORM_PERMUTE:
		if (h < 1 || w < 1 || n % (h * w) || (o.alpha != 0 && o.alpha != 1))
			return bad("not a permutation of whole images");
		break;
	case FORM_POOL:
	case FORM_POOLBACK: {
		if (f < 1 || (double)f != o.alpha || h < f || w < f)
			return bad("not a valid pool's shapes");
		const long long pooled = (h / f) * (w / f), im = h * w;
		const bool fwd = opForm(o.op) == FORM_POOL;
		if (n % (fwd ? pooled : im))
			return bad("the destination is not a whole number of maps");
		aElems = fwd ? n / pooled * im : n / im * pooled;
		bElems = fwd ? 0 : n;
		break;
	}
	case FORM_MAP:
		if (w < 1 || o.alpha < 1 || (double)(long long)o.alpha != o.alpha || n % ((long long)o.alpha * w))
			return bad("not whole maps of the bias");
		bElems = w;
		break;
	case FORM_GROUPS:
		if (h < 1)
			return bad("no inner length");
		aElems = n * h;
		break;
	case FORM_MASK:
		if (!(o.alpha >= 0 && o.alpha < 1) || o.beta < 0)
			return bad("not a dropout probability and layer");
		aElems = KEY_WORDS;
		break;
	default:
		return bad("not a shaped op");
	}
	CUresult r;
	if ((r = buf(o.dst, n, "destination")) || (r = buf(o.a, aElems, "first operand")) ||
	    (bElems > 0 && (r = buf(o.b, bElems, "second operand"))))
		return r;
	return CUDA_SUCCESS;
}

template <class T>
CUresult checkSegment(const std::string &call, const OpDesc *ops, long long nops, T *const *bufs, long long *offset,
		      double *costs, bool oneBlock) {
	if (nops < 0) {
		standin::diag(call, "parameter 1 (nops) is %lld, negative", nops);
		return CUDA_ERROR_ILLEGAL_ADDRESS;
	}
	CUresult r = checkRange(call, "parameter 0 (the op descriptors)", dp(ops), nops * sizeof(OpDesc),
				CUDA_ERROR_ILLEGAL_ADDRESS);
	if (r != CUDA_SUCCESS)
		return r;
	for (long long k = 0; k < nops; k++) {
		const OpDesc &o = ops[k];
		auto buf = [&](long long id, long long elems, const char *role) -> CUresult {
			const std::string what = "op " + std::to_string(k) + " (opcode " + std::to_string(o.op) + ") " + role;
			if (id < 0) {
				standin::diag(call, "%s: buffer table index %lld is negative", what.c_str(), id);
				return CUDA_ERROR_ILLEGAL_ADDRESS;
			}
			CUresult r = checkRange(call, what + ": its entry " + std::to_string(id) + " of the buffer table",
						dp(bufs + id), sizeof(T *), CUDA_ERROR_ILLEGAL_ADDRESS);
			if (r != CUDA_SUCCESS)
				return r;
			if (elems <= 0)
				return CUDA_SUCCESS;
			return checkRange(call, what + " (table entry " + std::to_string(id) + ")", dp(bufs[id]),
					  elems * sizeof(T), CUDA_ERROR_ILLEGAL_ADDRESS);
		};
		CUresult r = CUDA_SUCCESS;
		if (o.op == OP_EPILOGUE) {
			if (!oneBlock) {
				standin::diag(call, "op %lld: the epilogue in a kernel that does not run it", k);
				return CUDA_ERROR_ILLEGAL_ADDRESS;
			}
			if ((r = buf(o.a, 1, "cost")) ||
			    (r = checkRange(call, "parameter 3 (the batch offset)", dp(offset), 8, CUDA_ERROR_ILLEGAL_ADDRESS)))
				return r;
			if (o.cols <= 0) {
				standin::diag(call, "op %lld (epilogue): batch size %lld", k, o.cols);
				return CUDA_ERROR_ILLEGAL_ADDRESS;
			}
			const long long step = *offset / o.cols;
			if ((r = checkRange(call, "parameter 4 (the step costs), step " + std::to_string(step),
					    dp(costs + step), 8, CUDA_ERROR_ILLEGAL_ADDRESS)))
				return r;
			continue;
		}
		// By the op's operand form (opforms.h, generated from graph's op
		// table), so that a new op of an existing form needs no case here.
		switch (opForm(o.op)) {
		case FORM_ROW:
			if ((r = buf(o.dst, o.n, "destination")) || (r = buf(o.a, o.n, "first operand")))
				return r;
			if (o.cols <= 0) {
				standin::diag(call, "op %lld (AddRow): row length %lld", k, o.cols);
				return CUDA_ERROR_ILLEGAL_ADDRESS;
			}
			if ((r = buf(o.b, std::min(o.cols, o.n), "row operand")))
				return r;
			break;
		case FORM_BINARY:
			if ((r = buf(o.dst, o.n, "destination")) || (r = buf(o.a, o.n, "first operand")) ||
			    (r = buf(o.b, o.n, "second operand")))
				return r;
			break;
		case FORM_UNARY:
		case FORM_UPDATE:
			if ((r = buf(o.dst, o.n, "destination")) || (r = buf(o.a, o.n, "operand")))
				return r;
			break;
		case FORM_ROWS:
		case FORM_ROWCOSTS: {
			// A thread a row over every row: kernels.cu runs them in the
			// one-block kernel only, where no other block repeats them.
			if (!oneBlock) {
				standin::diag(call, "op %lld (opcode %lld): a row op in a kernel of many blocks", k, o.op);
				return CUDA_ERROR_ILLEGAL_ADDRESS;
			}
			if (o.rows <= 0 || o.cols <= 0) {
				standin::diag(call, "op %lld (opcode %lld): %lld rows of %lld", k, o.op, o.rows, o.cols);
				return CUDA_ERROR_ILLEGAL_ADDRESS;
			}
			const bool costs = opForm(o.op) == FORM_ROWCOSTS;
			if ((r = buf(o.dst, costs ? o.rows : o.rows * o.cols, "destination")) ||
			    (r = buf(o.a, o.rows * o.cols, "operand")) || (costs && (r = buf(o.b, o.rows * o.cols, "targets"))))
				return r;
			break;
		}
		case FORM_COLSUMS:
			if ((r = buf(o.dst, o.cols, "destination")) || (r = buf(o.a, o.rows * o.cols, "operand")))
				return r;
			break;
		case FORM_SCALAR:
			if ((r = buf(o.dst, 1, "destination")) || (r = buf(o.a, o.rows, "operand")))
				return r;
			break;
		case FORM_IM2COL:
		case FORM_COL2IM:
		case FORM_PERMUTE:
		case FORM_POOL:
		case FORM_POOLBACK:
		case FORM_MAP:
		case FORM_GROUPS:
		case FORM_MASK:
			if ((r = checkShaped(call, k, o, buf)))
				return r;
			break;
		default:
			standin::diag(call, "op %lld: unknown opcode %lld", k, o.op);
			return CUDA_ERROR_ILLEGAL_ADDRESS;
		}
	}
	return CUDA_SUCCESS;
}

template <class T> CUresult checkSeg1(const std::string &call, void *const *a) {
	return checkSegment<T>(call, at<const OpDesc *>(a, 0), at<long long>(a, 1), at<T *const *>(a, 2),
			       at<long long *>(a, 3), at<double *>(a, 4), true);
}

template <class T> CUresult checkSegn(const std::string &call, void *const *a) {
	return checkSegment<T>(call, at<const OpDesc *>(a, 0), at<long long>(a, 1), at<T *const *>(a, 2), nullptr,
			       nullptr, false);
}

// checkGather follows gt_gather: x and y for m rows, the offset, the order's
// m entries from the offset, and each image and label they name.
template <class T> CUresult checkGather(const std::string &call, void *const *a) {
	T *x = at<T *>(a, 0), *y = at<T *>(a, 1);
	auto images = at<const unsigned char *>(a, 2), labels = at<const unsigned char *>(a, 3);
	auto order = at<const int *>(a, 4);
	auto offset = at<const long long *>(a, 5);
	const long long base = at<long long>(a, 6), m = at<long long>(a, 7);
	const CUresult E = CUDA_ERROR_ILLEGAL_ADDRESS;
	CUresult r;
	if (m < 0) {
		standin::diag(call, "parameter 7 (m) is %lld, negative", m);
		return E;
	}
	if ((r = checkRange(call, "parameter 0 (x)", dp(x), m * PIXELS * sizeof(T), E)))
		return r;
	if (y && (r = checkRange(call, "parameter 1 (y)", dp(y), m * CLASSES * sizeof(T), E)))
		return r;
	if (offset && (r = checkRange(call, "parameter 5 (offset)", dp(offset), 8, E)))
		return r;
	const long long off = base + (offset ? *offset : 0);
	if (order && (r = checkRange(call, "parameter 4 (order) from entry " + std::to_string(off), dp(order + off),
				     m * sizeof(int), E)))
		return r;
	for (long long i = 0; i < m; i++) {
		const long long img = order ? order[off + i] : off + i;
		const std::string which = "image " + std::to_string(img) + " (row " + std::to_string(i) + ")";
		if ((r = checkRange(call, "parameter 2 (images): " + which, dp(images + img * PIXELS), PIXELS, E)))
			return r;
		if (y && (r = checkRange(call, "parameter 3 (labels): " + which, dp(labels + img), 1, E)))
			return r;
	}
	return CUDA_SUCCESS;
}

// nets reads a batched kernel's network count, parameter i: at least 1.
CUresult netsAt(const std::string &call, void *const *a, int i, long long &nets) {
	nets = at<long long>(a, i);
	if (nets < 1) {
		standin::diag(call, "parameter %d (nets) is %lld: a batched launch runs at least one network", i, nets);
		return CUDA_ERROR_ILLEGAL_ADDRESS;
	}
	return CUDA_SUCCESS;
}

// checkBseg1 and checkBsegn follow gt_bseg1 and gt_bsegn: each network's
// segment as the solo kernel's check takes it, from its own descriptors,
// buffer table, offset and costs.
template <class T> CUresult checkBseg1(const std::string &call, void *const *a) {
	long long nets;
	if (CUresult r = netsAt(call, a, 7, nets))
		return r;
	auto ops = at<const OpDesc *>(a, 0);
	const long long nops = at<long long>(a, 1), nbufs = at<long long>(a, 3), stride = at<long long>(a, 6);
	auto bufs = at<T *const *>(a, 2);
	auto offset = at<long long *>(a, 4);
	auto costs = at<double *>(a, 5);
	for (long long n = 0; n < nets; n++) {
		const std::string net = call + " (network " + std::to_string(n) + ")";
		if (CUresult r = checkSegment<T>(net, ops + n * nops, nops, bufs + n * nbufs, offset ? offset + n : offset,
						 costs ? costs + n * stride : costs, true))
			return r;
	}
	return CUDA_SUCCESS;
}

template <class T> CUresult checkBsegn(const std::string &call, void *const *a) {
	long long nets;
	if (CUresult r = netsAt(call, a, 4, nets))
		return r;
	auto ops = at<const OpDesc *>(a, 0);
	const long long nops = at<long long>(a, 1), nbufs = at<long long>(a, 3);
	auto bufs = at<T *const *>(a, 2);
	for (long long n = 0; n < nets; n++) {
		const std::string net = call + " (network " + std::to_string(n) + ")";
		if (CUresult r = checkSegment<T>(net, ops + n * nops, nops, bufs + n * nbufs, nullptr, nullptr, false))
			return r;
	}
	return CUDA_SUCCESS;
}

// checkBgather follows gt_bgather: gt_gather's check for each network, on
// its X, Y, order and offset.
template <class T> CUresult checkBgather(const std::string &call, void *const *a) {
	long long nets;
	if (CUresult r = netsAt(call, a, 11, nets))
		return r;
	T *x = at<T *>(a, 0), *y = at<T *>(a, 1);
	const long long xs = at<long long>(a, 2), ys = at<long long>(a, 3), os = at<long long>(a, 7);
	auto order = at<const int *>(a, 6);
	auto offset = at<const long long *>(a, 8);
	for (long long n = 0; n < nets; n++) {
		T *xn = x + n * xs, *yn = y ? y + n * ys : y;
		const int *on = order ? order + n * os : order;
		const long long *offn = offset ? offset + n : offset;
		void *const one[] = {&xn, &yn, a[4], a[5], &on, &offn, a[9], a[10]};
		if (CUresult r = checkGather<T>(call + " (network " + std::to_string(n) + ")", one))
			return r;
	}
	return CUDA_SUCCESS;
}

// checkKey follows gt_key: the key's words, the offset and the step count,
// a batch size of at least 1, and one thread.
template <class T> CUresult checkKey(const std::string &call, void *const *a) {
	const CUresult E = CUDA_ERROR_ILLEGAL_ADDRESS;
	CUresult r;
	if ((r = checkRange(call, "parameter 0 (the key)", dp(at<T *>(a, 0)), KEY_WORDS * sizeof(T), E)) ||
	    (r = checkRange(call, "parameter 1 (the offset)", dp(at<const long long *>(a, 1)), 8, E)) ||
	    (r = checkRange(call, "parameter 2 (the step count)", dp(at<const long long *>(a, 2)), 8, E)))
		return r;
	if (at<long long>(a, 3) < 1) {
		standin::diag(call, "parameter 3 (the batch size) is %lld", at<long long>(a, 3));
		return E;
	}
	return CUDA_SUCCESS;
}

template <class T> CUresult checkArgmax(const std::string &call, void *const *a) {
	auto out = at<const T *>(a, 0);
	const long long m = at<long long>(a, 1);
	auto pred = at<unsigned char *>(a, 2);
	const long long base = at<long long>(a, 3);
	auto labels = at<const unsigned char *>(a, 4);
	auto correct = at<unsigned long long *>(a, 5);
	const CUresult E = CUDA_ERROR_ILLEGAL_ADDRESS;
	CUresult r;
	if (m < 0) {
		standin::diag(call, "parameter 1 (m) is %lld, negative", m);
		return E;
	}
	if ((r = checkRange(call, "parameter 0 (out)", dp(out), m * CLASSES * sizeof(T), E)) ||
	    (r = checkRange(call, "parameter 2 (pred) from entry " + std::to_string(base), dp(pred + base), m, E)))
		return r;
	if (labels && correct &&
	    ((r = checkRange(call, "parameter 4 (labels)", dp(labels + base), m, E)) ||
	     (r = checkRange(call, "parameter 5 (correct)", dp(correct), 8, E))))
		return r;
	return CUDA_SUCCESS;
}

// kernel describes fn: its parameter sizes from its C++ signature, its
// check, and a runner that unpacks the arguments and runs the grid, as
// fibers when the kernel has barriers.
template <class... P>
standin::Kernel kernel(const char *name, void (*fn)(P...), bool barriers,
		       CUresult (*check)(const std::string &, void *const *)) {
	standin::Kernel k;
	k.name = name;
	k.params = {sizeof(P)...};
	k.check = check;
	k.run = [fn, barriers](unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
			       void *const *args) {
		std::tuple<P...> v;
		std::apply([&](auto &...p) {
			int i = 0;
			((std::memcpy(&p, args[i++], sizeof p)), ...);
		}, v);
		auto body = [&] { std::apply(fn, v); };
		if (barriers)
			emu::launch_fibers(dim3(gx, gy, gz), dim3(bx, by, bz), body);
		else
			emu::launch_seq(dim3(gx, gy, gz), dim3(bx, by, bz), body);
	};
	return k;
}

} // namespace

const std::vector<standin::Kernel> &standin::kernels() {
	static const std::vector<Kernel> all = {
		kernel("gt_seg1_f32", gt_seg1_f32, true, checkSeg1<float>),
		kernel("gt_seg1_f64", gt_seg1_f64, true, checkSeg1<double>),
		kernel("gt_segn_f32", gt_segn_f32, false, checkSegn<float>),
		kernel("gt_segn_f64", gt_segn_f64, false, checkSegn<double>),
		kernel("gt_gather_f32", gt_gather_f32, false, checkGather<float>),
		kernel("gt_gather_f64", gt_gather_f64, false, checkGather<double>),
		kernel("gt_key_f32", gt_key_f32, false, checkKey<float>),
		kernel("gt_key_f64", gt_key_f64, false, checkKey<double>),
		kernel("gt_argmax_f32", gt_argmax_f32, false, checkArgmax<float>),
		kernel("gt_argmax_f64", gt_argmax_f64, false, checkArgmax<double>),
		kernel("gt_bseg1_f32", gt_bseg1_f32, true, checkBseg1<float>),
		kernel("gt_bseg1_f64", gt_bseg1_f64, true, checkBseg1<double>),
		kernel("gt_bsegn_f32", gt_bsegn_f32, false, checkBsegn<float>),
		kernel("gt_bsegn_f64", gt_bsegn_f64, false, checkBsegn<double>),
		kernel("gt_bgather_f32", gt_bgather_f32, false, checkBgather<float>),
		kernel("gt_bgather_f64", gt_bgather_f64, false, checkBgather<double>),
	};
	return all;
}
