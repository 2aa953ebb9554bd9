"""pytest fixtures, registered through the ``pytest11`` entry point when the package is
installed:

- ``armature_app``: the ``App`` under test, imported from the ini option
  ``armature_app = "package.module:app"``; or override the fixture in a conftest.py.
- ``armature_client``: a ``TestClient`` over ``armature_app``, closed after the test.
"""

from __future__ import annotations

import importlib
from typing import Iterator

import pytest

from ._app import App
from .testing import TestClient


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("armature_app", "import path of the armature.App under test, as module:attribute")


@pytest.fixture
def armature_app(request: pytest.FixtureRequest) -> App:
    """The App named by the ``armature_app`` ini option."""
    spec = str(request.config.getini("armature_app") or "")
    if not spec:
        raise pytest.UsageError(
            'armature_app: set `armature_app = "module:app"` in the pytest configuration, '
            "or define an armature_app fixture in conftest.py"
        )
    module_name, _, attribute = spec.partition(":")
    app = getattr(importlib.import_module(module_name), attribute or "app")
    if not isinstance(app, App):
        raise pytest.UsageError(f"armature_app: {spec} is a {type(app).__name__}, not an armature.App")
    return app


@pytest.fixture
def armature_client(armature_app: App) -> Iterator[TestClient]:
    """A TestClient over ``armature_app``."""
    with TestClient(armature_app) as client:
        yield client
