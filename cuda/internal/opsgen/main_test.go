package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedFilesAreFresh: the committed headers are what the op table
// generates now; a stale one (an op added or renumbered without go
// generate ./cuda/) fails here.
func TestGeneratedFilesAreFresh(t *testing.T) {
	for _, f := range []struct {
		path string
		want []byte
	}{{"../../ops.h", opsH()}, {"../../standin/src/opforms.h", opFormsH()}} {
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("cuda/%s is stale: run go generate ./cuda/ (make ptx)", f.path[len("../../"):])
		}
	}
}

// TestEveryFormNamed: a kernel op of a form the C list lacks would
// generate a header that does not compile.
func TestEveryFormNamed(t *testing.T) {
	for _, op := range kernelOps() {
		if formName(op.Def().Form) == "" {
			t.Errorf("op %v: its form %d has no name in forms", op, op.Def().Form)
		}
	}
}
