"""Turns what a code-first route declares (a Pydantic model, a type over models such as
``List[User]``, or a JSON Schema dict) into the schema and component schemas core adds to the
OpenAPI document."""

from __future__ import annotations

from typing import Any, Mapping, Tuple

Schema = Tuple[dict[str, Any], dict[str, Any]]


def is_model_class(declared: Any) -> bool:
    """Whether `declared` is a Pydantic model class (duck-typed: pydantic is optional)."""
    return isinstance(declared, type) and callable(getattr(declared, "model_json_schema", None))


def schema_of(declared: Any) -> Schema:
    """(schema, components) for a Pydantic model class or a JSON Schema mapping."""
    if isinstance(declared, Mapping):
        return dict(declared), {}
    if is_model_class(declared):
        # Pydantic refers to nested models through $defs; OpenAPI keeps them in components.
        schema: dict[str, Any] = declared.model_json_schema(ref_template="#/components/schemas/{model}")
        components: dict[str, Any] = schema.pop("$defs", {})
        components[declared.__name__] = schema
        return {"$ref": f"#/components/schemas/{declared.__name__}"}, components
    adapter = type_adapter(declared)
    if adapter is not None:
        schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
        return schema, schema.pop("$defs", {})
    raise TypeError(f"expected a Pydantic model class, a type Pydantic can describe or a JSON Schema dict, not {declared!r}")


def type_adapter(declared: Any) -> Any:
    """A Pydantic ``TypeAdapter`` for `declared` (``List[User]``, ``Optional[User]``...), or
    None when Pydantic is not installed or cannot describe it."""
    try:
        from pydantic import TypeAdapter
    except ImportError:
        return None
    try:
        return TypeAdapter(declared)
    except Exception:  # noqa: BLE001 - not a type Pydantic knows: the caller says so
        return None


def mentions_model(declared: Any) -> bool:
    """Whether `declared` is a Pydantic model class or a generic over one (``List[User]``)."""
    import typing

    if is_model_class(declared):
        return True
    return any(mentions_model(argument) for argument in typing.get_args(declared))
