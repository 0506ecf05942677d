package cli

import (
	"errors"
	"fmt"
	"io"
)

// Status reports a command's error, if any, as one line "name: err" on
// stderr, and returns the exit status: 0 for none (or after -h), 2 for a
// usage error, 1 for any other fault.
func Status(name string, err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, ErrHelp):
		return 0
	case IsUsage(err):
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}
