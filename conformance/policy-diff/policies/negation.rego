# Negation over undefined values, and helper functions called with them.
package diff.negation

import rego.v1

is_admin(user) if user in data.diff.admins

default decision := false

decision if {
	input.attributes.request.http.method in {"GET", "HEAD"}
	not is_admin(input.identity.claims.nickname)
}

decision if {
	not input.identity.subject
	input.operation.id == "plaintext"
}
