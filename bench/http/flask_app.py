"""Flask-Limiter's quickstart shape for the cross-language figure of bench/http/run.sh.

BENCH_FLASK_MODE=bare: plain Flask. BENCH_FLASK_MODE=limiter: Flask-Limiter on memory://, fixed
window, two default limits never reached (the same as the Rust apps), keyed by remote address.
"""

import os

from flask import Flask

app = Flask(__name__)

if os.environ.get("BENCH_FLASK_MODE", "limiter") == "limiter":
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    limiter = Limiter(
        get_remote_address,
        app=app,
        default_limits=["1000000000 per minute", "1000000000 per second"],
        storage_uri="memory://",
        strategy="fixed-window",
    )


@app.route("/fast")
def fast():
    return "42"
