# String and number builtins whose edges differ between engines.
package diff.strings

import rego.v1

path := split(input.attributes.request.http.path, "?")[0]

id := to_number(input.parsed_path[1])

default decision := {"allow": false, "reason": "no id"}

decision := {"allow": id > 0, "reason": concat(",", [
	lower(input.attributes.request.http.method),
	format_int(count(path), 10),
	format_int(count(input.parsed_path[1]), 10),
	sprintf("%d/%v/%s", [id, id, input.parsed_path[1]]),
	replace(path, "/", "|"),
	trim_space(input.parsed_path[1]),
])} if {
	id
}
