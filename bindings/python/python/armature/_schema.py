"""Turns what a code-first route declares (a Pydantic model or a JSON Schema dict) into the
schema and component schemas core adds to the OpenAPI document."""

from __future__ import annotations

from typing import Any, Mapping, Tuple

Schema = Tuple[dict[str, Any], dict[str, Any]]


def schema_of(declared: Any) -> Schema:
    """(schema, components) for a Pydantic model class or a JSON Schema mapping."""
    if isinstance(declared, Mapping):
        return dict(declared), {}
    model_json_schema = getattr(declared, "model_json_schema", None)
    if isinstance(declared, type) and callable(model_json_schema):
        # Pydantic refers to nested models through $defs; OpenAPI keeps them in components.
        schema: dict[str, Any] = model_json_schema(ref_template="#/components/schemas/{model}")
        components: dict[str, Any] = schema.pop("$defs", {})
        components[declared.__name__] = schema
        return {"$ref": f"#/components/schemas/{declared.__name__}"}, components
    raise TypeError(f"expected a Pydantic model class or a JSON Schema dict, not {declared!r}")
