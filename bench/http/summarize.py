"""Summarises the raw rows of bench/http/run.sh (one TSV row per app and repetition)."""

import statistics
import sys
from collections import defaultdict

rows = defaultdict(dict)  # app -> rep -> (rps, p50_ms, p99_ms, non2xx)
order = []
with open(sys.argv[1]) as raw:
    for line in raw:
        if line.startswith("#") or not line.strip():
            continue
        app, rep, rps, p50, p99, non2xx = line.split("\t")
        if app not in order:
            order.append(app)
        rows[app][int(rep)] = (float(rps), float(p50), float(p99), int(non2xx))


def paired(app, base):
    ratios = [rows[app][r][0] / rows[base][r][0] for r in rows[app] if r in rows.get(base, {})]
    if not ratios:
        return "-"
    return f"{statistics.median(ratios):.2f} [{min(ratios):.2f}..{max(ratios):.2f}]"


def flask_base(app):
    return "flask-bare" if app.startswith("flask") else "bare"


# Reference apps that are not rate limiters to rank against tower_governor: compared with bare only.
REFERENCES = {"redis-lua-baseline"}


def governor_base(app):
    """The tower_governor app an app is compared with: tower-governor-429 for the *-429 apps
    (limiter-429, limiter-redis-429) when it ran, else tower-governor ("-" when neither ran)."""
    if app.endswith("429") and "tower-governor-429" in rows:
        return "tower-governor-429"
    return "tower-governor"


header = ("app", "reps", "median req/s", "p50 ms", "p99 ms", "non-2xx/run",
          "ratio vs bare", "ratio vs tower-governor")
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
for app in order:
    reps = rows[app].values()
    rps = statistics.median(r[0] for r in reps)
    p50 = statistics.median(r[1] for r in reps)
    p99 = statistics.median(r[2] for r in reps)
    non2xx = statistics.median(r[3] for r in reps)
    base = flask_base(app)
    vs_bare = paired(app, base) if app != base else "1.00"
    vs_gov = "-" if app.startswith("flask") or app in REFERENCES else paired(
        app, governor_base(app))
    print(f"| {app} | {len(rows[app])} | {rps:,.0f} | {p50:.3f} | {p99:.3f} | {non2xx:,.0f} | "
          f"{vs_bare} | {vs_gov} |")
if "flask-bare" in rows and "bare" in rows:
    print()
    print(f"bare axum / bare Flask (gunicorn, 2 workers): {paired('bare', 'flask-bare')}")
redis_apps = [app for app in order if app.startswith("limiter-redis") and not app.endswith("429")]
if "redis-lua-baseline" in rows and redis_apps:
    print()
    for app in redis_apps:
        print(f"{app} / redis-lua-baseline (one Lua INCR+EXPIRE per request): "
              f"{paired(app, 'redis-lua-baseline')}")
print()
print("ratio = median over repetitions of (app req/s ÷ baseline req/s in the same repetition), "
      "[min..max]; Flask apps are compared with bare Flask. For *-429 apps the tower-governor "
      "column compares with tower-governor-429; redis-lua-baseline, a reference, only with bare.")
