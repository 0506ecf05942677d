// Package cli holds the command-line plumbing that gputrain and
// gputrain-bench share: flag sets that return errors instead of exiting,
// usage errors (exit status 2) told apart from runtime ones, and the
// comma-separated integer flag behind --sizes.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrHelp ends a command after -h printed its flags; it is not a failure.
var ErrHelp = errors.New("help shown")

// UsageError marks a bad command line, which exits with status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Sprintf(format, args...)}
}

// IsUsage reports whether err is (or wraps) a UsageError.
func IsUsage(err error) bool {
	var ue *UsageError
	return errors.As(err, &ue)
}

// NewFlags makes a flag set named for its command line ("gputrain train")
// that reports errors as values instead of printing usage and exiting, so
// that every fault becomes one line.
func NewFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// Parse parses args. With -h it prints the flags to stdout and returns
// ErrHelp; a bad flag or a stray argument is a UsageError.
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return PrintHelp(fs, stdout)
	}
	if err != nil {
		return Usagef("%v%s", err, Hint(fs, err))
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// PrintHelp prints fs's flags to stdout, with two dashes, and returns
// ErrHelp.
func PrintHelp(fs *flag.FlagSet, stdout io.Writer) error {
	fmt.Fprintf(stdout, "Usage of %s:\n", fs.Name())
	printDefaults(fs, stdout)
	return ErrHelp
}

// IntList is a flag of comma-separated integers, like --sizes 784,30,10.
type IntList []int

func (l *IntList) String() string { return Ints(*l) }

// Ints writes a list as --sizes reads it: 784,30,10.
func Ints(l []int) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

// Set parses a comma-separated list, replacing the default.
func (l *IntList) Set(v string) error {
	var out IntList
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not a comma-separated list of integers", v)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// decimal is an integer flag read in base 10 only: the flag package's own
// reads "010" as octal 8 and "0x10" as 16, which no one typing --epochs
// means.
type decimal[T int | uint64] struct{ p *T }

func (d decimal[T]) String() string {
	if d.p == nil {
		return "0"
	}
	return fmt.Sprint(*d.p)
}

func (d decimal[T]) Set(v string) error {
	var err error
	var x T
	switch p := any(&x).(type) {
	case *int:
		var n int64
		n, err = strconv.ParseInt(v, 10, 0)
		*p = int(n)
	case *uint64:
		*p, err = strconv.ParseUint(v, 10, 64)
	}
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return fmt.Errorf("%q is out of range", v)
		}
		return fmt.Errorf("%q is not a decimal integer", v)
	}
	*d.p = x
	return nil
}

// IntVar defines an int flag read in decimal only (see decimal).
func IntVar(fs *flag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	fs.Var(decimal[int]{p}, name, usage)
}

// Int defines an int flag read in decimal only.
func Int(fs *flag.FlagSet, name string, value int, usage string) *int {
	p := new(int)
	IntVar(fs, p, name, value, usage)
	return p
}

// Uint64Var defines a uint64 flag read in decimal only.
func Uint64Var(fs *flag.FlagSet, p *uint64, name string, value uint64, usage string) {
	*p = value
	fs.Var(decimal[uint64]{p}, name, usage)
}
