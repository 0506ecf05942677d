package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
		out  string
	}{
		{nil, 0, ""},
		{ErrHelp, 0, ""},
		{fmt.Errorf("wrapped: %w", ErrHelp), 0, ""},
		{Usagef("--eta 0: must be a finite number > 0"), 2, "cmd: --eta 0: must be a finite number > 0\n"},
		{fmt.Errorf("reading: %w", Usagef("--sizes: bad")), 2, "cmd: reading: --sizes: bad\n"},
		{errors.New("data/x: truncated"), 1, "cmd: data/x: truncated\n"},
	} {
		var b strings.Builder
		if code := Status("cmd", c.err, &b); code != c.code || b.String() != c.out {
			t.Errorf("Status(%v) = %d, %q; want %d, %q", c.err, code, b.String(), c.code, c.out)
		}
	}
}
