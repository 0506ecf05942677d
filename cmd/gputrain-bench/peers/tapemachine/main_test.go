package main

import (
	"strings"
	"testing"
)

// TestBadInput: a bad command line or model is one line and a non-zero
// exit, before any data is read.
func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--eta", "0"}, 2, "tapemachine: --eta 0: must be a finite number > 0\n"},
		{[]string{"--sizes", "783,10"}, 2, "tapemachine: --sizes: "},
		{[]string{"--dtype", "float16"}, 2, `tapemachine: invalid value "float16" for flag -dtype: dtype "float16": want float32 or float64`},
		{[]string{"stray"}, 2, "tapemachine: unexpected argument \"stray\"\n"},
		{[]string{"--init", "/nonexistent/m.json"}, 1, "tapemachine: /nonexistent/m.json: "},
	} {
		var stdout, stderr strings.Builder
		if code := run(c.args, &stdout, &stderr); code != c.code || !strings.HasPrefix(stderr.String(), c.want) ||
			strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q…", c.args, code, stderr.String(), c.code, c.want)
		}
	}
}
