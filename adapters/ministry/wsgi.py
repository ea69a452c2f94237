"""PEP 3333 for in-process tests: ``PATH_INFO`` must be bytes decoded as latin-1.

``httpx.WSGITransport`` hands the app the *unquoted* path as text, so a ref with Thai
letters (``ศรส.2567/1044``) reaches werkzeug as characters it cannot encode. Real WSGI
servers are right already; the simulators wrap their app with :func:`pep3333_path`, which
re-encodes such a path (UTF-8 bytes seen as latin-1) and changes nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def pep3333_path(app: WsgiApp) -> WsgiApp:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        try:
            path.encode("latin-1")
        except UnicodeEncodeError:
            environ["PATH_INFO"] = path.encode("utf-8").decode("latin-1")
        return app(environ, start_response)

    return wrapped
