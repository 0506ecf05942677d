// driver.cpp: the stand-in's libcuda.so.1, the CUDA driver API calls that
// gputrain's CUDA backend makes, on the CPU, with CUDA's rules enforced.
// See standin.h for what it is and what it cannot show.
//
// One device, "gputrain CPU stand-in (not a GPU)", compute capability 9.0.
// Device memory is host memory (a device pointer is the host address), so
// the kernels of kernels.cu run on it directly; every allocation, stream,
// module and graph is tracked so that each call can be held to the rules:
//
//   - pointers handed to kernels, copies, memsets (and cuBLAS) lie inside
//     live allocations: use after free, double free, overruns are caught;
//   - during stream capture, no allocation, free, synchronisation or copy
//     from pageable host memory (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; the
//     capture is invalidated and cuStreamEndCapture says so);
//   - launches within the grid and block limits and the entry's .maxntid,
//     with parameters as the PTX declares them, and the PTX's entries taking
//     the parameters kernels.cu's do (a stale kernels.ptx is refused);
//   - handles of another (or a destroyed) context are refused;
//   - a memory cap, GPUTRAIN_STANDIN_MEM bytes (default 2 GiB);
//   - new allocations hold NaN (every byte 0xFF), as do freed ones;
//   - allocations still live when their context is destroyed (or the primary
//     context released for the last time) are reported; with
//     GPUTRAIN_STANDIN_STRICT=1 the process then exits with status 3 (a Go
//     program's exit runs no C atexit handlers, so it cannot wait for exit).
//
// Other settings: GPUTRAIN_STANDIN_DEVICES=0 hides the device (cuInit fails
// with CUDA_ERROR_NO_DEVICE); GPUTRAIN_STANDIN_DRIVER_VERSION sets what
// cuDriverGetVersion says (default 12040) and so the newest PTX ISA the
// stand-in accepts; GPUTRAIN_STANDIN_STATS=1 adds a line at each context's
// end counting the work run as issued, the graphs captured and the work
// their launches replayed, so a test can tell captured steps from the
// per-kernel fallback; GPUTRAIN_STANDIN_ASYNC=1 defers work on a stream to
// its next synchronisation (cuStreamSynchronize, cuCtxSynchronize, a
// synchronous copy or memset for the null and blocking streams, a free), as
// a GPU may, so that host code reading a copy's pinned destination too early,
// or rewriting a pinned source before the copy ran, sees the difference.
// GPUTRAIN_STANDIN_FAIL=TAG:K makes the K-th driver or cuBLAS call fail
// once (standin::injected, in standin.h, has the rule and the errors), so
// that a test can fail each call a program makes in turn;
// GPUTRAIN_STANDIN_FAIL_REPORT=PATH says to which call it fell.
#include "standin.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <unistd.h>

namespace {

const char *const kDeviceName = "gputrain CPU stand-in (not a GPU)";
const size_t kAlign = 256;
const size_t kQuarantine = 256u << 20; // freed bytes kept mapped and poisoned

struct Ctx {
	Ctx(int id, bool primary) : id(id), primary(primary) {}
	int id;
	bool primary;
	bool alive = true;
	// What ran in the context, for GPUTRAIN_STANDIN_STATS=1.
	long direct = 0, captured = 0, replays = 0, replayed = 0;
	// The null stream's work not yet run (GPUTRAIN_STANDIN_ASYNC=1).
	std::deque<standin::Job> nullPending;
};

struct Entry {
	std::string name;
	std::vector<size_t> sizes, offsets;
	size_t bytes = 0;
	unsigned maxntid[3] = {0, 0, 0};
	const standin::Kernel *impl = nullptr;
};

struct Module {
	Ctx *ctx;
	bool alive = true;
	std::map<std::string, Entry> entries;
	std::map<std::string, struct Func *> funcs;
};

struct Func {
	Module *mod;
	const Entry *entry;
};

enum CaptureState { kNone, kActive, kInvalidated };

struct Stream {
	Ctx *ctx;
	unsigned flags;
	bool alive = true;
	CaptureState cap = kNone;
	CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
	std::thread::id thread;
	std::vector<standin::Job> jobs;   // recorded by the capture in progress
	std::deque<standin::Job> pending; // not yet run (GPUTRAIN_STANDIN_ASYNC=1)
};

struct Graph {
	Ctx *ctx;
	bool alive = true;
	std::vector<standin::Job> jobs;
};

struct Alloc {
	size_t size;
	Ctx *ctx;
	std::string by; // the call that made or freed it
	// abandoned: an injected fault refused its free (GPUTRAIN_STANDIN_FAIL),
	// so its context's destruction frees it without calling it a leak.
	bool abandoned = false;
};

enum Kind { kCtx = 1, kModule, kFunc, kStream, kGraph, kExec };

struct State {
	bool inited = false;
	int devices = 1;
	int driverVersion = 12040;
	size_t cap = size_t(2) << 30;
	bool strict = false;
	bool stats = false;
	bool async = false;
	std::map<const void *, Kind> handles; // every handle ever made: never reused
	std::map<uint64_t, Alloc> live, freed, pinned;
	std::deque<std::pair<void *, size_t>> quarantine;
	size_t quarantined = 0;
	size_t used = 0;
	Ctx *primary = nullptr;
	int primaryRefs = 0;
	int nextCtx = 1;
	std::vector<Stream *> streams;
};

State &S() {
	static State *s = [] {
		State *s = new State; // never destroyed: calls may come during exit
		if (const char *v = getenv("GPUTRAIN_STANDIN_MEM"); v && *v)
			s->cap = strtoull(v, nullptr, 0);
		if (const char *v = getenv("GPUTRAIN_STANDIN_DEVICES"); v && *v)
			s->devices = atoi(v) > 0 ? 1 : 0;
		if (const char *v = getenv("GPUTRAIN_STANDIN_DRIVER_VERSION"); v && *v)
			s->driverVersion = atoi(v);
		if (const char *v = getenv("GPUTRAIN_STANDIN_STRICT"); v && *v == '1')
			s->strict = true;
		if (const char *v = getenv("GPUTRAIN_STANDIN_STATS"); v && *v == '1')
			s->stats = true;
		if (const char *v = getenv("GPUTRAIN_STANDIN_ASYNC"); v && *v == '1')
			s->async = true;
		return s;
	}();
	return *s;
}

thread_local std::vector<Ctx *> ctxStack;

#define LOCK std::lock_guard<std::recursive_mutex> guard_(standin::lock())

std::string hex(uint64_t v) {
	char b[32];
	snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
	return b;
}

template <class T> T *handle(const void *h, Kind k) {
	auto it = S().handles.find(h);
	return it != S().handles.end() && it->second == k ? (T *)h : nullptr;
}

template <class T> const void *newHandle(T *p, Kind k) {
	S().handles[p] = k;
	return p;
}

CUresult needInit(const char *call) {
	if (!S().inited) {
		standin::diag(call, "called before cuInit");
		return CUDA_ERROR_NOT_INITIALIZED;
	}
	return CUDA_SUCCESS;
}

CUresult needDevice(const char *call, CUdevice d) {
	if (CUresult r = needInit(call))
		return r;
	if (d != 0 || S().devices == 0) {
		standin::diag(call, "device %d does not exist (the stand-in has device 0 only)", (int)d);
		return CUDA_ERROR_INVALID_DEVICE;
	}
	return CUDA_SUCCESS;
}

// needCtx reports unless the calling thread has a live current context.
CUresult needCtx(const char *call, Ctx **out = nullptr) {
	if (CUresult r = needInit(call))
		return r;
	if (ctxStack.empty() || !ctxStack.back()) {
		standin::diag(call, "no current context on this thread");
		return CUDA_ERROR_INVALID_CONTEXT;
	}
	if (!ctxStack.back()->alive) {
		standin::diag(call, "the current context (%d) was destroyed", ctxStack.back()->id);
		return CUDA_ERROR_CONTEXT_IS_DESTROYED;
	}
	if (out)
		*out = ctxStack.back();
	return CUDA_SUCCESS;
}

// liveCtx finds the context c, refusing one destroyed (or released).
CUresult liveCtx(const char *call, CUcontext c, Ctx **out) {
	Ctx *x = handle<Ctx>(c, kCtx);
	if (!x || !x->alive) {
		standin::diag(call, "%s", x ? "the context was destroyed (or released)" : "not a context");
		return CUDA_ERROR_INVALID_CONTEXT;
	}
	*out = x;
	return CUDA_SUCCESS;
}

// sameCtx refuses a handle made in another context than the current one.
CUresult sameCtx(const char *call, const char *what, Ctx *of) {
	Ctx *cur = ctxStack.empty() ? nullptr : ctxStack.back();
	if (of != cur) {
		standin::diag(call, "%s belongs to context %d, but context %d is current", what, of->id, cur ? cur->id : 0);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	return CUDA_SUCCESS;
}

void poisonAndQuarantine(void *p, size_t size) {
	memset(p, 0xFF, size);
	State &s = S();
	s.quarantine.emplace_back(p, size);
	s.quarantined += size;
	while (s.quarantined > kQuarantine && s.quarantine.size() > 1) {
		free(s.quarantine.front().first);
		s.quarantined -= s.quarantine.front().second;
		s.quarantine.pop_front();
	}
}

// forgetFreed drops the record of freed ranges that [p, p+size) now reuses.
void forgetFreed(uint64_t p, size_t size) {
	auto &f = S().freed;
	auto it = f.upper_bound(p);
	if (it != f.begin())
		--it;
	while (it != f.end() && it->first < p + size) {
		if (it->first + it->second.size > p)
			it = f.erase(it);
		else
			++it;
	}
}

// find returns the range of m holding p, or end.
std::map<uint64_t, Alloc>::iterator find(std::map<uint64_t, Alloc> &m, uint64_t p) {
	auto it = m.upper_bound(p);
	if (it == m.begin())
		return m.end();
	--it;
	return p < it->first + it->second.size ? it : m.end();
}

Stream *streamOf(CUstream s) { return (s == nullptr || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD) ? nullptr : (Stream *)s; }

// drain runs a queue of deferred work in order (GPUTRAIN_STANDIN_ASYNC=1),
// returning the first error, as a synchronisation reports an earlier
// launch's fault.
CUresult drain(std::deque<standin::Job> &q) {
	CUresult first = CUDA_SUCCESS;
	while (!q.empty()) {
		standin::Job j = std::move(q.front());
		q.pop_front();
		CUresult r = j.run(j.call + " (run at a later synchronisation: GPUTRAIN_STANDIN_ASYNC=1)");
		if (first == CUDA_SUCCESS)
			first = r;
	}
	return first;
}

// syncStream runs what s (the null stream: the current context's) has
// deferred.
CUresult syncStream(CUstream s) {
	if (Stream *st = streamOf(s))
		return drain(st->pending);
	return ctxStack.empty() || !ctxStack.back() ? CUDA_SUCCESS : drain(ctxStack.back()->nullPending);
}

// syncCtx runs what c's streams have deferred: all of them, or only the
// null stream and the blocking streams, which is what a synchronous call on
// the legacy stream waits for; non-blocking streams go on.
CUresult syncCtx(Ctx *c, bool blockingOnly) {
	CUresult first = CUDA_SUCCESS;
	for (Stream *st : S().streams)
		if (st->ctx == c && !(blockingOnly && (st->flags & CU_STREAM_NON_BLOCKING)))
			if (CUresult r = drain(st->pending); first == CUDA_SUCCESS)
				first = r;
	if (CUresult r = drain(c->nullPending); first == CUDA_SUCCESS)
		first = r;
	return first;
}

// isPinned reports whether [p, p+n) lies in pinned host memory.
bool isPinned(const void *p, size_t n) {
	auto it = find(S().pinned, (uint64_t)(uintptr_t)p);
	return it != S().pinned.end() && (uint64_t)(uintptr_t)p + n <= it->first + it->second.size;
}

// Fault is GPUTRAIN_STANDIN_FAIL=TAG:K as last seen, and how many calls
// have been counted since it took that value.
struct Fault {
	std::string value; // "" while unset
	std::string tag;
	long k = 0; // 0: no fault (unset, empty or not TAG:K)
	long calls = 0;
	std::string fired; // the call it fell on, once it has
};

Fault &F() {
	static Fault *f = new Fault;
	return *f;
}

// faultNote says which call the current GPUTRAIN_STANDIN_FAIL fell on, if
// one did, for the leak report.
std::string faultNote() {
	const Fault &f = F();
	return f.fired.empty() ? "" : " (after GPUTRAIN_STANDIN_FAIL=" + f.value + " failed " + f.fired + ")";
}

// teardown frees what a context still holds, reporting it as leaked, and
// retires its streams, modules and graphs.
void teardown(Ctx *c, const char *call) {
	State &s = S();
	syncCtx(c, false); // destroying a context waits for its work
	size_t n = 0, bytes = 0, pinned = 0;
	std::string first;
	for (auto it = s.live.begin(); it != s.live.end();) {
		if (it->second.ctx != c) {
			++it;
			continue;
		}
		if (!it->second.abandoned) {
			if (first.empty())
				first = hex(it->first) + " (" + std::to_string(it->second.size) + " bytes)";
			n++;
			bytes += it->second.size;
		}
		s.used -= it->second.size;
		s.freed[it->first] = {it->second.size, c, call};
		poisonAndQuarantine((void *)it->first, it->second.size);
		it = s.live.erase(it);
	}
	for (auto it = s.pinned.begin(); it != s.pinned.end();) {
		if (it->second.ctx != c) {
			++it;
			continue;
		}
		pinned += !it->second.abandoned;
		free((void *)it->first);
		it = s.pinned.erase(it);
	}
	for (auto &[h, k] : s.handles) {
		if (k == kStream && ((Stream *)h)->ctx == c)
			((Stream *)h)->alive = false;
		if (k == kModule && ((Module *)h)->ctx == c)
			((Module *)h)->alive = false;
		if ((k == kGraph || k == kExec) && ((Graph *)h)->ctx == c)
			((Graph *)h)->alive = false;
	}
	s.streams.erase(std::remove_if(s.streams.begin(), s.streams.end(), [](Stream *st) { return !st->alive; }),
			s.streams.end());
	c->alive = false;
	if (s.stats)
		standin::diag(call, "context %d statistics: %ld jobs run as issued, %ld graphs captured, %ld graph launches replaying %ld jobs",
			      c->id, c->direct, c->captured, c->replays, c->replayed);
	if (n || pinned) {
		standin::diag(call,
			      "context %d leaked %zu device allocations (%zu bytes; first %s) and %zu pinned host "
			      "allocations: freed with the context%s",
			      c->id, n, bytes, first.c_str(), pinned, faultNote().c_str());
		if (s.strict) {
			standin::diag(call, "GPUTRAIN_STANDIN_STRICT=1: exiting with status 3 on the leak");
			fflush(stderr);
			_exit(3);
		}
	}
}

// allocate makes n bytes of host memory for a device or pinned allocation.
void *allocate(size_t n) {
	void *p = nullptr;
	if (posix_memalign(&p, kAlign, (n + kAlign - 1) / kAlign * kAlign) != 0)
		return nullptr;
	memset(p, 0xFF, n); // NaN in every float and double, so unwritten reads show
	return p;
}

// ptxVersionFor is the newest PTX ISA a driver of version v JIT-compiles.
int ptxVersionFor(int v) {
	static const int table[][2] = {{13000, 90}, {12080, 87}, {12050, 85}, {12040, 84}, {12030, 83},
				       {12020, 82}, {12010, 81}, {12000, 80}, {11080, 78}, {11070, 77},
				       {11060, 76}, {11050, 75}, {11040, 74}, {11030, 73}, {11020, 72},
				       {11010, 71}, {11000, 70}};
	for (auto &t : table)
		if (v >= t[0])
			return t[1];
	return 60;
}

// parsePTX reads each entry's parameter list and .maxntid from PTX text. It
// returns an empty string, or what is wrong.
std::string parsePTX(const std::string &ptx, std::map<std::string, Entry> &out, int &version, int &target) {
	version = target = 0;
	size_t v = ptx.find(".version ");
	if (v == std::string::npos)
		return "no .version directive: not PTX text (the stand-in loads only PTX)";
	int major = 0, minor = 0;
	if (sscanf(ptx.c_str() + v, ".version %d.%d", &major, &minor) != 2)
		return "unreadable .version directive";
	version = major * 10 + minor;
	size_t t = ptx.find(".target sm_");
	if (t == std::string::npos || sscanf(ptx.c_str() + t, ".target sm_%d", &target) != 1)
		return "no .target sm_NN directive";
	for (size_t at = 0; (at = ptx.find(".entry ", at)) != std::string::npos;) {
		at += 7;
		size_t open = ptx.find('(', at), body = ptx.find('{', at);
		if (open == std::string::npos || body == std::string::npos || open > body)
			return "an .entry without a parameter list";
		Entry e;
		size_t b = at;
		while (b < open && isspace((unsigned char)ptx[b]))
			b++;
		size_t nameEnd = b;
		while (nameEnd < open && !isspace((unsigned char)ptx[nameEnd]))
			nameEnd++;
		e.name = ptx.substr(b, nameEnd - b);
		size_t close = ptx.find(')', open);
		if (close == std::string::npos || close > body)
			return "entry " + e.name + ": unterminated parameter list";
		// Each ".param [.align N] .TYPE name[COUNT]", separated by commas.
		std::string list = ptx.substr(open + 1, close - open - 1);
		size_t pos = 0;
		while ((pos = list.find(".param", pos)) != std::string::npos) {
			size_t end = list.find(',', pos);
			std::string p = list.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
			pos = end == std::string::npos ? list.size() : end + 1;
			size_t align = 0, elem = 0, count = 1;
			if (size_t a = p.find(".align "); a != std::string::npos)
				align = strtoul(p.c_str() + a + 7, nullptr, 10);
			for (const char *ty : {".u", ".s", ".b", ".f"}) {
				for (size_t q = p.find(ty); q != std::string::npos; q = p.find(ty, q + 1))
					if (isdigit((unsigned char)p[q + 2])) {
						elem = strtoul(p.c_str() + q + 2, nullptr, 10) / 8;
						break;
					}
				if (elem)
					break;
			}
			if (size_t br = p.find('['); br != std::string::npos)
				count = strtoul(p.c_str() + br + 1, nullptr, 10);
			if (!elem || !count)
				return "entry " + e.name + ": unreadable parameter \"" + p + "\"";
			if (!align)
				align = elem;
			e.bytes = (e.bytes + align - 1) / align * align;
			e.offsets.push_back(e.bytes);
			e.sizes.push_back(elem * count);
			e.bytes += elem * count;
		}
		std::string between = ptx.substr(close, body - close);
		if (size_t m = between.find(".maxntid"); m != std::string::npos) {
			unsigned x = 0, y = 1, z = 1;
			if (sscanf(between.c_str() + m, ".maxntid %u, %u, %u", &x, &y, &z) < 1)
				return "entry " + e.name + ": unreadable .maxntid";
			e.maxntid[0] = x, e.maxntid[1] = y, e.maxntid[2] = z;
		}
		out[e.name] = e;
		at = body;
	}
	if (out.empty())
		return "no .entry in the module";
	return "";
}

std::string sizesOf(const std::vector<size_t> &v) {
	std::string s;
	for (size_t x : v)
		s += (s.empty() ? "" : ",") + std::to_string(x);
	return "(" + s + ")";
}

// fillLog copies text into a JIT log buffer option pair, as the driver does:
// NUL-terminated, cut to the buffer, the size option set to what was written.
void fillLog(unsigned n, CUjit_option *opts, void **vals, CUjit_option buf, CUjit_option size, const std::string &text) {
	char *b = nullptr;
	int sizeAt = -1;
	for (unsigned i = 0; i < n; i++) {
		if (opts[i] == buf)
			b = (char *)vals[i];
		if (opts[i] == size)
			sizeAt = (int)i;
	}
	if (!b || sizeAt < 0)
		return;
	const size_t cap = (size_t)(uintptr_t)vals[sizeAt];
	if (cap == 0)
		return;
	const size_t len = std::min(text.size(), cap - 1);
	memcpy(b, text.data(), len);
	b[len] = 0;
	vals[sizeAt] = (void *)(uintptr_t)(len + 1);
}

CUresult loadModule(const char *call, CUmodule *module, const void *image, unsigned n, CUjit_option *opts, void **vals) {
	Ctx *c;
	if (CUresult r = needCtx(call, &c))
		return r;
	if (!module || !image || (n && (!opts || !vals))) {
		standin::diag(call, "null module, image or option array");
		return CUDA_ERROR_INVALID_VALUE;
	}
	for (unsigned i = 0; i < n; i++)
		if ((int)opts[i] < 0 || opts[i] >= CU_JIT_NUM_OPTIONS) {
			standin::diag(call, "option %u is %d, not a CUjit_option", i, (int)opts[i]);
			return CUDA_ERROR_INVALID_VALUE;
		}
	auto fail = [&](CUresult r, const std::string &why) {
		standin::diag(call, "%s", why.c_str());
		fillLog(n, opts, vals, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
			"standin: " + why + "\n");
		fillLog(n, opts, vals, CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, "");
		return r;
	};
	if (standin::injected(call))
		return fail(CUDA_ERROR_INVALID_PTX, std::string("GPUTRAIN_STANDIN_FAIL=") + getenv("GPUTRAIN_STANDIN_FAIL") +
							    ": an injected fault (the PTX was not read)");
	const std::string ptx((const char *)image);
	auto *m = new Module;
	m->ctx = c;
	int version, target;
	std::string why = parsePTX(ptx, m->entries, version, target);
	if (!why.empty())
		return fail(CUDA_ERROR_INVALID_IMAGE, why);
	const int maxVersion = ptxVersionFor(S().driverVersion);
	if (version > maxVersion)
		return fail(CUDA_ERROR_UNSUPPORTED_PTX_VERSION,
			    "PTX ISA " + std::to_string(version / 10) + "." + std::to_string(version % 10) +
				    " is newer than driver " + std::to_string(S().driverVersion) + " compiles (up to " +
				    std::to_string(maxVersion / 10) + "." + std::to_string(maxVersion % 10) + ")");
	if (target > 90)
		return fail(CUDA_ERROR_INVALID_PTX, "ptxas: .target sm_" + std::to_string(target) +
							    " is newer than the device (compute capability 9.0)");
	for (auto &[name, e] : m->entries) {
		for (const auto &k : standin::kernels())
			if (name == k.name)
				e.impl = &k;
		if (e.impl && e.impl->params != e.sizes)
			return fail(CUDA_ERROR_INVALID_PTX,
				    "entry " + name + " takes parameters of " + sizesOf(e.sizes) +
					    " bytes in the PTX but " + sizesOf(e.impl->params) +
					    " in kernels.cu: the PTX is stale (make ptx)");
	}
	std::string info = "standin: " + std::to_string(m->entries.size()) + " entries of PTX ISA " +
			   std::to_string(version / 10) + "." + std::to_string(version % 10) + " for sm_" +
			   std::to_string(target) + " taken, not compiled: kernels.cu runs on the CPU in their place\n";
	fillLog(n, opts, vals, CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, info);
	fillLog(n, opts, vals, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, "");
	*module = (CUmodule)newHandle(m, kModule);
	return CUDA_SUCCESS;
}

CUresult primaryRelease(const char *call, CUdevice d) {
	if (standin::injected(call))
		return CUDA_ERROR_INVALID_CONTEXT;
	LOCK;
	if (CUresult r = needDevice(call, d))
		return r;
	State &s = S();
	if (s.primaryRefs == 0) {
		standin::diag(call, "the primary context is not retained");
		return CUDA_ERROR_INVALID_CONTEXT;
	}
	if (--s.primaryRefs == 0) {
		teardown(s.primary, call);
		s.primary = nullptr;
	}
	return CUDA_SUCCESS;
}

// memcpyCheck validates a copy's host side.
CUresult hostSide(const char *call, const void *p, size_t n, CUstream s, const char *dir) {
	if (!p && n) {
		standin::diag(call, "null host pointer");
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (!n || !standin::capturing(s))
		return CUDA_SUCCESS;
	if (!isPinned(p, n)) {
		standin::diag(call,
			      "copy %s pageable host memory %s (%zu bytes) during stream capture: not permitted; the "
			      "capture is invalidated (stage it through cuMemAllocHost memory)",
			      dir, hex((uint64_t)(uintptr_t)p).c_str(), n);
		((Stream *)s)->cap = kInvalidated;
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	}
	return CUDA_SUCCESS;
}

CUresult asyncCopy(const char *call, void *dst, const void *src, size_t n, CUstream s, bool toDevice) {
	if (standin::injected(call))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (CUresult r = needCtx(call))
		return r;
	if (CUresult r = standin::checkStream(call, s))
		return r;
	const CUdeviceptr dev = (CUdeviceptr)(uintptr_t)(toDevice ? dst : src);
	if (CUresult r = standin::checkRange(call, toDevice ? "the destination" : "the source", dev, n,
					     CUDA_ERROR_INVALID_VALUE))
		return r;
	if (CUresult r = hostSide(call, toDevice ? src : dst, n, s, toDevice ? "from" : "into"))
		return r;
	const std::string what = toDevice ? "the destination" : "the source";
	standin::Job job{call, [=](const std::string &c) {
				 if (CUresult r = standin::checkRange(c, what, dev, n, CUDA_ERROR_ILLEGAL_ADDRESS))
					 return r;
				 memcpy(dst, src, n);
				 return CUDA_SUCCESS;
			 }};
	// A copy with pageable host memory is synchronous: the stream's earlier
	// work runs first, and the copy is done (or staged) when the call returns.
	if (S().async && !standin::capturing(s) && !isPinned(toDevice ? src : dst, n)) {
		if (CUresult r = syncStream(s))
			return r;
		ctxStack.back()->direct++;
		return job.run(call);
	}
	return standin::enqueue(s, std::move(job));
}

CUresult syncCopy(const char *call, void *dst, const void *src, size_t n, bool toDevice) {
	if (standin::injected(call))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (CUresult r = needCtx(call))
		return r;
	if (CUresult r = standin::prohibitedInCapture(call, "a synchronous copy"))
		return r;
	if (CUresult r = syncCtx(ctxStack.back(), true))
		return r;
	const CUdeviceptr dev = (CUdeviceptr)(uintptr_t)(toDevice ? dst : src);
	if (CUresult r = standin::checkRange(call, toDevice ? "the destination" : "the source", dev, n,
					     CUDA_ERROR_INVALID_VALUE))
		return r;
	if (CUresult r = hostSide(call, toDevice ? src : dst, n, nullptr, ""))
		return r;
	if (n)
		memcpy(dst, src, n);
	return CUDA_SUCCESS;
}

CUresult hostAlloc(const char *call, void **pp, size_t bytes) {
	if (standin::injected(call))
		return CUDA_ERROR_OUT_OF_MEMORY;
	LOCK;
	Ctx *c;
	if (CUresult r = needCtx(call, &c))
		return r;
	if (!pp || !bytes) {
		standin::diag(call, "null pointer or zero bytes");
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (CUresult r = standin::prohibitedInCapture(call, "a pinned host allocation"))
		return r;
	void *p = allocate(bytes);
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	S().pinned[(uint64_t)(uintptr_t)p] = {bytes, c, call};
	*pp = p;
	return CUDA_SUCCESS;
}

CUresult instantiate(const char *call, CUgraphExec *out, CUgraph g) {
	if (standin::injected(call))
		return CUDA_ERROR_OUT_OF_MEMORY;
	LOCK;
	if (CUresult r = needCtx(call))
		return r;
	Graph *gr = handle<Graph>(g, kGraph);
	if (!out || !gr || !gr->alive) {
		standin::diag(call, "%s", !out ? "null output" : "not a live graph");
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (CUresult r = sameCtx(call, "the graph", gr->ctx))
		return r;
	auto *e = new Graph{gr->ctx, true, gr->jobs};
	*out = (CUgraphExec)newHandle(e, kExec);
	return CUDA_SUCCESS;
}

// destroyGraph retires a graph or an executable graph (kind).
CUresult destroyGraph(const char *call, const void *h, Kind kind) {
	if (standin::injected(call))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	Graph *x = handle<Graph>(h, kind);
	if (!x || !x->alive) {
		standin::diag(call, "%s", x ? "destroyed already" : kind == kExec ? "not an executable graph" : "not a graph");
		return CUDA_ERROR_INVALID_VALUE;
	}
	x->alive = false;
	x->jobs.clear();
	return CUDA_SUCCESS;
}

struct ErrorText {
	CUresult r;
	const char *name, *text;
};

#define E(n, t) {n, #n, t}
const ErrorText kErrors[] = {
	E(CUDA_SUCCESS, "no error"),
	E(CUDA_ERROR_INVALID_VALUE, "invalid argument"),
	E(CUDA_ERROR_OUT_OF_MEMORY, "out of memory"),
	E(CUDA_ERROR_NOT_INITIALIZED, "initialization error"),
	E(CUDA_ERROR_DEINITIALIZED, "driver shutting down"),
	E(CUDA_ERROR_PROFILER_DISABLED, "profiler disabled while using a system-wide profiling tool"),
	E(CUDA_ERROR_PROFILER_NOT_INITIALIZED, "profiler not initialized: call cudaProfilerInitialize()"),
	E(CUDA_ERROR_PROFILER_ALREADY_STARTED, "profiler already started"),
	E(CUDA_ERROR_PROFILER_ALREADY_STOPPED, "profiler already stopped"),
	E(CUDA_ERROR_STUB_LIBRARY, "CUDA driver is a stub library"),
	E(CUDA_ERROR_DEVICE_UNAVAILABLE, "CUDA-capable device(s) is/are busy or unavailable"),
	E(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected"),
	E(CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal"),
	E(CUDA_ERROR_DEVICE_NOT_LICENSED, "device doesn't have valid Grid license"),
	E(CUDA_ERROR_INVALID_IMAGE, "device kernel image is invalid"),
	E(CUDA_ERROR_INVALID_CONTEXT, "invalid device context"),
	E(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, "context already current"),
	E(CUDA_ERROR_MAP_FAILED, "mapping of buffer object failed"),
	E(CUDA_ERROR_UNMAP_FAILED, "unmapping of buffer object failed"),
	E(CUDA_ERROR_ARRAY_IS_MAPPED, "array is mapped"),
	E(CUDA_ERROR_ALREADY_MAPPED, "resource already mapped"),
	E(CUDA_ERROR_NO_BINARY_FOR_GPU, "no kernel image is available for execution on the device"),
	E(CUDA_ERROR_ALREADY_ACQUIRED, "resource already acquired"),
	E(CUDA_ERROR_NOT_MAPPED, "resource not mapped"),
	E(CUDA_ERROR_NOT_MAPPED_AS_ARRAY, "resource not mapped as array"),
	E(CUDA_ERROR_NOT_MAPPED_AS_POINTER, "resource not mapped as pointer"),
	E(CUDA_ERROR_ECC_UNCORRECTABLE, "uncorrectable ECC error encountered"),
	E(CUDA_ERROR_UNSUPPORTED_LIMIT, "limit is not supported on this architecture"),
	E(CUDA_ERROR_CONTEXT_ALREADY_IN_USE, "exclusive-thread device already in use by a different thread"),
	E(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, "peer access is not supported between these two devices"),
	E(CUDA_ERROR_INVALID_PTX, "a PTX JIT compilation failed"),
	E(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT, "invalid OpenGL or DirectX context"),
	E(CUDA_ERROR_NVLINK_UNCORRECTABLE, "uncorrectable NVLink error detected during the execution"),
	E(CUDA_ERROR_JIT_COMPILER_NOT_FOUND, "PTX JIT compiler library not found"),
	E(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "the provided PTX was compiled with an unsupported toolchain."),
	E(CUDA_ERROR_JIT_COMPILATION_DISABLED, "PTX JIT compilation was disabled"),
	E(CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY, "the provided execution affinity is not supported"),
	E(CUDA_ERROR_INVALID_SOURCE, "device kernel image is invalid"),
	E(CUDA_ERROR_FILE_NOT_FOUND, "file not found"),
	E(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND, "shared object symbol not found"),
	E(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED, "shared object initialization failed"),
	E(CUDA_ERROR_OPERATING_SYSTEM, "OS call failed or operation not supported on this OS"),
	E(CUDA_ERROR_INVALID_HANDLE, "invalid resource handle"),
	E(CUDA_ERROR_ILLEGAL_STATE, "the operation cannot be performed in the present state"),
	E(CUDA_ERROR_NOT_FOUND, "named symbol not found"),
	E(CUDA_ERROR_NOT_READY, "device not ready"),
	E(CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was encountered"),
	E(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "too many resources requested for launch"),
	E(CUDA_ERROR_LAUNCH_TIMEOUT, "the launch timed out and was terminated"),
	E(CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING, "launch uses incompatible texturing mode"),
	E(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, "peer access is already enabled"),
	E(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, "peer access has not been enabled"),
	E(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, "cannot set while device is active in this process"),
	E(CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed"),
	E(CUDA_ERROR_ASSERT, "device-side assert triggered"),
	E(CUDA_ERROR_TOO_MANY_PEERS, "peer mapping resources exhausted"),
	E(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, "part or all of the requested memory range is already mapped"),
	E(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "pointer does not correspond to a registered memory region"),
	E(CUDA_ERROR_HARDWARE_STACK_ERROR, "hardware stack error"),
	E(CUDA_ERROR_ILLEGAL_INSTRUCTION, "an illegal instruction was encountered"),
	E(CUDA_ERROR_MISALIGNED_ADDRESS, "misaligned address"),
	E(CUDA_ERROR_INVALID_ADDRESS_SPACE, "operation not supported on global/shared address space"),
	E(CUDA_ERROR_INVALID_PC, "invalid program counter"),
	E(CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure"),
	E(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, "too many blocks in cooperative launch"),
	E(CUDA_ERROR_NOT_PERMITTED, "operation not permitted"),
	E(CUDA_ERROR_NOT_SUPPORTED, "operation not supported"),
	E(CUDA_ERROR_SYSTEM_NOT_READY, "system not yet initialized"),
	E(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, "system has unsupported display driver / cuda driver combination"),
	E(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, "forward compatibility was attempted on non supported HW"),
	E(CUDA_ERROR_MPS_CONNECTION_FAILED, "MPS client failed to connect to the MPS control daemon or the MPS server"),
	E(CUDA_ERROR_MPS_RPC_FAILURE, "the remote procedural call between the MPS server and the MPS client failed"),
	E(CUDA_ERROR_MPS_SERVER_NOT_READY, "MPS server is not ready to accept new MPS client requests"),
	E(CUDA_ERROR_MPS_MAX_CLIENTS_REACHED, "the hardware resources required to create MPS client have been exhausted"),
	E(CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED, "the hardware resources required to support device connections have been exhausted"),
	E(CUDA_ERROR_MPS_CLIENT_TERMINATED, "the MPS client has been terminated by the server"),
	E(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "operation not permitted when stream is capturing"),
	E(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "operation failed due to a previous error during capture"),
	E(CUDA_ERROR_STREAM_CAPTURE_MERGE, "operation would result in a merge of separate capture sequences"),
	E(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "capture was not ended in the same stream as it began"),
	E(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, "capturing stream has unjoined work"),
	E(CUDA_ERROR_STREAM_CAPTURE_ISOLATION, "dependency created on uncaptured work in another stream"),
	E(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "operation would make the legacy stream depend on a capturing blocking stream"),
	E(CUDA_ERROR_CAPTURED_EVENT, "operation not permitted on an event last recorded in a capturing stream"),
	E(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, "attempt to terminate a thread-local capture sequence from another thread"),
	E(CUDA_ERROR_TIMEOUT, "wait operation timed out"),
	E(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, "the graph update was not performed because it included changes which violated constraints specific to instantiated graph update"),
	E(CUDA_ERROR_EXTERNAL_DEVICE, "an async error has occured in external entity outside of CUDA"),
	E(CUDA_ERROR_INVALID_CLUSTER_SIZE, "a kernel launch error has occurred due to cluster misconfiguration"),
	E(CUDA_ERROR_UNKNOWN, "unknown error"),
};
#undef E

const ErrorText *errorText(CUresult r) {
	for (const auto &e : kErrors)
		if (e.r == r)
			return &e;
	return nullptr;
}

} // namespace

// The stand-in's own entry points, for libcublas.so.N and kernels.cpp.

std::recursive_mutex &standin::lock() {
	static std::recursive_mutex *m = new std::recursive_mutex;
	return *m;
}

void standin::diag(const std::string &call, const char *fmt, ...) {
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "standin: %s: %s\n", call.c_str(), msg);
}

CUresult standin::checkRange(const std::string &call, const std::string &what, CUdeviceptr p, size_t bytes, CUresult err) {
	LOCK;
	if (bytes == 0)
		return CUDA_SUCCESS;
	State &s = S();
	auto it = find(s.live, p);
	if (it != s.live.end()) {
		const uint64_t end = it->first + it->second.size;
		if (p + bytes <= end)
			return CUDA_SUCCESS;
		diag(call, "%s: %zu bytes at %s run %llu bytes past the end of their allocation (%zu bytes at %s)",
		     what.c_str(), bytes, hex(p).c_str(), (unsigned long long)(p + bytes - end), it->second.size,
		     hex(it->first).c_str());
		return err;
	}
	if (auto f = find(s.freed, p); f != s.freed.end()) {
		diag(call, "%s: %s is in an allocation freed by %s (%zu bytes at %s): use after free", what.c_str(),
		     hex(p).c_str(), f->second.by.c_str(), f->second.size, hex(f->first).c_str());
		return err;
	}
	if (find(s.pinned, p) != s.pinned.end()) {
		diag(call, "%s: %s is pinned host memory, not device memory", what.c_str(), hex(p).c_str());
		return err;
	}
	diag(call, "%s: %s is not in any device allocation%s", what.c_str(), hex(p).c_str(),
	     p ? "" : " (a null pointer)");
	return err;
}

CUcontext standin::current() {
	LOCK;
	return ctxStack.empty() || !ctxStack.back() || !ctxStack.back()->alive ? nullptr : (CUcontext)ctxStack.back();
}

CUresult standin::checkStream(const std::string &call, CUstream s) {
	LOCK;
	if (!streamOf(s))
		return CUDA_SUCCESS;
	Stream *st = handle<Stream>(s, kStream);
	if (!st) {
		diag(call, "%s is not a stream", hex((uint64_t)(uintptr_t)s).c_str());
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (!st->alive) {
		diag(call, "the stream was destroyed (or its context)");
		return CUDA_ERROR_INVALID_HANDLE;
	}
	return sameCtx(call.c_str(), "the stream", st->ctx);
}

bool standin::capturing(CUstream s) {
	LOCK;
	Stream *st = streamOf(s) ? handle<Stream>(s, kStream) : nullptr;
	return st && st->cap != kNone;
}

CUresult standin::enqueue(CUstream s, Job job) {
	LOCK;
	if (Stream *st = streamOf(s) ? handle<Stream>(s, kStream) : nullptr; st && st->cap != kNone) {
		if (st->cap == kInvalidated) {
			diag(job.call, "the stream's capture was invalidated by an earlier call");
			return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
		}
		st->jobs.push_back(std::move(job));
		return CUDA_SUCCESS;
	}
	if (!streamOf(s)) {
		// The legacy stream waits for every blocking stream: one being captured
		// would have to join it.
		for (Stream *st : S().streams)
			if (st->cap == kActive && !(st->flags & CU_STREAM_NON_BLOCKING) && st->ctx == ctxStack.back()) {
				diag(job.call, "work on the legacy (null) stream while a blocking stream is being captured; the capture is invalidated");
				st->cap = kInvalidated;
				return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
			}
	}
	Ctx *c = ctxStack.back();
	c->direct++;
	if (S().async) {
		// Deferred to the stream's next synchronisation, in stream order; the
		// legacy stream and the blocking streams wait for each other.
		if (Stream *st = streamOf(s)) {
			if (!(st->flags & CU_STREAM_NON_BLOCKING))
				if (CUresult r = drain(c->nullPending))
					return r;
			st->pending.push_back(std::move(job));
		} else {
			if (CUresult r = syncCtx(c, true))
				return r;
			c->nullPending.push_back(std::move(job));
		}
		return CUDA_SUCCESS;
	}
	return job.run(job.call);
}

CUresult standin::prohibitedInCapture(const std::string &call, const std::string &what) {
	LOCK;
	const auto self = std::this_thread::get_id();
	CUresult r = CUDA_SUCCESS;
	for (Stream *st : S().streams) {
		if (st->cap == kNone)
			continue;
		if (st->mode == CU_STREAM_CAPTURE_MODE_GLOBAL ||
		    (st->mode == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL && st->thread == self)) {
			if (r == CUDA_SUCCESS)
				diag(call, "%s while a stream is being captured (%s mode): not permitted; the capture is invalidated",
				     what.c_str(), st->mode == CU_STREAM_CAPTURE_MODE_GLOBAL ? "global" : "thread-local");
			st->cap = kInvalidated;
			r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
		}
	}
	return r;
}

bool standin::injected(const char *call) {
	LOCK;
	Fault &f = F();
	const char *v = getenv("GPUTRAIN_STANDIN_FAIL");
	const std::string value = v ? v : "";
	if (value != f.value) {
		f = Fault{};
		f.value = value;
		const size_t colon = value.rfind(':');
		const char *digits = colon == std::string::npos ? "" : value.c_str() + colon + 1;
		char *end = nullptr;
		const long k = strtol(digits, &end, 10);
		if (!value.empty() && (colon == std::string::npos || !*digits || *end || k < 1))
			diag("GPUTRAIN_STANDIN_FAIL", "\"%s\": want TAG:K, K a positive integer (the K-th call fails); no fault injected",
			     value.c_str());
		else if (!value.empty())
			f.tag = value.substr(0, colon), f.k = k;
	}
	if (f.k == 0 || ++f.calls != f.k)
		return false;
	f.fired = call;
	diag(call, "GPUTRAIN_STANDIN_FAIL=%s: call %ld fails, as injected", value.c_str(), f.k);
	if (const char *path = getenv("GPUTRAIN_STANDIN_FAIL_REPORT"); path && *path) {
		FILE *r = fopen(path, "a");
		if (!r)
			diag(call, "GPUTRAIN_STANDIN_FAIL_REPORT=%s: %s", path, strerror(errno));
		else {
			fprintf(r, "%s %ld %s\n", f.tag.c_str(), f.k, call);
			fclose(r);
		}
	}
	return true;
}

extern "C" {

// standin_unsupported answers every driver call the stand-in does not
// implement (the generated stubs call it).
__attribute__((visibility("default"))) CUresult standin_unsupported(const char *name) {
	standin::diag(name, "not implemented by the stand-in: CUDA_ERROR_NOT_SUPPORTED");
	return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult cuInit(unsigned int flags) {
	if (standin::injected("cuInit"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (flags != 0) {
		standin::diag("cuInit", "flags %u, must be 0", flags);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (S().devices == 0)
		return CUDA_ERROR_NO_DEVICE;
	S().inited = true;
	return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *v) {
	if (standin::injected("cuDriverGetVersion"))
		return CUDA_ERROR_INVALID_VALUE;
	if (!v)
		return CUDA_ERROR_INVALID_VALUE;
	*v = S().driverVersion;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *n) {
	if (standin::injected("cuDeviceGetCount"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (CUresult r = needInit("cuDeviceGetCount"))
		return r;
	if (!n)
		return CUDA_ERROR_INVALID_VALUE;
	*n = S().devices;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *d, int ordinal) {
	if (standin::injected("cuDeviceGet"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (CUresult r = needDevice("cuDeviceGet", ordinal))
		return r;
	if (!d)
		return CUDA_ERROR_INVALID_VALUE;
	*d = ordinal;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
	if (standin::injected("cuDeviceGetName"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (CUresult r = needDevice("cuDeviceGetName", d))
		return r;
	if (!name || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	snprintf(name, (size_t)len, "%s", kDeviceName);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
	if (standin::injected("cuDeviceGetAttribute"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (CUresult r = needDevice("cuDeviceGetAttribute", d))
		return r;
	if (!v || (int)a <= 0 || a >= CU_DEVICE_ATTRIBUTE_MAX) {
		standin::diag("cuDeviceGetAttribute", "attribute %d is not a CUdevice_attribute", (int)a);
		return CUDA_ERROR_INVALID_VALUE;
	}
	switch (a) {
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
		*v = 1024;
		break;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
		*v = 64;
		break;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
		*v = 2147483647;
		break;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
		*v = 65535;
		break;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
		*v = 49152;
		break;
	case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY:
		*v = 65536;
		break;
	case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
		*v = 32;
		break;
	case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK:
		*v = 65536;
		break;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
		*v = 1; // one CPU thread runs every block
		break;
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR:
		*v = 2048;
		break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
		*v = 9;
		break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
		*v = 0;
		break;
	case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
	case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
		*v = 1;
		break;
	default:
		*v = 0;
	}
	return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) {
	if (standin::injected("cuDeviceTotalMem_v2"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (CUresult r = needDevice("cuDeviceTotalMem_v2", d))
		return r;
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	*bytes = S().cap;
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) {
	if (standin::injected("cuDevicePrimaryCtxRetain"))
		return CUDA_ERROR_INVALID_CONTEXT;
	LOCK;
	if (CUresult r = needDevice("cuDevicePrimaryCtxRetain", d))
		return r;
	if (!c)
		return CUDA_ERROR_INVALID_VALUE;
	State &s = S();
	if (!s.primary) {
		s.primary = new Ctx{s.nextCtx++, true};
		newHandle(s.primary, kCtx);
	}
	s.primaryRefs++;
	*c = (CUcontext)s.primary;
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) { return primaryRelease("cuDevicePrimaryCtxRelease_v2", d); }

#undef cuDevicePrimaryCtxRelease
CUresult cuDevicePrimaryCtxRelease(CUdevice d) { return primaryRelease("cuDevicePrimaryCtxRelease", d); }

CUresult cuCtxCreate_v2(CUcontext *c, unsigned int flags, CUdevice d) {
	if (standin::injected("cuCtxCreate_v2"))
		return CUDA_ERROR_INVALID_CONTEXT;
	LOCK;
	if (CUresult r = needDevice("cuCtxCreate_v2", d))
		return r;
	if (!c || flags > 0x3f) {
		standin::diag("cuCtxCreate_v2", "null context pointer or unknown flags %#x", flags);
		return CUDA_ERROR_INVALID_VALUE;
	}
	auto *x = new Ctx{S().nextCtx++, false};
	newHandle(x, kCtx);
	ctxStack.push_back(x);
	*c = (CUcontext)x;
	return CUDA_SUCCESS;
}

CUresult cuCtxDestroy_v2(CUcontext c) {
	if (standin::injected("cuCtxDestroy_v2"))
		return CUDA_ERROR_INVALID_CONTEXT;
	LOCK;
	if (CUresult r = needInit("cuCtxDestroy_v2"))
		return r;
	Ctx *x;
	if (CUresult r = liveCtx("cuCtxDestroy_v2", c, &x))
		return r;
	if (x->primary) {
		standin::diag("cuCtxDestroy_v2", "the primary context: release it with cuDevicePrimaryCtxRelease");
		return CUDA_ERROR_INVALID_CONTEXT;
	}
	if (CUresult r = standin::prohibitedInCapture("cuCtxDestroy_v2", "destroying a context"))
		return r;
	ctxStack.erase(std::remove(ctxStack.begin(), ctxStack.end(), x), ctxStack.end());
	teardown(x, "cuCtxDestroy_v2");
	return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext c) {
	if (standin::injected("cuCtxSetCurrent"))
		return CUDA_ERROR_INVALID_CONTEXT;
	LOCK;
	if (CUresult r = needInit("cuCtxSetCurrent"))
		return r;
	if (!c) {
		if (!ctxStack.empty())
			ctxStack.pop_back();
		return CUDA_SUCCESS;
	}
	Ctx *x;
	if (CUresult r = liveCtx("cuCtxSetCurrent", c, &x))
		return r;
	if (ctxStack.empty())
		ctxStack.push_back(x);
	else
		ctxStack.back() = x;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *c) {
	if (standin::injected("cuCtxGetCurrent"))
		return CUDA_ERROR_INVALID_CONTEXT;
	LOCK;
	if (CUresult r = needInit("cuCtxGetCurrent"))
		return r;
	if (!c)
		return CUDA_ERROR_INVALID_VALUE;
	*c = ctxStack.empty() ? nullptr : (CUcontext)ctxStack.back();
	return CUDA_SUCCESS;
}

CUresult cuCtxPushCurrent_v2(CUcontext c) {
	if (standin::injected("cuCtxPushCurrent_v2"))
		return CUDA_ERROR_INVALID_CONTEXT;
	LOCK;
	if (CUresult r = needInit("cuCtxPushCurrent_v2"))
		return r;
	Ctx *x;
	if (CUresult r = liveCtx("cuCtxPushCurrent_v2", c, &x))
		return r;
	ctxStack.push_back(x);
	return CUDA_SUCCESS;
}

CUresult cuCtxPopCurrent_v2(CUcontext *c) {
	if (standin::injected("cuCtxPopCurrent_v2"))
		return CUDA_ERROR_INVALID_CONTEXT;
	LOCK;
	if (CUresult r = needInit("cuCtxPopCurrent_v2"))
		return r;
	if (ctxStack.empty()) {
		standin::diag("cuCtxPopCurrent_v2", "no context to pop on this thread");
		return CUDA_ERROR_INVALID_CONTEXT;
	}
	if (c)
		*c = (CUcontext)ctxStack.back();
	ctxStack.pop_back();
	return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize(void) {
	if (standin::injected("cuCtxSynchronize"))
		return CUDA_ERROR_LAUNCH_FAILED;
	LOCK;
	Ctx *c;
	if (CUresult r = needCtx("cuCtxSynchronize", &c))
		return r;
	if (CUresult r = standin::prohibitedInCapture("cuCtxSynchronize", "synchronising the context"))
		return r;
	return syncCtx(c, false);
}

CUresult cuModuleLoadData(CUmodule *m, const void *image) {
	LOCK;
	return loadModule("cuModuleLoadData", m, image, 0, nullptr, nullptr);
}

CUresult cuModuleLoadDataEx(CUmodule *m, const void *image, unsigned int n, CUjit_option *opts, void **vals) {
	LOCK;
	return loadModule("cuModuleLoadDataEx", m, image, n, opts, vals);
}

CUresult cuModuleUnload(CUmodule m) {
	if (standin::injected("cuModuleUnload"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (CUresult r = needCtx("cuModuleUnload"))
		return r;
	Module *x = handle<Module>(m, kModule);
	if (!x || !x->alive) {
		standin::diag("cuModuleUnload", "%s", x ? "the module was unloaded already" : "not a module");
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (CUresult r = sameCtx("cuModuleUnload", "the module", x->ctx))
		return r;
	x->alive = false;
	return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
	if (standin::injected("cuModuleGetFunction"))
		return CUDA_ERROR_NOT_FOUND;
	LOCK;
	if (CUresult r = needCtx("cuModuleGetFunction"))
		return r;
	Module *x = handle<Module>(m, kModule);
	if (!f || !name || !x || !x->alive) {
		standin::diag("cuModuleGetFunction", "%s", !x || !x->alive ? "not a loaded module" : "null argument");
		return !x || !x->alive ? CUDA_ERROR_INVALID_HANDLE : CUDA_ERROR_INVALID_VALUE;
	}
	if (CUresult r = sameCtx("cuModuleGetFunction", "the module", x->ctx))
		return r;
	auto it = x->entries.find(name);
	if (it == x->entries.end()) {
		standin::diag("cuModuleGetFunction", "the module has no entry %s", name);
		return CUDA_ERROR_NOT_FOUND;
	}
	Func *&fn = x->funcs[name];
	if (!fn) {
		fn = new Func{x, &it->second};
		newHandle(fn, kFunc);
	}
	*f = (CUfunction)fn;
	return CUDA_SUCCESS;
}

CUresult cuFuncGetAttribute(int *v, CUfunction_attribute a, CUfunction f) {
	if (standin::injected("cuFuncGetAttribute"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (CUresult r = needCtx("cuFuncGetAttribute"))
		return r;
	Func *fn = handle<Func>(f, kFunc);
	if (!fn || !fn->mod->alive) {
		standin::diag("cuFuncGetAttribute", "not a function of a loaded module");
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (!v || (int)a < 0 || a >= CU_FUNC_ATTRIBUTE_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	const unsigned *mx = fn->entry->maxntid;
	switch (a) {
	case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
		*v = mx[0] ? (int)std::min(1024u, mx[0] * mx[1] * mx[2]) : 1024;
		break;
	case CU_FUNC_ATTRIBUTE_NUM_REGS:
		*v = 32;
		break;
	case CU_FUNC_ATTRIBUTE_PTX_VERSION:
	case CU_FUNC_ATTRIBUTE_BINARY_VERSION:
		*v = 90;
		break;
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
		*v = 49152;
		break;
	default:
		*v = 0;
	}
	return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
			unsigned shared, CUstream s, void **params, void **extra) {
	if (standin::injected("cuLaunchKernel"))
		return CUDA_ERROR_LAUNCH_FAILED;
	LOCK;
	const char *api = "cuLaunchKernel";
	if (CUresult r = needCtx(api))
		return r;
	Func *fn = handle<Func>(f, kFunc);
	if (!fn || !fn->mod->alive) {
		standin::diag(api, "not a function of a loaded module");
		return CUDA_ERROR_INVALID_HANDLE;
	}
	const Entry &e = *fn->entry;
	const std::string call = std::string(api) + "(" + e.name + ")";
	if (CUresult r = sameCtx(call.c_str(), "the function's module", fn->mod->ctx))
		return r;
	if (CUresult r = standin::checkStream(call, s))
		return r;
	const unsigned long long threads = (unsigned long long)bx * by * bz;
	if (!gx || !gy || !gz || !bx || !by || !bz || gy > 65535 || gz > 65535 || gx > 2147483647u || bx > 1024 ||
	    by > 1024 || bz > 64 || threads > 1024) {
		standin::diag(call, "grid %ux%ux%u of blocks %ux%ux%u: outside the device's limits (blocks up to "
				    "1024x1024x64 and 1024 threads, grids up to 2147483647x65535x65535)",
			      gx, gy, gz, bx, by, bz);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (e.maxntid[0] && threads > (unsigned long long)e.maxntid[0] * e.maxntid[1] * e.maxntid[2]) {
		// The function's own limit (CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK),
		// not the device's: the driver calls that out of resources.
		standin::diag(call, "blocks of %llu threads, more than the entry's .maxntid %u, %u, %u", threads,
			      e.maxntid[0], e.maxntid[1], e.maxntid[2]);
		return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
	}
	if (shared > 49152) {
		standin::diag(call, "%u bytes of dynamic shared memory, more than 48 KiB", shared);
		return CUDA_ERROR_INVALID_VALUE;
	}
	// The arguments, copied now as the driver does, laid out as the PTX
	// declares them.
	auto blob = std::make_shared<std::vector<unsigned char>>(std::max<size_t>(e.bytes, 1));
	if ((params != nullptr) == (extra != nullptr) && !e.sizes.empty()) {
		standin::diag(call, "give the %zu parameters in exactly one of kernelParams and extra", e.sizes.size());
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (params) {
		for (size_t i = 0; i < e.sizes.size(); i++) {
			if (!params[i]) {
				standin::diag(call, "kernelParams[%zu] is null; the PTX declares %zu parameters", i, e.sizes.size());
				return CUDA_ERROR_INVALID_VALUE;
			}
			memcpy(blob->data() + e.offsets[i], params[i], e.sizes[i]);
		}
	} else if (extra) {
		void *buf = nullptr;
		size_t *size = nullptr;
		for (void **x = extra; *x != CU_LAUNCH_PARAM_END; x += 2) {
			if (*x == CU_LAUNCH_PARAM_BUFFER_POINTER)
				buf = x[1];
			else if (*x == CU_LAUNCH_PARAM_BUFFER_SIZE)
				size = (size_t *)x[1];
			else {
				standin::diag(call, "unknown key %p in extra", *x);
				return CUDA_ERROR_INVALID_VALUE;
			}
		}
		if (!buf || !size || *size != e.bytes) {
			standin::diag(call, "extra holds a parameter buffer of %zu bytes; the PTX declares %zu parameters, %zu bytes",
				      size ? *size : 0, e.sizes.size(), e.bytes);
			return CUDA_ERROR_INVALID_VALUE;
		}
		memcpy(blob->data(), buf, e.bytes);
	}
	if (!e.impl) {
		standin::diag(call, "kernels.cu has no such kernel for the stand-in to run");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	const standin::Kernel *k = e.impl;
	std::vector<size_t> offsets = e.offsets;
	return standin::enqueue(s, {call, [=](const std::string &c) {
					    std::vector<void *> args;
					    for (size_t o : offsets)
						    args.push_back(blob->data() + o);
					    if (CUresult r = k->check(c, args.data()))
						    return r;
					    k->run(gx, gy, gz, bx, by, bz, args.data());
					    return CUDA_SUCCESS;
				    }});
}

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
	if (standin::injected("cuMemAlloc_v2"))
		return CUDA_ERROR_OUT_OF_MEMORY;
	LOCK;
	const char *call = "cuMemAlloc_v2";
	Ctx *c;
	if (CUresult r = needCtx(call, &c))
		return r;
	if (!p || !bytes) {
		standin::diag(call, "null pointer or zero bytes");
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (CUresult r = standin::prohibitedInCapture(call, "an allocation"))
		return r;
	State &s = S();
	if (bytes > s.cap - s.used) {
		standin::diag(call, "%zu bytes: out of memory (%zu of the device's %zu bytes in use; GPUTRAIN_STANDIN_MEM sets the size)",
			      bytes, s.used, s.cap);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	void *m = allocate(bytes);
	if (!m) {
		standin::diag(call, "%zu bytes: the host is out of memory", bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	const uint64_t at = (uint64_t)(uintptr_t)m;
	forgetFreed(at, bytes);
	s.live[at] = {bytes, c, call};
	s.used += bytes;
	*p = at;
	return CUDA_SUCCESS;
}

CUresult cuMemFree_v2(CUdeviceptr p) {
	LOCK;
	const char *call = "cuMemFree_v2";
	if (standin::injected(call)) {
		if (auto it = S().live.find(p); it != S().live.end())
			it->second.abandoned = true;
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (CUresult r = needCtx(call))
		return r;
	if (CUresult r = standin::prohibitedInCapture(call, "a free"))
		return r;
	// Freeing waits for the device, as cudaFree does.
	if (CUresult r = syncCtx(ctxStack.back(), false))
		return r;
	if (!p)
		return CUDA_SUCCESS;
	State &s = S();
	auto it = s.live.find(p);
	if (it == s.live.end()) {
		if (auto f = s.freed.find(p); f != s.freed.end())
			standin::diag(call, "%s was freed already (by %s): double free", hex(p).c_str(), f->second.by.c_str());
		else if (auto in = find(s.live, p); in != s.live.end())
			standin::diag(call, "%s is inside the allocation at %s, not its start", hex(p).c_str(), hex(in->first).c_str());
		else if (auto in = find(s.freed, p); in != s.freed.end())
			standin::diag(call, "%s is inside a freed allocation: double free", hex(p).c_str());
		else
			standin::diag(call, "%s is not a device allocation", hex(p).c_str());
		return CUDA_ERROR_INVALID_VALUE;
	}
	s.used -= it->second.size;
	s.freed[p] = {it->second.size, it->second.ctx, call};
	poisonAndQuarantine((void *)p, it->second.size);
	s.live.erase(it);
	return CUDA_SUCCESS;
}

CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
	if (standin::injected("cuMemGetInfo_v2"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	if (CUresult r = needCtx("cuMemGetInfo_v2"))
		return r;
	if (!free || !total)
		return CUDA_ERROR_INVALID_VALUE;
	*free = S().cap - S().used;
	*total = S().cap;
	return CUDA_SUCCESS;
}

CUresult cuMemsetD8_v2(CUdeviceptr p, unsigned char v, size_t n) {
	if (standin::injected("cuMemsetD8_v2"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	const char *call = "cuMemsetD8_v2";
	if (CUresult r = needCtx(call))
		return r;
	if (CUresult r = standin::prohibitedInCapture(call, "a synchronous memset"))
		return r;
	if (CUresult r = syncCtx(ctxStack.back(), true))
		return r;
	if (CUresult r = standin::checkRange(call, "the destination", p, n, CUDA_ERROR_INVALID_VALUE))
		return r;
	memset((void *)p, v, n);
	return CUDA_SUCCESS;
}

CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, CUstream s) {
	if (standin::injected("cuMemsetD8Async"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	const char *call = "cuMemsetD8Async";
	if (CUresult r = needCtx(call))
		return r;
	if (CUresult r = standin::checkStream(call, s))
		return r;
	if (CUresult r = standin::checkRange(call, "the destination", p, n, CUDA_ERROR_INVALID_VALUE))
		return r;
	return standin::enqueue(s, {call, [=](const std::string &c) {
					    if (CUresult r = standin::checkRange(c, "the destination", p, n, CUDA_ERROR_ILLEGAL_ADDRESS))
						    return r;
					    memset((void *)p, v, n);
					    return CUDA_SUCCESS;
				    }});
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
	return syncCopy("cuMemcpyHtoD_v2", (void *)dst, src, n, true);
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
	return syncCopy("cuMemcpyDtoH_v2", dst, (const void *)src, n, false);
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s) {
	return asyncCopy("cuMemcpyHtoDAsync_v2", (void *)dst, src, n, s, true);
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s) {
	return asyncCopy("cuMemcpyDtoHAsync_v2", dst, (const void *)src, n, s, false);
}

CUresult cuMemAllocHost_v2(void **pp, size_t bytes) { return hostAlloc("cuMemAllocHost_v2", pp, bytes); }

CUresult cuMemHostAlloc(void **pp, size_t bytes, unsigned int flags) {
	if (flags & ~7u) {
		standin::diag("cuMemHostAlloc", "unknown flags %#x", flags);
		return CUDA_ERROR_INVALID_VALUE;
	}
	return hostAlloc("cuMemHostAlloc", pp, bytes);
}

CUresult cuMemFreeHost(void *p) {
	LOCK;
	const char *call = "cuMemFreeHost";
	if (standin::injected(call)) {
		if (auto it = S().pinned.find((uint64_t)(uintptr_t)p); it != S().pinned.end())
			it->second.abandoned = true;
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (CUresult r = needCtx(call))
		return r;
	if (CUresult r = standin::prohibitedInCapture(call, "freeing pinned host memory"))
		return r;
	if (CUresult r = syncCtx(ctxStack.back(), false))
		return r;
	auto it = S().pinned.find((uint64_t)(uintptr_t)p);
	if (it == S().pinned.end()) {
		standin::diag(call, "%s is not pinned host memory from cuMemAllocHost or cuMemHostAlloc (or was freed already)",
			      hex((uint64_t)(uintptr_t)p).c_str());
		return CUDA_ERROR_INVALID_VALUE;
	}
	free(p);
	S().pinned.erase(it);
	return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *s, unsigned int flags) {
	if (standin::injected("cuStreamCreate"))
		return CUDA_ERROR_OUT_OF_MEMORY;
	LOCK;
	Ctx *c;
	if (CUresult r = needCtx("cuStreamCreate", &c))
		return r;
	if (!s || flags > CU_STREAM_NON_BLOCKING)
		return CUDA_ERROR_INVALID_VALUE;
	auto *st = new Stream;
	st->ctx = c;
	st->flags = flags;
	newHandle(st, kStream);
	S().streams.push_back(st);
	*s = (CUstream)st;
	return CUDA_SUCCESS;
}

CUresult cuStreamDestroy_v2(CUstream s) {
	if (standin::injected("cuStreamDestroy_v2"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	const char *call = "cuStreamDestroy_v2";
	if (CUresult r = needCtx(call))
		return r;
	if (!streamOf(s)) {
		standin::diag(call, "the null stream cannot be destroyed");
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (CUresult r = standin::checkStream(call, s))
		return r;
	auto *st = (Stream *)s;
	CUresult r = drain(st->pending); // its work completes
	st->alive = false;
	auto &v = S().streams;
	v.erase(std::remove(v.begin(), v.end(), st), v.end());
	return r;
}

CUresult cuStreamSynchronize(CUstream s) {
	if (standin::injected("cuStreamSynchronize"))
		return CUDA_ERROR_LAUNCH_FAILED;
	LOCK;
	const char *call = "cuStreamSynchronize";
	if (CUresult r = needCtx(call))
		return r;
	if (CUresult r = standin::checkStream(call, s))
		return r;
	if (CUresult r = standin::prohibitedInCapture(call, "synchronising a stream"))
		return r;
	if (standin::capturing(s)) {
		standin::diag(call, "synchronising a stream that is being captured; the capture is invalidated");
		((Stream *)s)->cap = kInvalidated;
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	}
	return syncStream(s);
}

CUresult cuStreamBeginCapture_v2(CUstream s, CUstreamCaptureMode mode) {
	if (standin::injected("cuStreamBeginCapture_v2"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	const char *call = "cuStreamBeginCapture_v2";
	if (CUresult r = needCtx(call))
		return r;
	if (!streamOf(s)) {
		standin::diag(call, "the null stream cannot be captured");
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	}
	if (CUresult r = standin::checkStream(call, s))
		return r;
	if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
	    mode != CU_STREAM_CAPTURE_MODE_RELAXED)
		return CUDA_ERROR_INVALID_VALUE;
	auto *st = (Stream *)s;
	if (st->cap != kNone) {
		standin::diag(call, "the stream is being captured already");
		return CUDA_ERROR_ILLEGAL_STATE;
	}
	st->cap = kActive;
	st->mode = mode;
	st->thread = std::this_thread::get_id();
	st->jobs.clear();
	return CUDA_SUCCESS;
}

CUresult cuStreamEndCapture(CUstream s, CUgraph *g) {
	if (standin::injected("cuStreamEndCapture"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	const char *call = "cuStreamEndCapture";
	if (CUresult r = needCtx(call))
		return r;
	if (!g)
		return CUDA_ERROR_INVALID_VALUE;
	*g = nullptr;
	if (CUresult r = standin::checkStream(call, s))
		return r;
	auto *st = streamOf(s) ? (Stream *)s : nullptr;
	if (!st || st->cap == kNone) {
		standin::diag(call, "the stream is not being captured");
		return CUDA_ERROR_ILLEGAL_STATE;
	}
	if (st->mode != CU_STREAM_CAPTURE_MODE_RELAXED && st->thread != std::this_thread::get_id()) {
		standin::diag(call, "the capture was begun on another thread");
		return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
	}
	const bool invalid = st->cap == kInvalidated;
	st->cap = kNone;
	std::vector<standin::Job> jobs;
	jobs.swap(st->jobs);
	if (invalid) {
		standin::diag(call, "the capture was invalidated by an earlier call during it (see above); no graph");
		return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	}
	st->ctx->captured++;
	auto *gr = new Graph{st->ctx, true, std::move(jobs)};
	*g = (CUgraph)newHandle(gr, kGraph);
	return CUDA_SUCCESS;
}

CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus *status) {
	if (standin::injected("cuStreamIsCapturing"))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK;
	const char *call = "cuStreamIsCapturing";
	if (CUresult r = needCtx(call))
		return r;
	if (!status)
		return CUDA_ERROR_INVALID_VALUE;
	if (CUresult r = standin::checkStream(call, s))
		return r;
	auto *st = streamOf(s) ? (Stream *)s : nullptr;
	*status = !st || st->cap == kNone  ? CU_STREAM_CAPTURE_STATUS_NONE
		  : st->cap == kActive ? CU_STREAM_CAPTURE_STATUS_ACTIVE
				       : CU_STREAM_CAPTURE_STATUS_INVALIDATED;
	return CUDA_SUCCESS;
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *e, CUgraph g, unsigned long long flags) {
	if (flags & ~0xfull) {
		standin::diag("cuGraphInstantiateWithFlags", "unknown flags %#llx", flags);
		return CUDA_ERROR_INVALID_VALUE;
	}
	return instantiate("cuGraphInstantiateWithFlags", e, g);
}

CUresult cuGraphInstantiate_v2(CUgraphExec *e, CUgraph g, CUgraphNode *errNode, char *log, size_t logSize) {
	if (errNode)
		*errNode = nullptr;
	if (log && logSize)
		log[0] = 0;
	return instantiate("cuGraphInstantiate_v2", e, g);
}

CUresult cuGraphLaunch(CUgraphExec e, CUstream s) {
	if (standin::injected("cuGraphLaunch"))
		return CUDA_ERROR_LAUNCH_FAILED;
	LOCK;
	const char *call = "cuGraphLaunch";
	if (CUresult r = needCtx(call))
		return r;
	Graph *x = handle<Graph>(e, kExec);
	if (!x || !x->alive) {
		standin::diag(call, "%s", x ? "the executable graph was destroyed" : "not an executable graph");
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (CUresult r = sameCtx(call, "the graph", x->ctx))
		return r;
	if (CUresult r = standin::checkStream(call, s))
		return r;
	if (standin::capturing(s)) {
		for (const auto &j : x->jobs)
			if (CUresult r = standin::enqueue(s, j))
				return r;
		return CUDA_SUCCESS;
	}
	x->ctx->replays++;
	x->ctx->replayed += (long)x->jobs.size();
	x->ctx->direct--; // enqueue counts the launch; its jobs count as replayed
	std::vector<standin::Job> jobs = x->jobs;
	return standin::enqueue(s, {call, [jobs](const std::string &) {
					    for (const auto &j : jobs)
						    if (CUresult r = j.run(j.call + " replayed by cuGraphLaunch"))
							    return r;
					    return CUDA_SUCCESS;
				    }});
}

CUresult cuGraphExecDestroy(CUgraphExec e) { return destroyGraph("cuGraphExecDestroy", e, kExec); }

CUresult cuGraphDestroy(CUgraph g) { return destroyGraph("cuGraphDestroy", g, kGraph); }

CUresult cuGetErrorName(CUresult r, const char **s) {
	const ErrorText *e = errorText(r);
	if (!s)
		return CUDA_ERROR_INVALID_VALUE;
	*s = e ? e->name : nullptr;
	return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult r, const char **s) {
	const ErrorText *e = errorText(r);
	if (!s)
		return CUDA_ERROR_INVALID_VALUE;
	*s = e ? e->text : nullptr;
	return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

} // extern "C"
