module armature.dev/go

go 1.24
