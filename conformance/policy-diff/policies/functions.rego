# Functions with several definitions, else chains, and number builtins that can fail.
package diff.functions

import rego.v1

level("GET") := 1

level("HEAD") := 1

level(method) := 2 if method in {"POST", "PUT", "PATCH"}

level(method) := 3 if method == "DELETE"

clearance := n if {
	n := to_number(input.attributes.request.http.headers["x-clearance"])
} else := 0

default decision := {"allow": false}

decision := {"allow": true, "reason": sprintf("clearance %d at level %d", [clearance, needed])} if {
	needed := level(input.attributes.request.http.method)
	clearance >= needed
}
