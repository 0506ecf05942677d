package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestWithCommand: flags with no command are train's; help and version
// flags keep their meaning.
func TestWithCommand(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"--device cuda", "train --device cuda"},
		{"-epochs 1", "train -epochs 1"},
		{"train --epochs 1", "train --epochs 1"},
		{"--help", "--help"},
		{"-h", "-h"},
		{"--version", "--version"},
		{"", ""},
	} {
		if got := strings.Join(withCommand(strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("withCommand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestWantsCUDA: every spelling the flag package takes of --device cuda,
// and none after "--" or for another device.
func TestWantsCUDA(t *testing.T) {
	for _, c := range []struct {
		args string
		want bool
	}{
		{"--device cuda", true},
		{"-device cuda", true},
		{"--device=cuda", true},
		{"--epochs 1 -device=cuda --eta 3", true},
		{"--device cpu", false},
		{"--device", false},
		{"--save device --device=cpu", false},
		{"-- --device cuda", false},
		{"", false},
	} {
		if got := wantsCUDA(strings.Fields(c.args)); got != c.want {
			t.Errorf("wantsCUDA(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// TestNoCommandTrains: "gputrain --epochs 1 --train-limit 1000" trains, as
// "gputrain train ..." does.
func TestNoCommandTrains(t *testing.T) {
	data := dataDir(t)
	code, stdout, stderr := runCLI("--epochs", "1", "--train-limit", "1000", "--data", data, "--quiet")
	if code != exitOK || !strings.Contains(stdout, "Epoch 0: ") {
		t.Errorf("exit %d, stdout %q, stderr %q: want an epoch trained", code, stdout, stderr)
	}
}

// TestCUDAHandOff builds the CPU binary and runs it with --device cuda and
// no command, beside a gputrain-cuda (a script standing in for the CUDA
// build, recording its arguments and exiting 7), then eval --device=cuda
// beside it, then with that script only on PATH, then with neither: the
// script gets the arguments as written and its exit status is the CPU
// binary's; without one, train says how to get one.
func TestCUDAHandOff(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in gputrain-cuda is a shell script")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("needs sh for the stand-in gputrain-cuda")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "gputrain")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	script := "#!" + sh + "\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$0.args\"\nexit 7\n"
	args := []string{"--device", "cuda", "--epochs", "1", "--save", "a model.json"}
	fake := func(at string) string {
		if err := os.MkdirAll(at, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(at, cudaBinary)
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	check := func(t *testing.T, fakeBin, path string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "PATH="+path)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Fatalf("exit: %v, output %q; want the stand-in's status 7", err, out)
		}
		got, err := os.ReadFile(fakeBin + ".args")
		if err != nil {
			t.Fatalf("the stand-in gputrain-cuda did not run: %v", err)
		}
		if want := strings.Join(args, "\n") + "\n"; string(got) != want {
			t.Errorf("the stand-in got arguments %q, want %q", got, want)
		}
	}
	t.Run("beside", func(t *testing.T) {
		p := fake(dir)
		defer os.Remove(p)
		check(t, p, os.Getenv("PATH"))
	})
	t.Run("eval", func(t *testing.T) {
		// Every command that takes --device hands over, as train does.
		p := fake(dir)
		defer os.Remove(p)
		saved := args
		defer func() { args = saved }()
		args = []string{"eval", "--model", "a model.json", "--device=cuda"}
		check(t, p, os.Getenv("PATH"))
	})
	t.Run("PATH", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "bin")
		check(t, fake(other), other+string(os.PathListSeparator)+os.Getenv("PATH"))
	})
	t.Run("none", func(t *testing.T) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "PATH="+t.TempDir())
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "built without CUDA support") {
			t.Errorf("exit %v, output %q; want status 2 and how to get the CUDA build", err, out)
		}
	})
}
