# Method and path allow lists with glob.match, as an OPA-Envoy policy writes them.
package diff.allowlist

import rego.v1

routes := [
	{"method": "GET", "path": "/plaintext"},
	{"method": "GET", "path": "/users/*"},
	{"method": "POST", "path": "/users"},
	{"method": "*", "path": "/me{,/**}"},
	{"method": "{GET,HEAD}", "path": "/accounts/*/notes"},
]

path := split(input.attributes.request.http.path, "?")[0]

default decision := {"allow": false, "reason": "no route allows this request"}

decision := {"allow": true, "headers": {"x-route": route.path}} if {
	some route in routes
	glob.match(route.method, [], input.attributes.request.http.method)
	glob.match(route.path, ["/"], path)
}
