//go:build gpu

package cuda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stalePTX is kernels.ptx with one parameter dropped from gt_seg1_f32, as
// a kernels.ptx left behind by a change to kernels.cu would be.
func stalePTX(t *testing.T) string {
	t.Helper()
	old := "\t.param .u64 gt_seg1_f32_param_3,\n\t.param .u64 gt_seg1_f32_param_4\n)"
	if !strings.Contains(kernelsPTX, old) {
		t.Fatalf("kernels.ptx no longer declares gt_seg1_f32's parameters as %q", old)
	}
	p := filepath.Join(t.TempDir(), "stale.ptx")
	if err := os.WriteFile(p, []byte(strings.Replace(kernelsPTX, old, "\t.param .u64 gt_seg1_f32_param_3\n)", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGPUDoctor: on a working device every check passes and names the
// device and the cuBLAS file the backend uses; a PTX file that the driver
// refuses fails the PTX check with the JIT's log, and one that cannot be
// read says so.
func TestGPUDoctor(t *testing.T) {
	checks := Doctor("")
	names := map[string]Check{}
	for _, c := range checks {
		names[c.Name] = c
		if !c.OK {
			t.Errorf("%s", c)
		}
	}
	for _, n := range []string{"driver", "device 0", "cuBLAS", "PTX"} {
		if _, ok := names[n]; !ok {
			t.Errorf("no %s check in %q", n, checks)
		}
	}
	f, err := loadCuBLAS()
	if err != nil {
		t.Fatal(err)
	}
	if d := names["cuBLAS"].Detail; !strings.HasPrefix(d, blasVersion(f.version)+" from "+f.path+" (searched ") {
		t.Errorf("cuBLAS check %q does not name %s", d, f.path)
	}
	t.Run("stale", func(t *testing.T) {
		ptx := Doctor(stalePTX(t))
		last := ptx[len(ptx)-1]
		if last.Name != "PTX" || last.OK || !strings.Contains(last.Detail, "does not load on device 0") || !strings.Contains(last.Detail, "JIT log: ") {
			t.Errorf("a stale PTX: %s", last)
		}
		if strings.Contains(names["device 0"].Detail, standinDevice) && !strings.Contains(last.Detail, "the PTX is stale") {
			t.Errorf("the stand-in's JIT log is not in %q", last.Detail)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		ptx := Doctor(filepath.Join(t.TempDir(), "none.ptx"))
		if last := ptx[len(ptx)-1]; last.OK || !strings.Contains(last.Detail, "no such file") || last.String() != "FAIL: PTX: "+last.Detail+"; "+last.Fix {
			t.Errorf("a PTX file that is not there: %s", last)
		}
	})
}
