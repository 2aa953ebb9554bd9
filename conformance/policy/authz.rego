# The conformance suite's authorization policy: role- and ownership-based rules over the
# verified identity (input.identity) and the request path (input.operation.path_params, or
# input.parsed_path as an OPA-Envoy policy would use it).
#
# The core evaluates `data.armature.authz.decision` (conformance/config.yaml) for every routed
# request, after the identity stage and before the handler. It is an object:
#   {"allow": bool, "status": 4xx/5xx on deny, "reason": text, "headers": {name: value}}
package armature.authz

import rego.v1

# The first branch that holds decides, so the rules read top to bottom like a firewall.
default decision := {"allow": false, "reason": "no rule allows this request"}

decision := {"allow": conflicting_answer} if {
	# Deliberately broken for the policy-error case: two complete values for one rule make the
	# evaluation fail, and a failed evaluation must refuse the request (500), never allow it.
	"policy-test" in input.operation.tags
} else := {"allow": true} if {
	"public" in input.operation.tags
} else := {"allow": false, "reason": "the policy can see a credential"} if {
	# The core withholds every credential location the identity stage reads (conformance
	# cases "the policy sees no ..."): a policy that could see one would deny here.
	credential_visible
} else := {"allow": false, "reason": "account suspended"} if {
	input.identity.subject in data.accounts.suspended
} else := {"allow": true} if {
	"identity" in input.operation.tags
} else := {"allow": false, "reason": "note 1 is pinned"} if {
	# Path parameters reach the policy typed as the contract declares them: noteId is an
	# integer, so this compares numbers (conformance case "the policy sees typed path parameters").
	input.operation.path_params.noteId == 1
} else := {"allow": true, "headers": {"x-authz-rule": "admin"}} if {
	"admin" in roles
} else := {"allow": false, "reason": "only admins may delete notes"} if {
	input.operation.id == "deleteNote"
} else := {"allow": true, "headers": {"x-authz-rule": "owner"}} if {
	# Ownership: the account named in the path is the caller's own.
	input.identity.kind == "jwt"
	input.parsed_path[1] == input.identity.subject
} else := {"allow": true, "headers": {"x-authz-rule": "service-read"}} if {
	# Services holding an API key may read any account, never write.
	input.identity.kind == "api_key"
	input.attributes.request.http.method == "GET"
} else := {"allow": false, "status": 404, "reason": "no such account"} if {
	# Someone else's account: answer as if it did not exist rather than confirm it does.
	"notes" in input.operation.tags
}

roles contains role if some role in input.identity.claims.roles

credential_headers := {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-forwarded-client-cert"}

credential_visible if {
	some name in credential_headers
	input.attributes.request.http.headers[name]
}

conflicting_answer := true if "policy-test" in input.operation.tags

conflicting_answer := false if "policy-test" in input.operation.tags
