//go:build !armature_pkgconfig

package armature

// The released module (ci/release) carries the C ABI's header and a prebuilt, debug-stripped
// libarmature.a for each platform it supports, so `go get` and `go build` need neither cargo nor
// pkg-config. In a checkout these files are absent: build with -tags armature_pkgconfig there
// (link_pkgconfig.go; ci/go-env sets it). The system libraries are those
// `rustc --print native-static-libs` names for the library (ci/release checks the list).

/*
#cgo linux,amd64 CFLAGS: -I${SRCDIR}/lib/include
#cgo linux,amd64 LDFLAGS: ${SRCDIR}/lib/linux_amd64/libarmature.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"

import (
	// The library's directories hold a Go file each (ci/release writes them) and are imported
	// here, so that `go mod vendor` copies the header and the library with the package.
	_ "armature.dev/go/lib/include"
	_ "armature.dev/go/lib/linux_amd64"
)
