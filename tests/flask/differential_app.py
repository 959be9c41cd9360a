"""Serves Flask-Limiter apps described in JSON, for the differential tests
(tests/tests/flask_differential): the real Flask-Limiter 4.1.1 (limits 5.8.0) side.

Protocol, one line each way: the test writes an app description (the JSON of the Rust
`AppSpec`) on stdin; this process builds the Flask app, serves it on 127.0.0.1 on a free port
in a thread of its own and answers with the port (or `error: <message>`). It serves every app it
built until stdin closes (the test ended), then exits.

Each app has its own Limiter and its own memory storage, so apps never share a counter. Every
view answers `ok` with the status of the request's `x-status` header (200 by default), which is
what the `deduct_when` predicates look at.
"""

import json
import logging
import sys
import threading

import flask
import flask_limiter
import limits
from flask_limiter import ExemptionScope, Limiter
from flask_limiter.util import get_remote_address
from werkzeug.serving import make_server

assert flask_limiter.__version__ == "4.1.1", flask_limiter.__version__
assert limits.__version__ == "5.8.0", limits.__version__

# The request log of Werkzeug's server would flood the test's output.
logging.getLogger("werkzeug").setLevel(logging.ERROR)

# The `deduct_when` predicates a description can name (the Rust side has the same ones).
DEDUCT_WHEN = {
    "server_error": lambda response: response.status_code >= 500,
    "error": lambda response: response.status_code >= 400,
}


def flags(names):
    scope = ExemptionScope.NONE
    for name in names:
        scope |= ExemptionScope[name]
    return scope


def limit_decorator(limiter, spec):
    """`limiter.limit(...)` or `limiter.shared_limit(...)` for one limit description."""
    options = {
        "per_method": spec["per_method"],
        "methods": spec["methods"],
        "cost": spec["cost"],
        "override_defaults": spec["override_defaults"],
        "error_message": spec["error_message"],
        "deduct_when": DEDUCT_WHEN[spec["deduct_when"]] if spec["deduct_when"] else None,
    }
    if spec["shared_scope"] is not None:
        return limiter.shared_limit(spec["value"], spec["shared_scope"], **options)
    return limiter.limit(spec["value"], **options)


def make_view(limiter, app_number, route):
    def view():
        status = int(flask.request.headers.get("x-status", "200"))
        return flask.Response("ok", status=status)

    # Flask-Limiter registers limits by the view's qualified name: one per route.
    view.__name__ = view.__qualname__ = f"app{app_number}_{route['name']}"
    # The description lists limits as they are written, top to bottom: the bottom decorator is
    # applied first, as Python does.
    for spec in reversed(route["limits"]):
        view = limit_decorator(limiter, spec)(view)
    if route["exempt"] is not None:
        view = limiter.exempt(view, flags=flags(route["exempt"]))
    return view


def add_routes(limiter, app_number, target, routes):
    for route in routes:
        target.add_url_rule(
            route["path"],
            endpoint=route["name"],
            view_func=make_view(limiter, app_number, route),
            methods=route["methods"],
        )


def make_blueprint(limiter, app_number, spec):
    blueprint = flask.Blueprint(spec["name"], __name__)
    add_routes(limiter, app_number, blueprint, spec["routes"])
    for limit in spec["limits"]:
        limit_decorator(limiter, limit)(blueprint)
    if spec["exempt"] is not None:
        limiter.exempt(blueprint, flags=flags(spec["exempt"]))
    for child in spec["blueprints"]:
        blueprint.register_blueprint(
            make_blueprint(limiter, app_number, child), url_prefix=child["prefix"]
        )
    return blueprint


def group_options(prefix, group):
    return {
        f"{prefix}_limits": group["limits"],
        f"{prefix}_limits_per_method": group["per_method"],
        f"{prefix}_limits_cost": group["cost"],
        f"{prefix}_limits_deduct_when": (
            DEDUCT_WHEN[group["deduct_when"]] if group["deduct_when"] else None
        ),
    }


def build(app_number, spec):
    app = flask.Flask(f"differential{app_number}")
    limiter = Limiter(
        get_remote_address,
        strategy=spec["strategy"],
        storage_uri="memory://",
        headers_enabled=spec["headers"],
        retry_after="http-date" if spec["retry_after"] == "http-date" else None,
        fail_on_first_breach=spec["fail_on_first_breach"],
        **group_options("default", spec["default_limits"]),
        **group_options("application", spec["application_limits"]),
    )
    add_routes(limiter, app_number, app, spec["routes"])
    for blueprint in spec["blueprints"]:
        app.register_blueprint(
            make_blueprint(limiter, app_number, blueprint), url_prefix=blueprint["prefix"]
        )
    limiter.init_app(app)
    return app


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_port


def main():
    for app_number, line in enumerate(sys.stdin):
        try:
            port = serve(build(app_number, json.loads(line)))
            print(port, flush=True)
        except Exception as error:  # reported to the test, which fails with it
            print(f"error: {type(error).__name__}: {error}".replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
