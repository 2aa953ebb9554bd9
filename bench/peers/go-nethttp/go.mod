module armature.bench/nethttp

go 1.26
