#!/usr/bin/env python3
"""Reference throughput of Python's `limits` (the library behind Flask-Limiter) on one Redis,
for BENCHMARKS.md, in the same shape as limiter-core/benches/redis.rs: every strategy, 1 key
and 10,000 keys, 1 limit and 3 limits per request (Python checks each limit with its own script
call). Synchronous, one request after the other, as a Flask worker does.

Usage: $LIMITER_TEST_PYTHON scripts/bench-python-limits.py redis://127.0.0.1:6379 [seconds]
"""
import sys
import time

from limits import RateLimitItemPerHour, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits import storage, strategies

url = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
store = storage.storage_from_string(url)
store.reset()
LIMITS = [RateLimitItemPerHour(1_000_000), RateLimitItemPerMinute(100_000), RateLimitItemPerSecond(10_000)]
MOVING = [RateLimitItemPerHour(1_000), RateLimitItemPerMinute(500), RateLimitItemPerSecond(100)]
CLASSES = {
    "fixed-window": strategies.FixedWindowRateLimiter,
    "moving-window": strategies.MovingWindowRateLimiter,
    "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
}
clients = [f"bench-client-{i}" for i in range(10_000)]
print(f"limits (Python) on {url}, one request after the other, {seconds:.0f} s per case")
for name, cls in CLASSES.items():
    limiter = cls(store)
    limits = MOVING if name == "moving-window" else LIMITS
    for case, keys, batch in [("1 key", 1, 1), ("10k keys", 10_000, 1),
                              ("1 key, 3 limits", 1, 3), ("10k keys, 3 limits", 10_000, 3)]:
        n = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            for _ in range(100):
                client = clients[n % keys]
                for item in limits[:batch]:
                    if not limiter.hit(item, client, "bench"):
                        break
                n += 1
        elapsed = time.perf_counter() - start
        print(f"{name:24} {case:20} {n / elapsed:10.0f} requests/s")
store.reset()
