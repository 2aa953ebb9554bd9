# Complete rules that may disagree (an error in OPA: the request is refused) and a partial object
# with a conflict on a key that only some requests look up.
package diff.conflicts

import rego.v1

level := "high" if input.identity.kind == "jwt"

level := "low" if input.identity.subject == "alice"

limits[name] := 10 if some name in {"a", "b"}

limits["a"] := 20 if input.identity.kind == "api_key"

default decision := {"allow": false}

decision := {"allow": true, "reason": sprintf("%s %d", [level, limits.b])} if {
	level
}
