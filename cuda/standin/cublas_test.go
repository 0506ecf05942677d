package standin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wheelTree lays out libcublas.so.N of the stand-in (cublasGetVersion
// 13.0.0 for .13, 12.4.5 for .12) where NVIDIA's wheel or conda would put
// it, under root, and returns the file's path.
func wheelTree(t *testing.T, root, dir, soname string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(libDir, soname))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, dir, soname)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// driverOnly is a folder holding only the stand-in's libcuda.so.1, for
// LD_LIBRARY_PATH: the binary finds its driver there and no cuBLAS.
func driverOnly(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(libDir, "libcuda.so.1"), filepath.Join(dir, "libcuda.so.1")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCUDABinaryFindsWheels: bin/gputrain-cuda, with nothing but the driver
// on LD_LIBRARY_PATH, finds the stand-in's cuBLAS in each layout NVIDIA's
// wheels and conda use, through GPUTRAIN_CUBLAS_DIR, VIRTUAL_ENV and
// CONDA_PREFIX, and names the file it loaded (gputrain-cuda version).
func TestCUDABinaryFindsWheels(t *testing.T) {
	needStandin(t)
	cudaBin := filepath.Join(root, "bin", "gputrain-cuda")
	if _, err := os.Stat(cudaBin); err != nil {
		t.Skipf("%s not built (make cuda)", cudaBin)
	}
	drv := driverOnly(t)
	site := filepath.Join("lib", "python3.12", "site-packages")
	for _, c := range []struct {
		name, env, dir, soname, version string
	}{
		{"GPUTRAIN_CUBLAS_DIR CUDA 13 wheel", "GPUTRAIN_CUBLAS_DIR", "nvidia/cu13/lib", "libcublas.so.13", "13.0.0"},
		{"GPUTRAIN_CUBLAS_DIR CUDA 12 wheel", "GPUTRAIN_CUBLAS_DIR", "nvidia/cublas/lib", "libcublas.so.12", "12.4.5"},
		{"VIRTUAL_ENV CUDA 13 wheel", "VIRTUAL_ENV", filepath.Join(site, "nvidia/cu13/lib"), "libcublas.so.13", "13.0.0"},
		{"VIRTUAL_ENV CUDA 12 wheel", "VIRTUAL_ENV", filepath.Join(site, "nvidia/cublas/lib"), "libcublas.so.12", "12.4.5"},
		{"CONDA_PREFIX lib", "CONDA_PREFIX", "lib", "libcublas.so.12", "12.4.5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tree := t.TempDir()
			want := wheelTree(t, tree, c.dir, c.soname)
			// The system's own cuBLAS (Debian's libcublas.so.11 is in the
			// ld.so cache on CI) comes after the environment's: it must not
			// be the one loaded.
			env := []string{c.env + "=" + tree}
			for _, v := range []string{"GPUTRAIN_CUBLAS", "GPUTRAIN_CUBLAS_DIR", "VIRTUAL_ENV", "CONDA_PREFIX"} {
				if v != c.env {
					env = append(env, v+"=")
				}
			}
			out, stderr, diags, status := runWith(t, drv, env, cudaBin, "version")
			if line := "cuBLAS " + c.version + " from " + want + "\n"; status != 0 || len(diags) != 0 || !strings.Contains(out, line) {
				t.Errorf("exit status %d, standin: lines %q, stderr %q; want %q in:\n%s", status, diags, stderr, line, out)
			}
		})
	}
}

// TestCUDABinaryBindNow runs bin/gputrain-cuda with LD_BIND_NOW=1: every
// symbol it imports is bound as it loads, the driver's unused ones (cu's
// texture and surface references) included, so a driver lacking one would
// stop it at once with "symbol lookup error" instead of at the call. On the
// stand-in every import is defined (TestStubsCoverImports); docs/GPU.md says
// what a real driver without one would do.
func TestCUDABinaryBindNow(t *testing.T) {
	needStandin(t)
	cudaBin := filepath.Join(root, "bin", "gputrain-cuda")
	if _, err := os.Stat(cudaBin); err != nil {
		t.Skipf("%s not built (make cuda)", cudaBin)
	}
	data := os.Getenv("GPUTRAIN_DATA")
	if data == "" {
		data = filepath.Join(root, "data", "mnist")
	}
	for _, args := range [][]string{
		{"version"},
		{"--device", "cuda", "--epochs", "1", "--train-limit", "100", "--eval", "none", "--quiet", "--data", data},
	} {
		out, stderr, diags, status := run(t, []string{"LD_BIND_NOW=1"}, cudaBin, args...)
		if status != 0 || len(diags) != 0 || strings.Contains(stderr, "symbol lookup error") {
			t.Errorf("LD_BIND_NOW=1 %s %s: exit status %d, standin: lines %q, stderr %q, stdout %q", cudaBin, strings.Join(args, " "), status, diags, stderr, out)
		}
	}
}
