//go:build gpu

package cuda

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCuBLAS compiles testdata/fakecublas.c into dir/name, reporting
// version; it skips the test where no C compiler is installed.
func fakeCuBLAS(t *testing.T, dir, name string, version int, defs ...string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("needs a C compiler to build a stand-in libcublas")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	args := append([]string{"-shared", "-fPIC", "-o", out, fmt.Sprintf("-DFAKE_VERSION=%d", version)}, defs...)
	args = append(args, "testdata/fakecublas.c")
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", cc, args, err, b)
	}
	return out
}

// TestGPUCuBLASFound loads a stand-in library under each name the backend
// looks for, where a user may have it, and checks that the newest name wins
// and that the file and version reported are that library's.
func TestGPUCuBLASFound(t *testing.T) {
	for i, name := range cublasSonames {
		version := 130000 - 10000*i
		t.Run(name, func(t *testing.T) {
			t.Run("GPUTRAIN_CUBLAS", func(t *testing.T) {
				want := fakeCuBLAS(t, t.TempDir(), name, version)
				probe(t, map[string]string{envCuBLAS: want}, want, version)
			})
			// NVIDIA's wheels: CUDA 13's nvidia-cublas in nvidia/cu13/lib,
			// CUDA 12's nvidia-cublas-cu12 in nvidia/cublas/lib; named by
			// GPUTRAIN_CUBLAS_DIR or found in the active virtual environment.
			for _, layout := range []string{"nvidia/cu13/lib", "nvidia/cublas/lib"} {
				t.Run(layout, func(t *testing.T) {
					site := t.TempDir()
					lib := filepath.Join(site, layout)
					want := fakeCuBLAS(t, lib, name, version)
					// An older name beside it must lose to the newer one.
					if i+1 < len(cublasSonames) {
						fakeCuBLAS(t, lib, cublasSonames[i+1], version-1)
					}
					probe(t, map[string]string{envCuBLASDir: site}, want, version)
					venv := t.TempDir()
					want = fakeCuBLAS(t, filepath.Join(venv, "lib", "python3.12", "site-packages", layout), name, version)
					probe(t, map[string]string{"VIRTUAL_ENV": venv}, want, version)
				})
			}
		})
	}
	t.Run("conda", func(t *testing.T) {
		prefix := t.TempDir()
		want := fakeCuBLAS(t, filepath.Join(prefix, "lib"), "libcublas.so.12", 120000)
		probe(t, map[string]string{"CONDA_PREFIX": prefix}, want, 120000)
	})
	t.Run("LD_LIBRARY_PATH-before-the-environment", func(t *testing.T) {
		ld, venv := t.TempDir(), t.TempDir()
		want := fakeCuBLAS(t, ld, "libcublas.so.11", 110000)
		fakeCuBLAS(t, filepath.Join(venv, "lib", "python3.12", "site-packages", "nvidia", "cu13", "lib"), "libcublas.so.13", 130000)
		probe(t, map[string]string{"LD_LIBRARY_PATH": ld, "VIRTUAL_ENV": venv}, want, 110000)
	})
	t.Run("libcublasLt-from-the-same-folder", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nvidia", "cu13", "lib")
		want := fakeCuBLAS(t, dir, "libcublas.so.13", 130000)
		lt := fakeCuBLAS(t, dir, "libcublasLt.so.13", 1, "-DFAKE_LT")
		probe(t, map[string]string{envCuBLASDir: filepath.Dir(filepath.Dir(filepath.Dir(dir)))}, want, 130000)
		maps, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Skip(err)
		}
		if !strings.Contains(string(maps), lt) {
			t.Errorf("%s was not loaded with %s", lt, want)
		}
	})
	t.Run("create-fails", func(t *testing.T) {
		dir := t.TempDir()
		bad := fakeCuBLAS(t, dir, "libcublas.so.13", 130000, "-DFAKE_CREATE_STATUS=3")
		want := fakeCuBLAS(t, dir, "libcublas.so.12", 120000)
		f := probe(t, map[string]string{envCuBLASDir: dir}, want, 120000)
		if len(f.passed) != 1 || !strings.Contains(f.passed[0], bad+": cublasCreate_v2 or cublasGetVersion_v2 failed: cuBLAS: allocation failed") {
			t.Errorf("passed over: %q; want %s and why", f.passed, bad)
		}
	})
	t.Run("incomplete", func(t *testing.T) {
		bad := fakeCuBLAS(t, t.TempDir(), "libcublas.so.12", 120000, "-DFAKE_NO_DGEMM")
		var lib gtBlasLib
		_, err := findCuBLAS(&lib, env(map[string]string{envCuBLAS: bad}))
		if err == nil || !strings.Contains(err.Error(), "lacks cublasDgemm_v2") || !strings.Contains(err.Error(), bad) {
			t.Errorf("loading a library without cublasDgemm_v2: %v", err)
		}
	})
	t.Run("none", func(t *testing.T) {
		dir := t.TempDir()
		var lib gtBlasLib
		_, err := findCuBLAS(&lib, env(map[string]string{envCuBLAS: filepath.Join(dir, "libcublas.so.12")}))
		if err == nil || !strings.Contains(err.Error(), "GPUTRAIN_CUBLAS=") {
			t.Errorf("a GPUTRAIN_CUBLAS that is not there: %v", err)
		}
	})
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// probe finds cuBLAS as the backend does, with environment vars, into a
// library of its own (the backend's stays as it is), and checks which
// file loaded and what version it reports.
func probe(t *testing.T, vars map[string]string, want string, version int) *cublasFound {
	t.Helper()
	var lib gtBlasLib
	f, err := findCuBLAS(&lib, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	defer closeBLASLib(&lib)
	if f.path != want {
		t.Errorf("loaded %s, want %s", f.path, want)
	}
	if f.version != version {
		t.Errorf("version %d, want %d", f.version, version)
	}
	return f
}
