package cli

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestIntList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want IntList
		bad  bool
	}{
		{"784,30,10", IntList{784, 30, 10}, false},
		{" 784, 10 ", IntList{784, 10}, false},
		{"-3", IntList{-3}, false},
		{"784,,10", nil, true},
		{"784,x", nil, true},
		{"", nil, true},
	} {
		l := IntList{1}
		err := l.Set(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("Set(%q) error = %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if tc.bad {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
				t.Errorf("Set(%q) error %q does not quote the input", tc.in, err)
			}
			continue
		}
		if !slices.Equal(l, tc.want) {
			t.Errorf("Set(%q) = %v, want %v", tc.in, l, tc.want)
		}
		var back IntList
		if err := back.Set(l.String()); err != nil || !slices.Equal(back, l) {
			t.Errorf("String %q does not parse back to %v", l.String(), l)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		usage bool
		help  bool
	}{
		{[]string{"--n", "3"}, false, false},
		{[]string{"--n", "x"}, true, false},
		{[]string{"--nope"}, true, false},
		{[]string{"stray"}, true, false},
		{[]string{"-h"}, false, true},
	} {
		fs := NewFlags("prog sub")
		fs.Int("n", 1, "a number")
		var out bytes.Buffer
		err := Parse(fs, tc.args, &out)
		if IsUsage(err) != tc.usage || errors.Is(err, ErrHelp) != tc.help {
			t.Errorf("Parse(%q) = %v, want usage %v help %v", tc.args, err, tc.usage, tc.help)
		}
		if tc.help && !strings.Contains(out.String(), "Usage of prog sub:") {
			t.Errorf("-h printed %q", out.String())
		}
		if !tc.help && out.Len() > 0 {
			t.Errorf("Parse(%q) printed %q", tc.args, out.String())
		}
	}
}
