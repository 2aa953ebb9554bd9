// Command armature-conformance-go serves the Go conformance service (`ci/serve go`) on
// ARMATURE_SERVER__PORT, drains on SIGTERM or SIGINT, exiting 0, and reloads on SIGHUP.
//
// With -transport it serves the runner's process transport instead (armature-conformance
// --transport-command): one JSON request per stdin line, each run through App.Inject, one
// `armature-response {...}` line per answer on stdout.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"armature.dev/go/internal/conformance"
)

func main() {
	dir := flag.String("conformance", defaultDir(), "the repository's conformance/ folder")
	transport := flag.Bool("transport", false, "serve the runner's process transport on stdin/stdout")
	flag.Parse()
	app, err := conformance.New(*dir)
	if err != nil {
		log.Fatal(err)
	}
	if *transport {
		if err := conformance.ServeTransport(app, os.Stdin, os.Stdout); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := app.Start(""); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "armature: listening on port %d (pid %d)\n", app.Port(), os.Getpid())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	for sig := range signals {
		if sig != syscall.SIGHUP {
			break
		}
		// The core logs and counts a failed reload; the service runs on as before.
		_ = app.Reload()
	}
	if err := app.Close(); err != nil {
		log.Fatal(err)
	}
}

// defaultDir is conformance/ of the repository this command's source is in, found from the
// working directory (ci/serve runs it from the repository root).
func defaultDir() string {
	for dir, _ := os.Getwd(); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "conformance", "contract.yaml")); err == nil {
			return filepath.Join(dir, "conformance")
		}
		if dir == filepath.Dir(dir) {
			return "conformance"
		}
	}
}
