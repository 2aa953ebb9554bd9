# Role checks over the token's claims and grants kept in data.
package diff.roles

import rego.v1

default decision := false

roles contains role if some role in input.identity.claims.roles

decision if "admin" in roles

decision if {
	some role in roles
	some grant in data.diff.grants[role]
	grant.operation == input.operation.id
	grant.methods[_] == input.attributes.request.http.method
}

decision if {
	input.identity.kind == "api_key"
	input.identity.subject in data.diff.services
	input.attributes.request.http.method in {"GET", "HEAD"}
}
