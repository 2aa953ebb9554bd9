// Command gomodproxy writes one version of a Go module as a module proxy tree (the GOPROXY
// protocol served from files, `GOPROXY=file:///...`): <module>/@v/list, <version>.info, .mod and
// .zip. The zip is made by golang.org/x/mod/zip, the code the go command itself uses, so it holds
// exactly the files `go mod download` accepts, under the limits it checks.
//
// Usage: gomodproxy <module dir> <module path> <version> <proxy root>
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: gomodproxy <module dir> <module path> <version> <proxy root>")
		os.Exit(2)
	}
	if err := write(os.Args[1], os.Args[2], os.Args[3], os.Args[4]); err != nil {
		fmt.Fprintln(os.Stderr, "gomodproxy:", err)
		os.Exit(1)
	}
}

func write(dir, path, version, root string) error {
	mv := module.Version{Path: path, Version: version}
	if err := module.Check(path, version); err != nil {
		return err
	}
	escaped, err := module.EscapePath(path)
	if err != nil {
		return err
	}
	versions := filepath.Join(root, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(versions, 0o755); err != nil {
		return err
	}
	goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	// Time is what `go list -m` shows; the proxy protocol needs it in RFC 3339.
	info, err := json.Marshal(struct{ Version, Time string }{version, time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	zipFile, err := os.Create(filepath.Join(versions, version+".zip"))
	if err != nil {
		return err
	}
	if err := zip.CreateFromDir(zipFile, mv, dir); err != nil {
		zipFile.Close()
		return fmt.Errorf("zip of %s: %w", dir, err)
	}
	if err := zipFile.Close(); err != nil {
		return err
	}
	files := map[string][]byte{
		version + ".mod":  goMod,
		version + ".info": info,
		"list":            []byte(version + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(versions, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
