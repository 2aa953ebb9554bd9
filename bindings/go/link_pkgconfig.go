//go:build armature_pkgconfig

package armature

// With -tags armature_pkgconfig the package links the libarmature.a that pkg-config's
// armature-static.pc names: a checkout's target/<profile>/ (ci/go-env points PKG_CONFIG_PATH at
// it) or an extracted C tarball's lib/pkgconfig (docs/go.md).

/*
#cgo pkg-config: armature-static
*/
import "C"
