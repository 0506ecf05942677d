// Command asmgen writes cpu/'s AVX2/FMA kernels, simd_amd64.s, and their Go
// declarations, simd_decl_amd64.go, with avo; and their NEON twins for
// arm64, simd_arm64.s (neon.go: plain text, as avo writes amd64 only) with
// the same declarations in simd_decl_arm64.go. Each kernel is written once
// and emitted for float32 and float64 where it has both. It is a module of
// its own, so that avo stays out of the product's dependencies.
//
// In cpu/, "go generate" runs it to rewrite both files; "make check" runs it
// with -check, which compares instead of writing.
//
// Usage:
//
//	go run . [-check] DIR
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"
)

// The files written, relative to the package directory.
const (
	asmFile      = "simd_amd64.s"
	declFile     = "simd_decl_amd64.go"
	wideFile     = "simd_wide_amd64.s"
	wideDeclFile = "simd_wide_decl_amd64.go"
	neonFile     = "simd_arm64.s"
	neonDeclFile = "simd_decl_arm64.go"
)

func main() {
	check := flag.Bool("check", false, "compare the files in DIR with what would be generated, write nothing")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: asmgen [-check] DIR (the cpu package's directory)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *check); err != nil {
		fmt.Fprintln(os.Stderr, "asmgen:", err)
		os.Exit(1)
	}
}

func run(dir string, check bool) error {
	files, err := generate()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, name := range []string{asmFile, declFile, wideFile, wideDeclFile, neonFile, neonDeclFile} {
		path := filepath.Join(dir, name)
		if check {
			have, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if !bytes.Equal(have, files[name]) {
				return fmt.Errorf("%s/%s differs from what cpu/internal/asmgen generates: edit the generator, not the output, then run go generate ./cpu/...",
					filepath.Base(abs), name)
			}
			continue
		}
		if err := writeFile(path, files[name]); err != nil {
			return err
		}
	}
	return nil
}

// generate builds every kernel and prints the assembly and declarations
// for both architectures.
func generate() (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, set := range []struct {
		build     func(*build.Context)
		asm, decl string
	}{{kernels, asmFile, declFile}, {wideKernels, wideFile, wideDeclFile}} {
		c := build.NewContext()
		set.build(c)
		f, err := c.Result()
		if err != nil {
			return nil, err
		}
		if err := pass.Compile.Execute(f); err != nil {
			return nil, err
		}
		cfg := printer.Config{Name: "cpu/internal/asmgen (go generate ./cpu/...)", Pkg: "cpu"}
		for name, p := range map[string]printer.Printer{set.asm: printer.NewGoAsm(cfg), set.decl: printer.NewStubs(cfg)} {
			b, err := p.Print(f)
			if err != nil {
				return nil, fmt.Errorf("printing %s: %w", name, err)
			}
			files[name] = b
		}
	}
	files[neonFile] = neonKernels()
	files[neonDeclFile] = files[declFile] // the same functions, the same arguments
	return files, nil
}

// writeFile replaces path with b through a temporary file, so that a
// failed write leaves the old file whole.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
