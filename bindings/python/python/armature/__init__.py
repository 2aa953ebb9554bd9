"""Armature for Python: the Rust core owns the socket, HTTP, routing and every pipeline stage
(request id, trace context, identity, authorization, validation, problem responses,
telemetry); Python supplies the handlers.

    import armature

    app = armature.App()

    @app.get("/hello/{name}")
    def hello(name: str, greeting: str = "hello") -> dict[str, str]:
        return {greeting: name}

    if __name__ == "__main__":
        app.run(port=8080)
"""

from ._app import APIRouter, App
from ._depends import BackgroundTasks, Depends
from ._native import CORE_VERSION, ArmatureError, ClientSpan, ConfigError, ContractError, Request, ServerError, Trace
from ._params import Cookie, Header, Param, Path, Query
from ._response import (
    HTMLResponse,
    HTTPError,
    HTTPException,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

__version__ = CORE_VERSION

__all__ = [
    "APIRouter",
    "App",
    "ArmatureError",
    "BackgroundTasks",
    "ClientSpan",
    "ConfigError",
    "ContractError",
    "Cookie",
    "Depends",
    "Header",
    "HTMLResponse",
    "HTTPError",
    "HTTPException",
    "JSONResponse",
    "Param",
    "Path",
    "PlainTextResponse",
    "Query",
    "RedirectResponse",
    "Request",
    "Response",
    "ServerError",
    "Trace",
    "__version__",
]
