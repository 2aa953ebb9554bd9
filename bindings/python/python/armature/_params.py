"""Typed handler arguments, the FastAPI way: what each parameter of a handler reads from the
request, decided once when the handler is registered, from its signature and type hints.

- annotated ``armature.Request`` (or named ``request``): the request itself;
- named like a variable of the path template: that path parameter;
- a Pydantic model: the JSON body, built from the value core has already parsed and validated;
- ``Query(...)``, ``Header(...)``, ``Cookie(...)``, ``Path(...)`` as the default (or in
  ``Annotated[...]``): that parameter, with its alias and constraints;
- ``Depends(fn)`` as the default (or in ``Annotated[...]``): the value of that dependency,
  whose own arguments follow these same rules (see ``_depends``);
- annotated ``armature.BackgroundTasks``: the request's background tasks;
- any other parameter of a simple type (``int``, ``float``, ``str``, ``bool``, a ``list`` of
  those, an ``Enum``, a ``Literal``, optionally ``Optional``): a query parameter.

For a code-first route the same signature becomes the operation's parameters and body in the
contract, so core decodes, types and validates them before Python runs: reading one is a dict
lookup, not a second validation.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import inspect
import sys
import types
import typing
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ._depends import BackgroundTasks, Dependant, Dependency
from ._native import Request
from ._schema import is_model_class, schema_of

_MISSING: Any = inspect.Parameter.empty


class Param:
    """A parameter marker: where a handler argument comes from, and its constraints.

    ``default`` (none: required), ``alias`` (the name on the wire, when it differs from the
    argument's), ``description``, and the constraints written into the contract so that core
    enforces them: ``ge``, ``gt``, ``le``, ``lt`` (numbers), ``min_length``, ``max_length``,
    ``pattern`` (strings)."""

    location = "query"

    __slots__ = ("default", "alias", "description", "constraints")

    def __init__(
        self,
        default: Any = ...,
        *,
        alias: Optional[str] = None,
        description: Optional[str] = None,
        ge: Optional[float] = None,
        gt: Optional[float] = None,
        le: Optional[float] = None,
        lt: Optional[float] = None,
        min_length: Optional[int] = None,
        max_length: Optional[int] = None,
        pattern: Optional[str] = None,
    ) -> None:
        self.default = _MISSING if default is ... else default
        self.alias = alias
        self.description = description
        keywords = {
            "minimum": ge,
            "exclusiveMinimum": gt,
            "maximum": le,
            "exclusiveMaximum": lt,
            "minLength": min_length,
            "maxLength": max_length,
            "pattern": pattern,
        }
        self.constraints: Dict[str, Any] = {key: value for key, value in keywords.items() if value is not None}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alias={self.alias!r}, constraints={self.constraints!r})"


class QueryParam(Param):
    location = "query"


class PathParam(Param):
    location = "path"


class HeaderParam(Param):
    location = "header"


class CookieParam(Param):
    location = "cookie"


def _marker(kind: "type[Param]") -> Callable[..., Any]:
    def make(default: Any = ..., **options: Any) -> Any:
        return kind(default, **options)

    make.__name__ = make.__qualname__ = kind.__name__[: -len("Param")]
    make.__doc__ = f"A {kind.location} parameter (see ``armature.Param`` for the options)."
    return make


#: Markers, used as a parameter's default or in ``Annotated[type, marker]``.
Query = _marker(QueryParam)
Path = _marker(PathParam)
Header = _marker(HeaderParam)
Cookie = _marker(CookieParam)

# How each argument is read. Plain tuples: this is the per-request path. _NAMED (contract-first
# operations only): the path parameter of that name, else the query parameter.
_REQUEST, _PATH, _QUERY, _HEADER, _COOKIE, _BODY, _NAMED, _DEPENDS, _BACKGROUND = range(9)
_SOURCES = {"path": _PATH, "query": _QUERY, "header": _HEADER, "cookie": _COOKIE, "named": _NAMED}


class Signature:
    """What one handler's arguments read, and what its signature declares for the contract."""

    __slots__ = (
        "arguments",
        "path_params",
        "parameters",
        "body",
        "body_model",
        "components",
        "takes_only_request",
        "depends",
        "dependencies",
        "is_async",
        "needs_solution",
    )

    def __init__(self) -> None:
        # (argument name, source, wire name, default, model class or None)
        self.arguments: List[Tuple[str, int, str, Any, Any]] = []
        self.path_params: Dict[str, Any] = {}
        self.parameters: List[Dict[str, Any]] = []
        self.body: Optional[Dict[str, Any]] = None
        self.body_model: Any = None
        self.components: Dict[str, Any] = {}
        self.takes_only_request = False
        # (argument name, dependency) of the Depends arguments; dependencies whose value is
        # not an argument (a route's or router's ``dependencies=[...]``), solved first.
        self.depends: List[Tuple[str, Dependant]] = []
        self.dependencies: List[Dependant] = []
        # Whether solving the dependencies awaits (some dependency, however deep, is async).
        self.is_async = False
        # Whether a call needs a per-request Solution (dependencies or background tasks).
        self.needs_solution = False

    def bind(self, request: Request, solution: Any = None, solved: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The keyword arguments of one call; `solved` holds the values of the Depends
        arguments, `solution` the request's Solution when `needs_solution`."""
        values: Dict[str, Any] = {}
        # Each map is read from core once per call, and only when an argument needs it.
        path: Optional[Dict[str, Any]] = None
        query: Optional[Dict[str, Any]] = None
        header: Optional[Dict[str, Any]] = None
        cookie: Optional[Dict[str, Any]] = None
        for name, source, wire, default, model in self.arguments:
            if source == _REQUEST:
                values[name] = request
                continue
            if source == _DEPENDS:
                values[name] = solved[name] if solved is not None else None
                continue
            if source == _BACKGROUND:
                values[name] = solution.background_tasks()
                continue
            if source == _BODY:
                data = request.json()
                values[name] = default if data is None and default is not _MISSING else model.model_validate(data)
                continue
            if source == _PATH:
                found = (path if path is not None else (path := request.path_params)).get(wire, _MISSING)
            elif source == _QUERY:
                found = (query if query is not None else (query := request.query)).get(wire, _MISSING)
            elif source == _NAMED:
                found = (path if path is not None else (path := request.path_params)).get(wire, _MISSING)
                if found is _MISSING:
                    found = (query if query is not None else (query := request.query)).get(wire, _MISSING)
            elif source == _HEADER:
                found = (header if header is not None else (header := request.header_params)).get(wire, _MISSING)
                if found is _MISSING:
                    # Header names are case-insensitive; a contract may spell one `X-Tenant`.
                    lower = wire.lower()
                    found = next((v for k, v in request.header_params.items() if k.lower() == lower), _MISSING)
            else:
                found = (cookie if cookie is not None else (cookie := request.cookie_params)).get(wire, _MISSING)
            if found is _MISSING:
                # Core refused a request without a required one, so only optional ones get here.
                found = None if default is _MISSING else default
            values[name] = found
        return values


def read_signature(
    handler: Callable[..., Any],
    path_template: Optional[str],
    *,
    dependency: bool = False,
    dependencies: Sequence[Any] = (),
    overrides: Optional[Mapping[Callable[..., Any], Callable[..., Any]]] = None,
) -> Signature:
    """Resolves `handler`'s arguments. `path_template` is the route's path for a code-first
    route; None for a contract-first operation, whose parameters are then found by name.
    `dependency`: `handler` is a dependency (FastAPI's rules: an unannotated argument is a query
    parameter). `dependencies` are solved before the call, their values discarded. `overrides`
    (``App.dependency_overrides`` when the service is built) replace dependencies, so that
    what an override does not read is not required by the contract either."""
    overrides = overrides or {}
    signature = inspect.signature(handler)
    hints = _type_hints(handler)
    template_names = _template_names(path_template) if path_template is not None else set()
    result = Signature()
    for required in dependencies:
        if not isinstance(required, Dependency) or required.dependency is None:
            raise TypeError(f"handler {handler.__qualname__}: dependencies=[...] holds Depends(callable), not {required!r}")
        result.dependencies.append(_dependant(handler, required.dependency, required.use_cache, path_template, result, overrides))
    parameters = list(signature.parameters.values())
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"handler {handler.__qualname__}: *{parameter.name} cannot be bound to the request")
        annotation = hints.get(parameter.name, _MISSING)
        annotation, marker, depends = _split_annotated(annotation)
        if isinstance(parameter.default, Dependency):
            depends = parameter.default
        if depends is not None:
            call = depends.dependency if depends.dependency is not None else annotation
            if not callable(call) or isinstance(call, str):
                raise TypeError(f"handler {handler.__qualname__}: Depends() of {parameter.name!r} needs a callable or a class annotation")
            dependant = _dependant(handler, call, depends.use_cache, path_template, result, overrides)
            result.depends.append((parameter.name, dependant))
            result.arguments.append((parameter.name, _DEPENDS, parameter.name, _MISSING, None))
            continue
        if annotation is BackgroundTasks:
            result.needs_solution = True
            result.arguments.append((parameter.name, _BACKGROUND, parameter.name, _MISSING, None))
            continue
        if isinstance(annotation, str):
            if parameter.name == "request":
                annotation = _MISSING
            else:
                raise TypeError(
                    f"handler {handler.__qualname__}: the type hint {annotation!r} of {parameter.name!r} does not "
                    "resolve; define the type at module level"
                )
        if isinstance(parameter.default, Param):
            marker = parameter.default
            default = marker.default
        elif parameter.default is not _MISSING or marker is None:
            default = parameter.default
        else:
            default = marker.default  # Annotated[int, Query(5)]
        untyped_slot = annotation is _MISSING and marker is None and parameter.name not in template_names
        if annotation is Request or (untyped_slot and _is_request_slot(parameter, parameters, dependency)):
            result.arguments.append((parameter.name, _REQUEST, parameter.name, _MISSING, None))
            continue
        model, optional_model = _model_class(annotation)
        if model is not None and marker is None:
            if any(source == _BODY for _, source, _, _, _ in result.arguments):
                raise TypeError(f"handler {handler.__qualname__}: two Pydantic model parameters; the body is one model")
            schema, components = schema_of(model)
            _add_body(handler, result, model, {"schema": schema, "required": default is _MISSING and not optional_model}, components)
            result.arguments.append((parameter.name, _BODY, parameter.name, default, model))
            continue
        if marker is not None:
            location = marker.location
        elif path_template is None:
            location = "named"
        else:
            location = "path" if parameter.name in template_names else "query"
        wire = (marker.alias if marker is not None else None) or _wire_name(parameter.name, location)
        if path_template is not None and location == "path" and wire not in template_names:
            raise TypeError(
                f"handler {handler.__qualname__}: path parameter {wire!r} is not in the template {path_template!r}"
            )
        result.arguments.append((parameter.name, _SOURCES[location], wire, default, None))
        if path_template is None:
            continue  # contract first: the contract types it, whatever the annotation says
        schema, required = _parameter_schema(handler, parameter.name, annotation, default)
        if marker is not None:
            schema.update(marker.constraints)
        if location == "path":
            result.path_params[wire] = schema
        elif location != "named":
            declared: Dict[str, Any] = {"name": wire, "in": location, "required": required, "schema": schema}
            if marker is not None and marker.description:
                declared["description"] = marker.description
            _add_parameter(result, declared)
    result.needs_solution = result.needs_solution or bool(result.depends or result.dependencies)
    result.takes_only_request = (
        not result.needs_solution
        and len(result.arguments) == 1
        and result.arguments[0][1] == _REQUEST
        and parameters[0].kind != parameters[0].KEYWORD_ONLY
    )
    if not result.takes_only_request:
        positional_only = [p.name for p in parameters if p.kind == p.POSITIONAL_ONLY]
        if positional_only:
            raise TypeError(
                f"handler {handler.__qualname__}: typed arguments are passed by name; {positional_only[0]!r} is positional-only"
            )
    if path_template is not None and not dependency:
        # Template variables no argument (nor dependency) reads are strings.
        missing = template_names - set(result.path_params)
        result.path_params.update({name: {"type": "string"} for name in missing})
    return result


def return_annotation(handler: Callable[..., Any]) -> Any:
    """The handler's resolved return annotation, or None (also when it does not resolve)."""
    returned = _type_hints(handler).get("return")
    return None if isinstance(returned, str) else returned


def _dependant(
    owner: Callable[..., Any],
    call: Callable[..., Any],
    use_cache: bool,
    path_template: Optional[str],
    into: Signature,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]],
) -> Dependant:
    """The dependency `call` of `owner` (or its override), its declarations (parameters, body)
    merged into `into`: what a dependency reads is part of the operation's contract."""
    call = overrides.get(call, call)
    signature = read_signature(call, path_template, dependency=True, overrides=overrides)
    for name, schema in signature.path_params.items():
        into.path_params.setdefault(name, schema)
    for declared in signature.parameters:
        _add_parameter(into, declared)
    if signature.body is not None:
        _add_body(owner, into, signature.body_model, signature.body, signature.components)
    into.components.update(signature.components)
    dependant = Dependant(call, signature, use_cache)
    into.is_async = into.is_async or dependant.is_async
    into.needs_solution = into.needs_solution or signature.needs_solution
    return dependant


def _add_parameter(into: Signature, declared: Dict[str, Any]) -> None:
    # A handler and its dependencies may read the same parameter: it is declared once.
    if not any(p["name"] == declared["name"] and p["in"] == declared["in"] for p in into.parameters):
        into.parameters.append(declared)


def _add_body(
    owner: Callable[..., Any], into: Signature, model: Any, body: Dict[str, Any], components: Dict[str, Any]
) -> None:
    if into.body is not None and into.body_model is not model:
        raise TypeError(
            f"handler {owner.__qualname__}: two Pydantic models ({into.body_model.__name__}, {model.__name__}) "
            "read the body; the body is one model"
        )
    into.body, into.body_model = body, model
    into.components.update(components)


def _is_request_slot(parameter: inspect.Parameter, parameters: Sequence[inspect.Parameter], dependency: bool) -> bool:
    # Before typed arguments a handler took the request as its one positional argument, under
    # any name: such handlers keep working. Dependencies are new: only the name counts.
    if parameter.name == "request":
        return True
    return not dependency and len(parameters) == 1 and parameter.default is _MISSING


def _type_hints(handler: Callable[..., Any]) -> Dict[str, Any]:
    """The handler's type hints, resolved. A hint that does not resolve (a class local to a
    function, under ``from __future__ import annotations``) stays a string: read_signature
    refuses it where it matters, naming it."""
    target = getattr(handler, "__wrapped__", handler)
    if isinstance(target, type):
        target = getattr(target, "__init__")  # a class dependency: its constructor's arguments
    elif not inspect.isfunction(target) and not inspect.ismethod(target) and callable(target):
        target = getattr(type(target), "__call__")  # an instance with __call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # noqa: BLE001 - resolved one by one below
        pass
    namespace = getattr(target, "__globals__", {})
    hints: Dict[str, Any] = {}
    for name, hint in getattr(target, "__annotations__", {}).items():
        if isinstance(hint, str):
            try:
                hint = eval(hint, namespace)  # noqa: S307 - the handler's own annotation, as get_type_hints does
            except Exception:  # noqa: BLE001 - kept as text
                pass
        hints[name] = hint
    return hints


def _split_annotated(annotation: Any) -> Tuple[Any, Optional[Param], Optional[Dependency]]:
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        markers = [extra for extra in extras if isinstance(extra, Param)]
        depends = [extra for extra in extras if isinstance(extra, Dependency)]
        return base, (markers[0] if markers else None), (depends[0] if depends else None)
    return annotation, None, None


def _model_class(annotation: Any) -> Tuple[Any, bool]:
    """(the Pydantic model class of `annotation` or None, whether it was Optional)."""
    optional = False
    if _is_union(annotation):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        if len(members) != 1:
            return None, False
        optional, annotation = True, members[0]
    if is_model_class(annotation):
        return annotation, optional
    return None, False


def _wire_name(name: str, location: str) -> str:
    # As FastAPI does: `user_agent: str = Header()` reads the `user-agent` header.
    return name.replace("_", "-") if location == "header" else name


def _template_names(path: str) -> set[str]:
    names = set()
    for part in path.split("{")[1:]:
        if "}" in part:
            names.add(part.split("}", 1)[0])
    return names


def _parameter_schema(handler: Callable[..., Any], name: str, annotation: Any, default: Any) -> Tuple[Dict[str, Any], bool]:
    """(JSON Schema, required) of a path, query, header or cookie parameter."""
    optional = False
    if _is_union(annotation):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        if len(members) != 1:
            raise TypeError(f"handler {handler.__qualname__}: parameter {name!r}: a union of several types is not a parameter type")
        annotation = members[0]
    schema = _simple_schema(handler, name, annotation)
    if default is not _MISSING and default is not None:
        schema["default"] = default.value if isinstance(default, enum.Enum) else default
    return schema, default is _MISSING and not optional


def _is_union(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        return True
    return sys.version_info >= (3, 10) and origin is getattr(types, "UnionType", None)


_SCALARS: Dict[Any, Dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
}


def _simple_schema(handler: Callable[..., Any], name: str, annotation: Any) -> Dict[str, Any]:
    if annotation is _MISSING or annotation is Any:
        return {"type": "string"}
    if annotation in _SCALARS:
        return dict(_SCALARS[annotation])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": [member.value for member in annotation]}
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(annotation))}
    if origin in (list, tuple, set, frozenset, collections.abc.Sequence):
        args = [arg for arg in typing.get_args(annotation) if arg is not Ellipsis]
        item = _simple_schema(handler, name, args[0]) if args else {"type": "string"}
        return {"type": "array", "items": item}
    raise TypeError(
        f"handler {handler.__qualname__}: parameter {name!r} has type {annotation!r}: a parameter is a str, int, "
        "float, bool, Enum, Literal or a list of those; a Pydantic model is the body; annotate the request as "
        "armature.Request"
    )




@functools.lru_cache(maxsize=256)
def override_dependant(override: Callable[..., Any], use_cache: bool) -> Dependant:
    """The Dependant of an override (`App.dependency_overrides`). Overrides are read at request
    time (tests set them after the routes are declared), so their signature is read then, once
    per override; they find their arguments by name."""
    return Dependant(override, read_signature(override, None, dependency=True), use_cache)
