package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// transportEnv makes this test binary serve the runner's process transport instead of testing.
// (Not ARMATURE_*: those are configuration keys, and unknown ones are refused.)
const transportEnv = "GO_CONFORMANCE_TRANSPORT"

var conformanceDir = filepath.Join("..", "..", "..", "..", "conformance")

func TestMain(m *testing.M) {
	if os.Getenv(transportEnv) == "1" {
		app, err := New(os.Getenv("GO_CONFORMANCE_DIR"))
		if err == nil {
			err = ServeTransport(app, os.Stdin, os.Stdout)
		}
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Absolute, as the tests change directory.
	if dir, err := filepath.Abs(conformanceDir); err == nil {
		conformanceDir = dir
	}
	os.Exit(m.Run())
}

// runner is the shared conformance runner (conformance/runner), built by cargo.
func runner(t *testing.T) string {
	path := os.Getenv("CONFORMANCE_RUNNER")
	if path == "" {
		profile := os.Getenv("BUILD_PROFILE")
		if profile == "" {
			profile = "ci"
		}
		path = filepath.Join("..", "..", "..", "..", "target", profile, "armature-conformance")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the conformance runner %s is not built (cargo build --profile ci -p armature-conformance, "+
			"or set CONFORMANCE_RUNNER): %v", path, err)
	}
	absolute, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return absolute
}

// secretEnv is the HMAC key of the conformance JWTs, which conformance/config.yaml reads.
func secretEnv(t *testing.T) string {
	secret, err := os.ReadFile(filepath.Join(conformanceDir, "credentials", "hs.secret"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(secret))
}

// repoRoot is where the configuration's relative paths (keys, policies) are taken from.
func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join(conformanceDir, ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func runCases(t *testing.T, runner, root string, args ...string) {
	t.Helper()
	cmd := exec.Command(runner, append(args, "--cases", filepath.Join(root, "conformance", "cases"))...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CONFORMANCE_JWT_SECRET="+secretEnv(t))
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("conformance cases failed: %v\n%s", err, output)
	}
	lines := strings.Split(strings.TrimSpace(string(output)), "\n")
	t.Log(lines[len(lines)-1])
}

// Every case over real HTTP, against the service listening in this process.
func TestCasesOverHTTP(t *testing.T) {
	t.Setenv("CONFORMANCE_JWT_SECRET", secretEnv(t))
	t.Setenv("ARMATURE_SERVER__PORT", "0")
	root, cases := repoRoot(t), runner(t)
	t.Chdir(root) // the configuration's relative paths (keys, policies) start there
	app, err := New(filepath.Join(root, "conformance"))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(""); err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	runCases(t, cases, root, "--base-url", "http://127.0.0.1:"+strconv.Itoa(app.Port()))
}

// Every case in-process, through armaturetest: this test binary, re-run as the runner's
// process transport.
func TestCasesThroughArmaturetest(t *testing.T) {
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(transportEnv, "1")
	// The transport's stdout carries its answer lines only: the core's log lines, written to the
	// same descriptor by other threads, could otherwise land inside a large answer line.
	t.Setenv("ARMATURE_TELEMETRY__ACCESS_LOG__TARGET", "stderr")
	t.Setenv("GO_CONFORMANCE_DIR", filepath.Join(repoRoot(t), "conformance"))
	runCases(t, runner(t), repoRoot(t), "--transport-command", "'"+self+"' -test.run='^$'")
}
