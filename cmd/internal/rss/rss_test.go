package rss

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// TestPeakRSS: this process holds at least the 64 MiB it touched, and an
// exited child reports a size, both as the kernel counts them.
func TestPeakRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checked on Linux")
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	if got := Self(); got < 64<<20 {
		t.Errorf("Self() = %d after touching 64 MiB", got)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if got := Of(cmd.ProcessState); got <= 0 {
		t.Errorf("Of(child) = %d", got)
	}
	runtime.KeepAlive(b)
}
