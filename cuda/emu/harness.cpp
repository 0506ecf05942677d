// harness runs the kernels of cuda/kernels.cu on the CPU (through
// cuda_emu.h) as a script on stdin tells it, for cuda/emu_test.go.
//
// The script is one command a line, words separated by spaces. The first
// line is "dtype 32" or "dtype 64". Floating-point values travel as C99 hex
// floats (or nan, inf, -inf) so that nothing is lost on the way.
//
//   table K                     make table K current (0 at the start): each
//                               program has its own table of buffers
//   buf ID LEN                  a buffer of LEN zeros, entry ID of the table
//   alias ID OF                 entry ID views entry OF's memory
//   share ID K OF               entry ID views entry OF of table K (the
//                               programs of several batch sizes share
//                               their parameters)
//   data ID V…                  set the first values of buffer ID
//   images HEX | labels HEX     the device-resident image set, hex bytes
//   order I…                    the int32 order of an epoch
//   offset V                    the batch offset the gather and epilogue use
//   costs N                     the per-step cost array, N zeros
//   pred N                      the prediction array, N bytes
//   seg1 BLOCK NOPS HEX         gt_seg1 on one block; HEX: the op descriptors
//   segn GRID BLOCK NOPS HEX    gt_segn
//   gemm TA TB M N K ALPHA A LDA B LDB BETA C LDC
//                               a column-major reference GEMM standing in for
//                               cuBLAS, on table entries A, B and C
//   gather GRID BLOCK X Y ORDER OFFSET BASE M
//                               gt_gather into entries X and Y (-1: no Y);
//                               ORDER and OFFSET are 0 or 1: pass them or null
//   argmax GRID BLOCK OUT M BASE LABELS
//                               gt_argmax of entry OUT; LABELS 0 or 1
//   dump ID                     print "buf ID V…"
//   state                       print the offset, costs, predictions, count
//   sizeof                      print "sizeof OpDesc N"
#include "cuda_emu.h"

#include "../kernels.cu"

#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

namespace {

[[noreturn]] void fail(const std::string &msg) {
	std::fprintf(stderr, "harness: %s\n", msg.c_str());
	std::exit(2);
}

double parse(const std::string &s) {
	char *end = nullptr;
	double v = std::strtod(s.c_str(), &end);
	if (end == s.c_str() || *end != '\0')
		fail("bad number " + s);
	return v;
}

void print(double v) {
	if (std::isnan(v))
		std::printf(" nan");
	else
		std::printf(" %a", v);
}

std::vector<unsigned char> unhex(const std::string &s) {
	if (s.size() % 2)
		fail("odd hex length");
	std::vector<unsigned char> out(s.size() / 2);
	for (size_t i = 0; i < out.size(); i++)
		out[i] = (unsigned char)std::stoi(s.substr(2 * i, 2), nullptr, 16);
	return out;
}

// The kernels for each dtype.
void seg1(dim3 b, const OpDesc *ops, long long n, float *const *t, long long *off, double *c) {
	emu::launch_fibers(dim3(1), b, [&] { gt_seg1_f32(ops, n, t, off, c); });
}
void seg1(dim3 b, const OpDesc *ops, long long n, double *const *t, long long *off, double *c) {
	emu::launch_fibers(dim3(1), b, [&] { gt_seg1_f64(ops, n, t, off, c); });
}
void segn(dim3 g, dim3 b, const OpDesc *ops, long long n, float *const *t) {
	emu::launch_seq(g, b, [&] { gt_segn_f32(ops, n, t); });
}
void segn(dim3 g, dim3 b, const OpDesc *ops, long long n, double *const *t) {
	emu::launch_seq(g, b, [&] { gt_segn_f64(ops, n, t); });
}
void gather(dim3 g, dim3 b, float *x, float *y, const unsigned char *im, const unsigned char *lb, const int *o,
	    const long long *off, long long base, long long m) {
	emu::launch_seq(g, b, [&] { gt_gather_f32(x, y, im, lb, o, off, base, m); });
}
void gather(dim3 g, dim3 b, double *x, double *y, const unsigned char *im, const unsigned char *lb, const int *o,
	    const long long *off, long long base, long long m) {
	emu::launch_seq(g, b, [&] { gt_gather_f64(x, y, im, lb, o, off, base, m); });
}
void argmax(dim3 g, dim3 b, const float *out, long long m, unsigned char *p, long long base, const unsigned char *lb,
	    unsigned long long *c) {
	emu::launch_seq(g, b, [&] { gt_argmax_f32(out, m, p, base, lb, c); });
}
void argmax(dim3 g, dim3 b, const double *out, long long m, unsigned char *p, long long base, const unsigned char *lb,
	    unsigned long long *c) {
	emu::launch_seq(g, b, [&] { gt_argmax_f64(out, m, p, base, lb, c); });
}

// gemm is the reference column-major product C = alpha·op(A)·op(B) + beta·C
// with BLAS's argument conventions, C m×n, op(A) m×k, op(B) k×n.
template <typename T>
void gemm(bool ta, bool tb, int m, int n, int k, T alpha, const T *a, int lda, const T *b, int ldb, T beta, T *c,
	  int ldc) {
	for (int j = 0; j < n; j++)
		for (int i = 0; i < m; i++) {
			T s = 0;
			for (int l = 0; l < k; l++) {
				const T x = ta ? a[l + i * lda] : a[i + l * lda];
				const T y = tb ? b[j + l * ldb] : b[l + j * ldb];
				s += x * y;
			}
			T &out = c[i + j * ldc];
			out = beta == 0 ? alpha * s : alpha * s + beta * out;
		}
}

template <typename T> int run() {
	std::map<std::pair<long long, long long>, std::vector<T>> storage; // by table, entry
	std::map<long long, std::vector<T *>> tables;
	std::vector<T *> *cur = &tables[0];
	long long curID = 0;
	std::vector<unsigned char> images, labels, pred;
	std::vector<int> order;
	std::vector<double> costs;
	long long offset = 0;
	unsigned long long correct = 0;
	auto entryOf = [&](std::vector<T *> &table, long long id) -> T * {
		if (id < 0 || id >= (long long)table.size() || !table[id])
			fail("no buffer " + std::to_string(id));
		return table[id];
	};
	auto entry = [&](long long id) { return entryOf(*cur, id); };
	auto setEntry = [&](long long id, T *p) {
		if ((long long)cur->size() <= id)
			cur->resize(id + 1);
		(*cur)[id] = p;
	};
	auto ops = [&](long long n, const std::string &hex) {
		std::vector<unsigned char> raw = unhex(hex);
		if ((long long)raw.size() != n * (long long)sizeof(OpDesc))
			fail("descriptor bytes do not match the op count");
		std::vector<OpDesc> out(n);
		std::memcpy(out.data(), raw.data(), raw.size());
		return out;
	};
	std::string line;
	while (std::getline(std::cin, line)) {
		std::istringstream in(line);
		std::string cmd;
		if (!(in >> cmd))
			continue;
		if (cmd == "table") {
			in >> curID;
			cur = &tables[curID];
		} else if (cmd == "buf") {
			long long id, n;
			in >> id >> n;
			auto &v = storage[{curID, id}];
			v.assign(n, T(0));
			setEntry(id, v.data());
		} else if (cmd == "alias") {
			long long id, of;
			in >> id >> of;
			setEntry(id, entry(of));
		} else if (cmd == "share") {
			long long id, k, of;
			in >> id >> k >> of;
			setEntry(id, entryOf(tables[k], of));
		} else if (cmd == "data") {
			long long id;
			in >> id;
			T *p = entry(id);
			std::string v;
			for (long long i = 0; in >> v; i++)
				p[i] = (T)parse(v);
		} else if (cmd == "images" || cmd == "labels") {
			std::string hex;
			in >> hex;
			(cmd == "images" ? images : labels) = unhex(hex);
		} else if (cmd == "order") {
			long long v;
			order.clear();
			while (in >> v)
				order.push_back((int)v);
		} else if (cmd == "offset") {
			in >> offset;
		} else if (cmd == "costs") {
			long long n;
			in >> n;
			costs.assign(n, 0);
		} else if (cmd == "pred") {
			long long n;
			in >> n;
			pred.assign(n, 0);
			correct = 0;
		} else if (cmd == "seg1") {
			long long block, n;
			std::string hex;
			in >> block >> n >> hex;
			std::vector<OpDesc> o = ops(n, hex);
			seg1(dim3(block), o.data(), n, cur->data(), &offset, costs.data());
		} else if (cmd == "segn") {
			long long grid, block, n;
			std::string hex;
			in >> grid >> block >> n >> hex;
			std::vector<OpDesc> o = ops(n, hex);
			segn(dim3(grid), dim3(block), o.data(), n, cur->data());
		} else if (cmd == "gemm") {
			int ta, tb, m, n, k, lda, ldb, ldc;
			long long a, b, c;
			std::string alpha, beta;
			in >> ta >> tb >> m >> n >> k >> alpha >> a >> lda >> b >> ldb >> beta >> c >> ldc;
			gemm<T>(ta, tb, m, n, k, (T)parse(alpha), entry(a), lda, entry(b), ldb, (T)parse(beta), entry(c),
				ldc);
		} else if (cmd == "gather") {
			long long grid, block, x, y, useOrder, useOffset, base, m;
			in >> grid >> block >> x >> y >> useOrder >> useOffset >> base >> m;
			gather(dim3(grid), dim3(block), entry(x), y < 0 ? nullptr : entry(y), images.data(), labels.data(),
			       useOrder ? order.data() : nullptr, useOffset ? &offset : nullptr, base, m);
		} else if (cmd == "argmax") {
			long long grid, block, out, m, base, useLabels;
			in >> grid >> block >> out >> m >> base >> useLabels;
			argmax(dim3(grid), dim3(block), entry(out), m, pred.data(), base,
			       useLabels ? labels.data() : nullptr, useLabels ? &correct : nullptr);
		} else if (cmd == "dump") {
			long long id;
			in >> id;
			T *p = entry(id);
			long long n = 0;
			for (auto &[key, v] : storage)
				if (v.data() == p)
					n = (long long)v.size();
			std::printf("buf %lld", id);
			for (long long i = 0; i < n; i++)
				print((double)p[i]);
			std::printf("\n");
		} else if (cmd == "state") {
			std::printf("offset %lld\ncosts", offset);
			for (double c : costs)
				print(c);
			std::printf("\npred");
			for (unsigned char p : pred)
				std::printf(" %d", p);
			std::printf("\ncorrect %llu\n", correct);
		} else if (cmd == "sizeof") {
			std::printf("sizeof OpDesc %zu\n", sizeof(OpDesc));
		} else {
			fail("unknown command " + cmd);
		}
		if (cmd != "data" && cmd != "order" && in.fail())
			fail("bad arguments: " + line);
	}
	std::fflush(stdout);
	return 0;
}

} // namespace

int main() {
	std::ios::sync_with_stdio(false);
	std::string cmd, bits;
	if (!(std::cin >> cmd >> bits) || cmd != "dtype")
		fail("the script must start with dtype 32 or dtype 64");
	std::string rest;
	std::getline(std::cin, rest);
	if (bits == "32")
		return run<float>();
	if (bits == "64")
		return run<double>();
	fail("dtype " + bits);
}
