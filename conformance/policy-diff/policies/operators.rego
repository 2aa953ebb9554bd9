# Arithmetic, comparison and set operators on type-confused claims, unification of arrays,
# `else` without a value, and `in` over objects.
package diff.operators

import rego.v1

limit := input.identity.claims.admin + 1

ratio := count(input.parsed_path) / (count(input.parsed_query) - 1)

grants := {s | some s in input.identity.scopes} | {"public"}

shared := grants & {"notes:read", "notes:write"}

missing := {"notes:read", "notes:write"} - grants

nickname_known if input.identity.claims.nickname in {"al": 1, "root": 2}

nickname_known if 2 in {"al": 1, "root": 2}

level := "write" if {
	"notes:write" in shared
} else := "read" if {
	"notes:read" in shared
} else if {
	input.identity.kind == "anonymous"
}

default decision := {"allow": false}

decision := {"allow": true, "reason": sprintf("%v %v %v %v %v %v %v", [limit, ratio, count(missing), first, second, level, nickname_known])} if {
	limit > 1
	[first, second] := split(input.attributes.request.http.method, "E")
} else := {"allow": false, "reason": sprintf("%v %v", [level, shared])} if {
	level
}
