# `every`, comprehensions and two complete definitions with exclusive conditions.
package diff.every

import rego.v1

scopes := {s | some s in input.identity.scopes}

needed := {"notes:read"} if input.attributes.request.http.method in {"GET", "HEAD"}

needed := {"notes:read", "notes:write"} if not input.attributes.request.http.method in {"GET", "HEAD"}

segment_lengths := [count(segment) | some segment in input.parsed_path]

long_segment if {
	some n in segment_lengths
	n > 8
}

default decision := {"allow": false}

decision := {"allow": true, "reason": concat(",", sort([s | some s in needed]))} if {
	every scope in needed {
		scope in scopes
	}
	not long_segment
}
