"""At build, checks that each contract-first handler's typed arguments (and its dependencies')
are parameters or the body of its operation, so a renamed parameter fails at start, naming
the argument, instead of reaching the handler as a default on every request."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Set, Tuple

from . import _native
from ._params import _BODY, _COOKIE, _HEADER, _NAMED, _PATH, _QUERY, Signature

if TYPE_CHECKING:
    from ._dispatch import Operation

_LOCATIONS = {_PATH: "path", _QUERY: "query", _HEADER: "header", _COOKIE: "cookie"}
# The sources of arguments read from the request that the contract must declare.
_DECLARED = {*_LOCATIONS, _NAMED, _BODY}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def check_signatures(service: _native.Service, operations: Mapping[str, "Operation"]) -> None:
    """Raises ``ContractError`` for the first argument that matches nothing in the contract."""
    typed = {op_id: op for op_id, op in operations.items() if _reads_request(op.signature)}
    if not typed:
        return
    document = json.loads(service.openapi_json())
    declared = _declared_inputs(document)
    for op_id, operation in typed.items():
        parameters, has_body = declared.get(op_id, (set(), False))
        for owner, name, source, wire in _arguments(operation.handler, operation.signature):
            if source == _BODY:
                if not has_body:
                    raise _native.ContractError(
                        f"handler {owner} of operation {op_id!r}: argument {name!r} is a model (the JSON body), "
                        "but the operation has no application/json request body"
                    )
                continue
            if source == _NAMED:
                found = ("path", wire) in parameters or ("query", wire) in parameters
                where = "a path or query parameter"
            else:
                location = _LOCATIONS[source]
                key = wire.lower() if location == "header" else wire
                found = (location, key) in parameters
                where = f"a {location} parameter"
            if not found:
                listed = ", ".join(f"{loc} {pname}" for loc, pname in sorted(parameters)) or "none"
                raise _native.ContractError(
                    f"handler {owner} of operation {op_id!r}: argument {name!r} reads {where} {wire!r} that the "
                    f"operation does not declare (its parameters: {listed})"
                )


def _reads_request(signature: Signature) -> bool:
    return any(source in _DECLARED for _, source, _, _, _ in signature.arguments) or bool(
        signature.depends or signature.dependencies
    )


def _arguments(handler: Any, signature: Signature) -> Iterator[Tuple[str, str, int, str]]:
    """(owner's name, argument, source, wire name) of `signature` and its dependencies'."""
    owner = getattr(handler, "__qualname__", repr(handler))
    for name, source, wire, _, _ in signature.arguments:
        if source in _DECLARED:
            yield owner, name, source, wire
    for dependant in [*signature.dependencies, *(dependant for _, dependant in signature.depends)]:
        yield from _arguments(dependant.call, dependant.signature)


def _declared_inputs(document: Mapping[str, Any]) -> Dict[str, Tuple[Set[Tuple[str, str]], bool]]:
    """operationId -> ({(location, name)}, whether it has a JSON body); header names lowercased."""
    declared: Dict[str, Tuple[Set[Tuple[str, str]], bool]] = {}
    for item in (document.get("paths") or {}).values():
        item = _resolve(document, item)
        shared: List[Any] = item.get("parameters") or []
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, Mapping) or "operationId" not in operation:
                continue
            parameters: Set[Tuple[str, str]] = set()
            for parameter in [*shared, *(operation.get("parameters") or [])]:
                parameter = _resolve(document, parameter)
                location, name = parameter.get("in"), parameter.get("name")
                if isinstance(location, str) and isinstance(name, str):
                    parameters.add((location, name.lower() if location == "header" else name))
            body = _resolve(document, operation.get("requestBody") or {})
            has_body = any(media.split(";")[0].strip() == "application/json" for media in body.get("content") or {})
            declared[operation["operationId"]] = (parameters, has_body)
    return declared


def _resolve(document: Mapping[str, Any], node: Any) -> Any:
    """Follows local ``$ref``s (core has already refused any other kind)."""
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 32:
        target: Any = document
        for part in node["$ref"].lstrip("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node, seen = target, seen + 1
    return node if isinstance(node, Mapping) else {}
