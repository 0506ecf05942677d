package standin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mutant takes one rule out of the stand-in: in src/file, old becomes new.
type mutant struct {
	rule, file, old, new string
}

// mutants are the rules of the stand-in, each taken out. When one no longer
// applies (its old text changed), update it with the rule's new code.
var mutants = []mutant{
	{"pointers inside live allocations", "driver.cpp",
		"\tif (bytes == 0)\n\t\treturn CUDA_SUCCESS;\n\tState &s = S();", "\treturn CUDA_SUCCESS;\n\tState &s = S();"},
	{"no allocation, free or sync during capture", "driver.cpp",
		"\tconst auto self = std::this_thread::get_id();\n\tCUresult r = CUDA_SUCCESS;\n",
		"\tconst auto self = std::this_thread::get_id();\n\tCUresult r = CUDA_SUCCESS;\n\treturn r;\n"},
	{"no pageable copy during capture", "driver.cpp", "\tif (!isPinned(p, n)) {\n\t\tstandin::diag(call,", "\tif (false) {\n\t\tstandin::diag(call,"},
	{"cublasSetStream resets the workspace", "cublas.cpp", "\th->workspace = 0;\n\th->workspaceBytes = 0;\n", ""},
	{"GEMM leading dimensions", "cublas.cpp", "if (lda < std::max(1, rowsA))", "if (false)"},
	{".maxntid", "driver.cpp", "if (e.maxntid[0] && threads >", "if (false && threads >"},
	{"the parameter buffer's size", "driver.cpp", "if (!buf || !size || *size != e.bytes)", "if (!buf || !size)"},
	{"the PTX's parameters as kernels.cu's", "driver.cpp", "if (e.impl && e.impl->params != e.sizes)", "if (false)"},
	{"handles of another context", "driver.cpp", "\tif (of != cur) {", "\tif (false) {"},
	{"the memory cap", "driver.cpp", "if (bytes > s.cap - s.used)", "if (false)"},
	{"NaN in new allocations", "driver.cpp", "\tmemset(p, 0xFF, n); // NaN", "\t// NaN"},
	{"leaks reported", "driver.cpp", "\tif (n || pinned) {", "\tif (false) {"},
	{"each kernel's addresses checked", "driver.cpp", "if (CUresult r = k->check(c, args.data()))", "if (CUresult r = CUDA_SUCCESS)"},
	{"captured work recorded, not run", "driver.cpp", "\t\tst->jobs.push_back(std::move(job));\n\t\treturn CUDA_SUCCESS;",
		"\t\treturn job.run(job.call);"},
	{"GPUTRAIN_STANDIN_FAIL fails the K-th call", "driver.cpp", "if (f.k == 0 || ++f.calls != f.k)", "if (true)"},
	{"a free refused by an injected fault is no leak", "driver.cpp", "\t\tif (!it->second.abandoned) {", "\t\tif (true) {"},
	{"deferred work (GPUTRAIN_STANDIN_ASYNC=1)", "driver.cpp", "\tif (S().async) {\n\t\t// Deferred", "\tif (false) {\n\t\t// Deferred"},
}

// TestRulesCatchMutants builds the stand-in with each rule taken out in turn
// and runs TestRules' cases on it: some case must fail, or that rule's tests
// could pass without it. Only the mutated file is recompiled (without
// optimisation); the rest comes from make standin's objects.
func TestRulesCatchMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the stand-in once per rule")
	}
	prog := rulesProgram(t)
	inc := cudaInclude(t)
	obj := filepath.Join(libDir, "obj")
	for _, f := range []string{"kernels.o", "driver-stubs.o", "blas-stubs.o", "libcublas.so.11.map"} {
		if _, err := os.Stat(filepath.Join(obj, f)); err != nil {
			t.Skipf("%s: make standin's objects are missing: run make standin", err)
		}
	}
	ptx := filepath.Join(root, "cuda", "kernels.ptx")
	for _, m := range mutants {
		t.Run(m.rule, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("src", m.file))
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(src), m.old); n != 1 {
				t.Fatalf("the mutant no longer applies: src/%s holds its text %d times, want once:\n%s", m.file, n, m.old)
			}
			dir := t.TempDir()
			for _, f := range []string{"libcuda.so.1", "libcublas.so.11", "libcublas.so.12", "libcublas.so.13", "libcublas.so"} {
				b, err := os.ReadFile(filepath.Join(libDir, f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			mutated := filepath.Join(dir, m.file)
			if err := os.WriteFile(mutated, []byte(strings.Replace(string(src), m.old, m.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			sh := func(args ...string) {
				t.Helper()
				if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			o := filepath.Join(dir, "mutant.o")
			sh("g++", "-std=c++17", "-O0", "-fPIC", "-I"+inc, "-I"+filepath.Join(root, "cuda", "standin", "src"),
				"-DSTANDIN_CUBLAS_VERSION=111103", "-c", "-o", o, mutated)
			if m.file == "cublas.cpp" {
				sh("g++", "-shared", "-Wl,-soname,libcublas.so.11", "-Wl,--version-script="+filepath.Join(obj, "libcublas.so.11.map"),
					"-o", filepath.Join(dir, "libcublas.so.11"), o, filepath.Join(obj, "blas-stubs.o"), filepath.Join(dir, "libcuda.so.1"))
			} else {
				sh("g++", "-shared", "-Wl,-soname,libcuda.so.1", "-Wl,--version-script="+filepath.Join("src", "libcuda.map"),
					"-o", filepath.Join(dir, "libcuda.so.1"), o, filepath.Join(obj, "kernels.o"), filepath.Join(obj, "driver-stubs.o"), "-lpthread")
			}
			var caught []string
			for _, c := range ruleCases {
				out, _, diags, status := runWith(t, dir, c.environ(), prog, c.name, ptx)
				if len(c.problems(out, diags, status)) > 0 {
					caught = append(caught, c.name+strings.Join(c.env, ","))
				}
			}
			if len(caught) == 0 {
				t.Errorf("with the rule taken out every case still passes: the rule has no test")
			} else {
				t.Logf("caught by %s", strings.Join(caught, ", "))
			}
		})
	}
}
