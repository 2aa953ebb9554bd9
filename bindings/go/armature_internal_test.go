package armature

import (
	"strings"
	"testing"
)

func TestCheckABIRefusesAnotherVersion(t *testing.T) {
	if err := checkABI(headerABIVersion, headerABIVersion); err != nil {
		t.Fatalf("the same version refused: %v", err)
	}
	err := checkABI(headerABIVersion+1, headerABIVersion)
	if err == nil || !strings.Contains(err.Error(), "C ABI version") {
		t.Fatalf("another version: got %v", err)
	}
	if abiVersion() != headerABIVersion {
		t.Fatalf("the linked library has ABI %d, the header %d", abiVersion(), headerABIVersion)
	}
}

func TestDefaultOperationIDMatchesTheNodeBinding(t *testing.T) {
	for pattern, want := range map[string]string{
		"GET /users/{id}":           "getUsersById",
		"delete /pets/{id}":         "deletePetsById",
		"POST /users":               "postUsers",
		"GET /orgs/{org_id}/a-b_c/": "getOrgsByOrgIdABC",
	} {
		method, path, err := splitPattern(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := defaultOperationID(method, path); got != want {
			t.Errorf("%s: got %s, want %s", pattern, got, want)
		}
	}
}

func TestSplitPatternRefusesMalformedPatterns(t *testing.T) {
	for _, pattern := range []string{"", "GET", "/users", "GET users", " GET"} {
		if _, _, err := splitPattern(pattern); err == nil {
			t.Errorf("%q accepted", pattern)
		}
	}
}

func TestSplitAddr(t *testing.T) {
	host, port, err := splitAddr("127.0.0.1:8080")
	if err != nil || host != "127.0.0.1" || port != 8080 {
		t.Fatalf("got %q %d %v", host, port, err)
	}
	if host, port, err = splitAddr(":0"); err != nil || host != "" || port != 0 {
		t.Fatalf("got %q %d %v", host, port, err)
	}
	for _, addr := range []string{"8080", "host:http", "host:70000"} {
		if _, _, err := splitAddr(addr); err == nil {
			t.Errorf("%q accepted", addr)
		}
	}
}

// The cost of one cgo crossing into the library (a call that does no work), for docs/go.md:
// `go test -run '^$' -bench Crossing .`
func BenchmarkCrossing(b *testing.B) {
	for b.Loop() {
		abiVersion()
	}
}
