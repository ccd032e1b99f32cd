"""The dashboard server: read-only pages over the configured state. On loopback it needs no
login; bound to any other address it needs a token (`?token=` once, then a cookie)."""

from __future__ import annotations

import hmac
from typing import Any

from mlplatform.config.settings import Settings
from mlplatform.errors import ModelNotFoundError
from mlplatform.web.pages import model_page, overview_page, plotly_js_path
from mlplatform.web.state import State

LOOPBACK = ("127.0.0.1", "localhost", "::1")
COOKIE = "mlplatform_dashboard"


def create_app(settings: Settings, token: str | None = None) -> Any:
    """A Starlette app; `token`, when given, is required on every request."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route

    def allowed(request: Request) -> bool:
        if token is None:
            return True
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        return hmac.compare_digest(given, token) or hmac.compare_digest(bearer, token)

    def guarded(handler: Any) -> Any:
        def endpoint(request: Request) -> Response:
            if not allowed(request):
                return PlainTextResponse("a token is needed: open the URL the dashboard printed", status_code=401)
            response = handler(request)
            if token is not None and request.query_params.get("token"):
                response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return response

        return endpoint

    def overview(request: Request) -> Response:
        return HTMLResponse(overview_page(settings, State(settings, max_dates=31)))

    def model(request: Request) -> Response:
        name = request.path_params["name"]
        state = State(settings)
        try:
            state.require(name)
        except ModelNotFoundError as exc:
            return PlainTextResponse(exc.headline, status_code=404)
        return HTMLResponse(model_page(settings, state.model(name), root="../"))

    def plotly(request: Request) -> Response:
        return FileResponse(
            plotly_js_path(), media_type="application/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/", guarded(overview)),
        Route("/model/{name}", guarded(model)),
        Route("/static/plotly.min.js", guarded(plotly)),
        Route("/health", health),
    ]
    return Starlette(routes=routes)


def serve(settings: Settings, host: str, port: int, token: str | None, ready: Any = None) -> None:
    """Serve until interrupted; `ready(url)` is called once the socket listens."""
    import uvicorn

    app = create_app(settings, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if ready is not None:
        original = server.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets)
            ready(url_for(host, port, token))

        server.startup = startup  # type: ignore[method-assign]
    server.run()


def url_for(host: str, port: int, token: str | None) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
