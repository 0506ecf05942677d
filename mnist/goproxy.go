package mnist

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// A Go module zip fetched the way the go command fetches one, without the
// go command: from the module cache when it is there, else over the module
// proxy protocol (GET $GOPROXY/<module>/@v/<version>.zip) from the proxies
// GOPROXY names. Either way the zip must hash to the module's go.sum line.

// modZip is one module version and its go.sum hash, "h1:" and the base64
// SHA-256 of its files' SHA-256s (golang.org/x/mod/sumdb/dirhash.Hash1).
type modZip struct{ path, version, sum string }

// maxZip bounds what a proxy may send: the go command refuses module zips
// over 500 MB, and MNIST's is 11 MB.
const maxZip = 500 << 20

// errNotFound is a proxy's 404 or 410: the next proxy after a comma may
// have the module.
var errNotFound = errors.New("not found")

// goEnv returns the go command's setting of key: the environment, else the
// go env file (GOENV, by default go/env in the user's config directory),
// else "".
func goEnv(key string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	file := os.Getenv("GOENV")
	if file == "off" {
		return ""
	}
	if file == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return ""
		}
		file = filepath.Join(dir, "go", "env")
	}
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// proxy is one entry of GOPROXY: a URL, "direct" or "off", and whether the
// next entry is tried after any failure ("|") or only after a 404 or 410 (",").
type proxy struct {
	url       string
	anyErrors bool
}

// proxies parses GOPROXY as the go command does; unset, it is
// https://proxy.golang.org,direct. Modules matching GONOPROXY (or
// GOPRIVATE) skip the proxies and go direct.
func proxies(modPath string) []proxy {
	list := goEnv("GOPROXY")
	if list == "" {
		list = "https://proxy.golang.org,direct"
	}
	noproxy := goEnv("GONOPROXY")
	if noproxy == "" {
		noproxy = goEnv("GOPRIVATE")
	}
	if noproxy != "" && module.MatchPrefixPatterns(noproxy, modPath) {
		return []proxy{{url: "direct"}}
	}
	var out []proxy
	for list != "" {
		i := strings.IndexAny(list, ",|")
		entry, sep := list, byte(0)
		if i >= 0 {
			entry, sep, list = list[:i], list[i], list[i+1:]
		} else {
			list = ""
		}
		if entry = strings.TrimSpace(entry); entry != "" {
			out = append(out, proxy{url: strings.TrimSuffix(entry, "/"), anyErrors: sep == '|'})
		}
	}
	return out
}

// modCacheZip is where the go command keeps m's zip once downloaded:
// GOMODCACHE, else the first GOPATH entry's pkg/mod, else ~/go/pkg/mod.
func modCacheZip(m modZip) (string, error) {
	cache := goEnv("GOMODCACHE")
	if cache == "" {
		gopath := goEnv("GOPATH")
		if gopath == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			gopath = filepath.Join(home, "go")
		}
		cache = filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod")
	}
	p, v, err := escaped(m)
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "cache", "download", filepath.FromSlash(p), "@v", v+".zip"), nil
}

func escaped(m modZip) (string, string, error) {
	p, err := module.EscapePath(m.path)
	if err != nil {
		return "", "", err
	}
	v, err := module.EscapeVersion(m.version)
	if err != nil {
		return "", "", err
	}
	return p, v, nil
}

// verifyZip checks that the zip file at path is m's: its dirhash is m.sum.
func verifyZip(path string, m modZip) error {
	sum, err := dirhash.HashZip(path, dirhash.Hash1)
	if err != nil {
		return fmt.Errorf("%s@%s: reading the module zip: %w", m.path, m.version, err)
	}
	if sum != m.sum {
		return fmt.Errorf("%s@%s: the module zip hashes to %s, want %s (go.sum): not the published module", m.path, m.version, sum, m.sum)
	}
	return nil
}

// downloadZip fetches m's zip from the proxies GOPROXY lists into a
// temporary file in dir, verifies it against m.sum, and returns the file
// and the proxy it came from. The caller removes the file.
func downloadZip(dir string, m modZip) (path, from string, err error) {
	p, v, err := escaped(m)
	if err != nil {
		return "", "", err
	}
	var faults []string
	for _, px := range proxies(m.path) {
		switch px.url {
		case "off":
			faults = append(faults, "GOPROXY=off forbids downloading modules")
			return "", "", errors.New(strings.Join(faults, "; "))
		case "direct":
			// Straight from the repository takes git: the go command's job.
			faults = append(faults, "GOPROXY's \"direct\" needs the go command")
			continue
		}
		path, err := getZip(px.url+"/"+p+"/@v/"+v+".zip", dir, m)
		if err == nil {
			return path, px.url, nil
		}
		faults = append(faults, err.Error())
		if !px.anyErrors && !errors.Is(err, errNotFound) {
			break
		}
	}
	if len(faults) == 0 {
		faults = append(faults, "GOPROXY names no proxy")
	}
	return "", "", errors.New(strings.Join(faults, "; "))
}

// client is the HTTP client of the proxy protocol; it honours HTTPS_PROXY
// and the like, as the go command does.
var client = &http.Client{Timeout: 10 * time.Minute}

// getZip downloads one zip URL (https, http or file) into a temporary file
// in dir and verifies it.
func getZip(rawURL, dir string, m modZip) (path string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("GOPROXY: %w", err)
	}
	var body io.ReadCloser
	switch u.Scheme {
	case "file":
		f, err := os.Open(filepath.FromSlash(u.Path))
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", rawURL, errNotFound)
		}
		if err != nil {
			return "", err
		}
		body = f
	case "http", "https":
		req, err := http.NewRequest(http.MethodGet, rawURL, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("User-Agent", "gputrain (module proxy client)")
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		switch {
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			resp.Body.Close()
			return "", fmt.Errorf("%s: %s: %w", rawURL, resp.Status, errNotFound)
		case resp.StatusCode != http.StatusOK:
			resp.Body.Close()
			return "", fmt.Errorf("%s: %s", rawURL, resp.Status)
		}
		body = resp.Body
	default:
		return "", fmt.Errorf("GOPROXY: %q: want an https, http or file URL", rawURL)
	}
	defer body.Close()
	tmp, err := os.CreateTemp(dir, ".module-*.zip")
	if err != nil {
		return "", pathError(dir, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, io.LimitReader(body, maxZip+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", rawURL, err)
	}
	if n > maxZip {
		return "", fmt.Errorf("%s: more than %d MB: not a module zip", rawURL, maxZip>>20)
	}
	if err := tmp.Close(); err != nil {
		return "", pathError(tmp.Name(), err)
	}
	if err := verifyZip(tmp.Name(), m); err != nil {
		return "", fmt.Errorf("%s: %w", rawURL, err)
	}
	return tmp.Name(), nil
}
