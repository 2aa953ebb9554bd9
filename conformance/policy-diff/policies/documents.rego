# Object and array builtins, comprehensions over objects, `some k, v in`, `object.get`,
# `every` over an object, and a data-driven lookup through an import.
package diff.documents

import data.diff.grants as grant_table
import rego.v1

headers := input.attributes.request.http.headers

lengths := {name: count(value) | some name, value in headers}

long_headers := [name | some name, n in lengths; n > 8]

tenant := object.get(headers, "x-tenant", "none")

operations := {op | some role, entries in grant_table; some entry in entries; op := entry.operation}

all_short if {
	every name, value in headers {
		count(value) < 20
		not startswith(name, "x-much")
	}
}

default decision := {"allow": false}

decision := {
	"allow": input.operation.id in operations,
	"reason": concat("|", [tenant, concat(",", long_headers), json.marshal(lengths), sprintf("%v", [all_short])]),
	"headers": {"x-tenant": tenant},
} if {
	count(headers) > 0
}
