package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// sharedDir holds files the package's tests share (trainModel's models);
// it is removed when they are done.
var sharedDir string

// asMain set to 1 makes the test binary run as gputrain (see TestMain).
const asMain = "GPUTRAIN_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	// The test binary is gputrain itself when a test runs it as a
	// subprocess (the sweep's shards, each in an engine's environment).
	if os.Getenv(asMain) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	dir, err := os.MkdirTemp("", "gputrain-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestUnknownCommand: a mistyped command gets the one it is closest to.
func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ cmd, want string }{
		{"trian", `gputrain: unknown command "trian" (did you mean train? want train, sweep, predict,`},
		{"versoin", `(did you mean version? want`},
		{"frobnicate", `gputrain: unknown command "frobnicate" (want train, sweep, predict, eval, show, data, version or doctor; see gputrain help)`},
	} {
		code, _, errs := runCLI(c.cmd)
		if code != exitUsage || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q in it", c.cmd, code, errs, c.want)
		}
	}
}
