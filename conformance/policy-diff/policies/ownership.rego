# Ownership: the account named in the path is the caller's; else chains with status and headers.
package diff.ownership

import rego.v1

default decision := {"allow": false, "status": 404, "reason": "no such account"}

decision := {"allow": true, "headers": {"x-owner": owner}} if {
	input.identity.kind == "jwt"
	owner := input.parsed_path[1]
	owner == input.identity.subject
} else := {"allow": true, "headers": {"x-owner": "admin"}} if {
	input.identity.claims.admin == true
} else := {"allow": false, "status": 403, "reason": sprintf("%s may not touch %s", [input.identity.subject, input.parsed_path[1]])} if {
	input.identity.kind != "anonymous"
	count(input.parsed_path) > 1
}
