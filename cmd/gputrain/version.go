package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/cuda"
)

// The git revision as make build gives it to the linker (-X), for a build
// that go build did not stamp (GOFLAGS=-buildvcs=false, a git worktree).
var vcsRevision, vcsTime, vcsModified string

// runVersion prints what this binary is: gputrain version, or --version.
func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("gputrain version")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	fmt.Fprint(stdout, versionText(bi, cpu.Describe(), cuda.Describe()))
	return nil
}

// versionText words the build information: the module version and the
// commit it was built from (debug.ReadBuildInfo's, which go build records
// in a git checkout), the Go version and platform, the backends (the CPU's
// kernels; the CUDA build's device, driver and cuBLAS, or that there is
// none) and the dtypes they train in.
func versionText(bi *debug.BuildInfo, cpuKernels, cudaSupport string) string {
	var b strings.Builder
	version, path := "unknown", "github.com/gputrain/gputrain"
	settings := map[string]string{}
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.Main.Path != "" {
			path = bi.Main.Path
		}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	if settings["vcs.revision"] == "" && vcsRevision != "" {
		settings["vcs.revision"], settings["vcs.time"], settings["vcs.modified"] = vcsRevision, vcsTime, vcsModified
	}
	fmt.Fprintf(&b, "gputrain %s (%s)\n", version, path)
	if rev := settings["vcs.revision"]; rev != "" {
		var notes []string
		if t := settings["vcs.time"]; t != "" {
			notes = append(notes, "committed "+t)
		}
		if settings["vcs.modified"] == "true" {
			notes = append(notes, "with uncommitted changes")
		}
		fmt.Fprintf(&b, "revision %s", rev)
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
		}
		b.WriteString("\n")
	} else {
		b.WriteString("revision unknown (not built from a git checkout)\n")
	}
	fmt.Fprintf(&b, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "backend cpu: %s\n", cpuKernels)
	fmt.Fprintf(&b, "backend cuda: %s\n", cudaSupport)
	b.WriteString("dtypes float32, float64\n")
	return b.String()
}
