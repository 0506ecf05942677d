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

// TestDecimal: integer flags are read in base 10 only, "010" being ten and
// not octal eight; anything else is a usage error naming the value.
func TestDecimal(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want int
		bad  string
	}{
		{"010", 10, ""},
		{"30", 30, ""},
		{"-5", -5, ""},
		{"0x10", 0, `"0x10" is not a decimal integer`},
		{"1e3", 0, `"1e3" is not a decimal integer`},
		{"99999999999999999999", 0, "out of range"},
	} {
		fs := NewFlags("prog")
		n := Int(fs, "n", 7, "a number")
		var seed uint64
		Uint64Var(fs, &seed, "seed", 1, "a seed")
		err := Parse(fs, []string{"--n", tc.arg, "--seed", "010"}, &bytes.Buffer{})
		switch {
		case tc.bad == "" && (err != nil || *n != tc.want || seed != 10):
			t.Errorf("--n %s: %v, n %d seed %d, want %d and 10", tc.arg, err, *n, seed, tc.want)
		case tc.bad != "" && (!IsUsage(err) || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("--n %s: %v, want a usage error with %q", tc.arg, err, tc.bad)
		}
	}
	fs := NewFlags("prog")
	Int(fs, "n", 7, "a number")
	var out bytes.Buffer
	PrintHelp(fs, &out)
	if !strings.Contains(out.String(), "(default 7)") {
		t.Errorf("help %q does not show the default", out.String())
	}
}
