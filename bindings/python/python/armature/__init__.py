"""Armature for Python: the Rust core owns the socket, HTTP, routing and every pipeline stage
(request id, trace context, identity, authorization, validation, problem responses,
telemetry); Python supplies the handlers.

    import armature

    app = armature.App()

    @app.get("/hello/{name}")
    def hello(request: armature.Request) -> dict[str, str]:
        return {"hello": request.path_params["name"]}

    if __name__ == "__main__":
        app.run(port=8080)
"""

from ._app import App
from ._native import CORE_VERSION, ArmatureError, ConfigError, ContractError, Request, ServerError, Trace
from ._response import HTTPError, Response

__version__ = CORE_VERSION

__all__ = [
    "App",
    "ArmatureError",
    "ConfigError",
    "ContractError",
    "HTTPError",
    "Request",
    "Response",
    "ServerError",
    "Trace",
    "__version__",
]
