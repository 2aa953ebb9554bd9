module armature.dev/examples/go

go 1.24

require armature.dev/go v0.0.0

// The binding from this checkout; a service elsewhere points this at its copy (docs/go.md).
replace armature.dev/go => ../../bindings/go
