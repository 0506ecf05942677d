package mnist

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The small part of pickle protocol 2 the book's files use: a stack
// machine over the opcodes below that builds numpy's arrays and calls
// nothing else (LoadPickle in pickle.go reads MNIST from what it returns).

// The pickle opcodes these files use (pickletools names them).
const (
	opProto          = 0x80
	opStop           = '.'
	opMark           = '('
	opTuple          = 't'
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opEmptyTuple     = ')'
	opGlobal         = 'c'
	opReduce         = 'R'
	opBuild          = 'b'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opInt            = 'I'
	opLong1          = 0x8a
	opNone           = 'N'
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opShortBinString = 'U'
	opBinString      = 'T'
	opBinUnicode     = 'X'
	opShortBinBytes  = 'C'
	opBinBytes       = 'B'
	// The lists of chapter 6's mnist_expanded.pkl.gz (expand_mnist.py
	// pickles its training set as [list of images, list of labels]).
	opEmptyList = ']'
	opAppend    = 'a'
	opAppends   = 'e'
)

// Values on the pickle machine's stack: int64, bool, nil, pyBytes (a
// Python 2 str or Python 3 bytes), string (unicode), tuple, *list,
// global, the mark, *ndarray (a numpy scalar being one of no dimension)
// and dtype.
type (
	pyBytes []byte
	tuple   []any
	list    struct{ items []any } // a pointer, since APPENDS changes the list a memo holds
	global  struct{ module, name string }
	mark    struct{}
	// dtype is numpy's dtype: its kind and size ("f4"), then the byte
	// order BUILD gives it ("<").
	dtype   struct{ name, order string }
	ndarray struct {
		shape []int
		dtype string // "<f4", "<i8"
		data  []byte
	}
)

// The callables a pickle may name. numpy 2 moved multiarray to numpy._core.
var (
	reconstruct = map[global]bool{{"numpy.core.multiarray", "_reconstruct"}: true, {"numpy._core.multiarray", "_reconstruct"}: true}
	scalar      = map[global]bool{{"numpy.core.multiarray", "scalar"}: true, {"numpy._core.multiarray", "scalar"}: true}
	ndarrayType = global{"numpy", "ndarray"}
	dtypeType   = global{"numpy", "dtype"}
	encode      = global{"_codecs", "encode"}
)

var errBudget = errors.New("over budget")

type unpickler struct {
	r     *bufio.Reader
	left  int64 // bytes the pickle may still take
	stack []any
	memo  map[int]any
}

func (u *unpickler) read(n int64) ([]byte, error) {
	if n < 0 || n > u.left {
		return nil, errBudget
	}
	u.left -= n
	b := make([]byte, n)
	_, err := io.ReadFull(u.r, b)
	return b, err
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("bad pickle: its stack underflows")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

// popMark pops the values above the topmost mark, and the mark.
func (u *unpickler) popMark() (tuple, error) {
	for i := len(u.stack) - 1; i >= 0; i-- {
		if _, ok := u.stack[i].(mark); ok {
			t := tuple(append([]any{}, u.stack[i+1:]...))
			u.stack = u.stack[:i]
			return t, nil
		}
	}
	return nil, errors.New("bad pickle: no mark for its tuple")
}

func (u *unpickler) popN(n int) (tuple, error) {
	if len(u.stack) < n {
		return nil, errors.New("bad pickle: its stack underflows")
	}
	t := tuple(append([]any{}, u.stack[len(u.stack)-n:]...))
	u.stack = u.stack[:len(u.stack)-n]
	return t, nil
}

func (u *unpickler) line() (string, error) {
	var b strings.Builder
	for {
		c, err := u.read(1)
		if err != nil {
			return "", err
		}
		if c[0] == '\n' {
			return b.String(), nil
		}
		if b.Len() > 256 {
			return "", errors.New("bad pickle: a text argument longer than 256 bytes")
		}
		b.WriteByte(c[0])
	}
}

func (u *unpickler) uint(n int) (uint64, error) {
	b, err := u.read(int64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// run executes the pickle up to its STOP and checks that nothing follows.
func (u *unpickler) run() (any, error) {
	for {
		ops, err := u.read(1)
		if err != nil {
			return nil, err
		}
		op := ops[0]
		var v any
		push := true
		switch op {
		case opProto:
			p, err := u.uint(1)
			if err != nil {
				return nil, err
			}
			if p > 2 {
				return nil, fmt.Errorf("pickle protocol %d: the book's files are protocol 2", p)
			}
			push = false
		case opStop:
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			if _, err := u.r.ReadByte(); err != io.EOF {
				return nil, errors.New("data after the pickle's STOP")
			}
			return v, nil
		case opMark:
			v = mark{}
		case opEmptyTuple:
			v = tuple{}
		case opEmptyList:
			v = &list{}
		case opAppend, opAppends:
			var items tuple
			if op == opAppend {
				items, err = u.popN(1)
			} else {
				items, err = u.popMark()
			}
			if err == nil {
				l, ok := any(nil), false
				if len(u.stack) > 0 {
					l = u.stack[len(u.stack)-1]
				}
				var dst *list
				if dst, ok = l.(*list); !ok {
					return nil, fmt.Errorf("bad pickle: APPEND to %s", describe(l))
				}
				dst.items = append(dst.items, items...)
			}
			push = false
		case opTuple:
			v, err = u.popMark()
		case opTuple1, opTuple2, opTuple3:
			v, err = u.popN(int(op-opTuple1) + 1)
		case opNone:
			v = nil
		case opNewTrue, opNewFalse:
			v = op == opNewTrue
		case opBinInt1, opBinInt2:
			var x uint64
			x, err = u.uint(int(op-opBinInt1)/2 + 1) // 'K' 1 byte, 'M' 2
			v = int64(x)
		case opBinInt:
			var x uint64
			x, err = u.uint(4)
			v = int64(int32(x))
		case opInt:
			var s string
			if s, err = u.line(); err == nil {
				switch s {
				case "00":
					v = false
				case "01":
					v = true
				default:
					var x int64
					if x, err = strconv.ParseInt(s, 10, 64); err != nil {
						err = fmt.Errorf("bad pickle: INT %q", s)
					}
					v = x
				}
			}
		case opLong1:
			var n uint64
			if n, err = u.uint(1); err == nil {
				if n > 8 {
					return nil, fmt.Errorf("bad pickle: a %d-byte integer", n)
				}
				var x uint64
				if x, err = u.uint(int(n)); err == nil && n > 0 {
					shift := 64 - 8*n
					x = uint64(int64(x<<shift) >> shift) // sign-extend
				}
				v = int64(x)
			}
		case opShortBinString, opShortBinBytes, opBinString, opBinBytes, opBinUnicode:
			var n uint64
			if op == opShortBinString || op == opShortBinBytes {
				n, err = u.uint(1)
			} else {
				n, err = u.uint(4)
			}
			var b []byte
			if err == nil {
				b, err = u.read(int64(n))
			}
			if op == opBinUnicode {
				if err == nil && !utf8.Valid(b) {
					err = errors.New("bad pickle: a unicode string that is not UTF-8")
				}
				v = string(b)
			} else {
				v = pyBytes(b)
			}
		case opGlobal:
			var g global
			if g.module, err = u.line(); err == nil {
				g.name, err = u.line()
			}
			if err == nil && !reconstruct[g] && !scalar[g] && g != ndarrayType && g != dtypeType && g != encode {
				return nil, fmt.Errorf("the pickle names %s.%s: only numpy's array reconstruction is allowed, not a pickle of MNIST arrays", g.module, g.name)
			}
			v = g
		case opBinPut, opLongBinPut:
			var k uint64
			if k, err = u.uint(map[byte]int{opBinPut: 1, opLongBinPut: 4}[op]); err == nil {
				if len(u.stack) == 0 {
					return nil, errors.New("bad pickle: PUT on an empty stack")
				}
				u.memo[int(k)] = u.stack[len(u.stack)-1]
			}
			push = false
		case opBinGet, opLongBinGet:
			var k uint64
			if k, err = u.uint(map[byte]int{opBinGet: 1, opLongBinGet: 4}[op]); err == nil {
				var ok bool
				if v, ok = u.memo[int(k)]; !ok {
					err = fmt.Errorf("bad pickle: GET of memo %d, never PUT", k)
				}
			}
		case opReduce:
			var args, f any
			if args, err = u.pop(); err == nil {
				if f, err = u.pop(); err == nil {
					v, err = call(f, args)
				}
			}
		case opBuild:
			var state any
			if state, err = u.pop(); err == nil {
				if len(u.stack) == 0 {
					return nil, errors.New("bad pickle: BUILD on an empty stack")
				}
				err = build(u.stack[len(u.stack)-1], state)
			}
			push = false
		default:
			return nil, fmt.Errorf("pickle opcode %q at an unexpected place: not one of the book's MNIST pickles", op)
		}
		if err != nil {
			return nil, err
		}
		if push {
			u.stack = append(u.stack, v)
		}
	}
}

// call is REDUCE: f(*args) for the three callables allowed.
func call(f, args any) (any, error) {
	g, ok := f.(global)
	a, okArgs := args.(tuple)
	if !ok || !okArgs {
		return nil, fmt.Errorf("bad pickle: REDUCE of %s with %s", describe(f), describe(args))
	}
	switch {
	case reconstruct[g]:
		// _reconstruct(ndarray, (0,), b"b"): an empty array that BUILD fills.
		if len(a) != 3 || a[0] != any(ndarrayType) {
			return nil, fmt.Errorf("bad pickle: %s.%s%s", g.module, g.name, describe(args))
		}
		return &ndarray{}, nil
	case scalar[g]:
		// scalar(dtype, bytes): a numpy scalar, the labels of
		// mnist_expanded.pkl.gz.
		dt, ok1 := a[0].(*dtype)
		var b pyBytes
		ok2 := len(a) == 2
		if ok2 {
			b, ok2 = a[1].(pyBytes)
		}
		if len(a) != 2 || !ok1 || !ok2 {
			return nil, fmt.Errorf("bad pickle: %s.%s%s", g.module, g.name, describe(args))
		}
		x := &ndarray{dtype: dt.order + dt.name, data: b}
		if size := map[string]int{"<i4": 4, "<i8": 8}[x.dtype]; size == 0 || len(b) != size {
			return nil, fmt.Errorf("a numpy scalar of dtype %s in %d bytes: the book's labels are int64", x.dtype, len(b))
		}
		return x, nil
	case g == dtypeType:
		// dtype("f4", False, True), or 0 and 1 from Python 2.
		if len(a) != 3 {
			return nil, fmt.Errorf("bad pickle: numpy.dtype%s", describe(args))
		}
		name, ok := text(a[0])
		if !ok {
			return nil, fmt.Errorf("bad pickle: numpy.dtype%s", describe(args))
		}
		return &dtype{name: name}, nil
	case g == encode:
		// _codecs.encode(str, "latin1"): Python 3's way to pickle bytes at protocol 2.
		if len(a) != 2 {
			return nil, fmt.Errorf("bad pickle: _codecs.encode%s", describe(args))
		}
		s, ok1 := a[0].(string)
		enc, ok2 := a[1].(string)
		if !ok1 || !ok2 || enc != "latin1" && enc != "latin-1" {
			return nil, fmt.Errorf("bad pickle: _codecs.encode%s: only latin1 text is allowed", describe(args))
		}
		b := make(pyBytes, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, errors.New("bad pickle: latin1 text with a character above U+00FF")
			}
			b = append(b, byte(r))
		}
		return b, nil
	}
	return nil, fmt.Errorf("the pickle calls %s.%s, which it may not name", g.module, g.name)
}

// text is a Python 2 str or a unicode string as text.
func text(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case pyBytes:
		return string(s), true
	}
	return "", false
}

// build is BUILD: it sets a dtype's byte order, or an array's shape, dtype
// and bytes.
func build(obj, state any) error {
	st, ok := state.(tuple)
	if !ok {
		return fmt.Errorf("bad pickle: BUILD of %s with %s", describe(obj), describe(state))
	}
	switch o := obj.(type) {
	case *dtype:
		// (version, byte order, subarray, names, fields, elsize, alignment, flags)
		if len(st) < 2 {
			return fmt.Errorf("bad pickle: a dtype's state %s", describe(state))
		}
		o.order, _ = text(st[1])
		return nil
	case *ndarray:
		// (version, shape, dtype, Fortran order, bytes)
		if len(st) != 5 {
			return fmt.Errorf("bad pickle: an array's state %s", describe(state))
		}
		shape, ok := st[1].(tuple)
		if !ok {
			return fmt.Errorf("bad pickle: an array's shape %s", describe(st[1]))
		}
		n := int64(1)
		for _, d := range shape {
			k, ok := d.(int64)
			if !ok || k < 0 || k > maxPickle {
				return fmt.Errorf("bad pickle: an array's shape %s", describe(st[1]))
			}
			o.shape = append(o.shape, int(k))
			n *= k
			if n > maxPickle {
				return fmt.Errorf("bad pickle: an array's shape %s", describe(st[1]))
			}
		}
		dt, ok := st[2].(*dtype)
		if !ok {
			return fmt.Errorf("bad pickle: an array's dtype %s", describe(st[2]))
		}
		o.dtype = dt.order + dt.name
		if fortran, _ := st[3].(bool); fortran || st[3] == any(int64(1)) {
			return errors.New("an array in Fortran order: the book's arrays are in C order")
		}
		data, ok := st[4].(pyBytes)
		if !ok {
			return fmt.Errorf("bad pickle: an array's data %s", describe(st[4]))
		}
		size := map[string]int64{"<f4": 4, "<i4": 4, "<i8": 8, "<f8": 8}[o.dtype]
		if size == 0 {
			return fmt.Errorf("an array of dtype %s: the book's arrays are float32 and int64", o.dtype)
		}
		if int64(len(data)) != n*size {
			return fmt.Errorf("an array of shape %v and dtype %s holds %d bytes, want %d", o.shape, o.dtype, len(data), n*size)
		}
		o.data = data
		return nil
	}
	return fmt.Errorf("bad pickle: BUILD of %s", describe(obj))
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case tuple:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = describe(e)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case global:
		return x.module + "." + x.name
	case pyBytes:
		return fmt.Sprintf("%d bytes", len(x))
	case string:
		if len(x) > 20 {
			return fmt.Sprintf("a %d-character string", len(x))
		}
		return strconv.Quote(x)
	case *ndarray:
		return fmt.Sprintf("an array %v of %s", x.shape, x.dtype)
	case *dtype:
		return "dtype " + x.order + x.name
	case *list:
		return fmt.Sprintf("a list of %d", len(x.items))
	}
	return fmt.Sprint(v)
}
