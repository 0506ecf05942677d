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
			t.Run("pip-wheel", func(t *testing.T) {
				site := t.TempDir()
				want := fakeCuBLAS(t, filepath.Join(site, "nvidia", "cublas", "lib"), name, version)
				// An older name beside it must lose to the newer one.
				if i+1 < len(cublasSonames) {
					fakeCuBLAS(t, filepath.Join(site, "nvidia", "cublas", "lib"), cublasSonames[i+1], version-1)
				}
				probe(t, map[string]string{envCuBLASDir: site}, want, version)
			})
		})
	}
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
func probe(t *testing.T, vars map[string]string, want string, version int) {
	t.Helper()
	var lib gtBlasLib
	got, err := findCuBLAS(&lib, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	defer closeBLASLib(&lib)
	if got != want {
		t.Errorf("loaded %s, want %s", got, want)
	}
	if v := libVersion(&lib); v != version {
		t.Errorf("version %d, want %d", v, version)
	}
}
