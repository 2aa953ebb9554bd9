# Header rules as `deny contains msg`, the OPA-Envoy idiom.
package diff.headers

import rego.v1

tenant := input.attributes.request.http.headers["x-tenant"]

deny contains "missing tenant" if not tenant

deny contains msg if {
	not regex.match(`^[a-z][\w-]{1,16}$`, tenant)
	msg := sprintf("bad tenant %s", [tenant])
}

deny contains msg if {
	some digit in regex.find_n(`\d`, tenant, -1)
	msg := sprintf("digit %s in tenant", [digit])
}

deny contains "too many query parameters" if count(input.parsed_query) > 2

decision := {"allow": count(deny) == 0, "reason": concat("; ", sort(deny))}
