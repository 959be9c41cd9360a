#!/usr/bin/env python3
# Server time of one coalesced fixed-window call (12 requests x 1, 3, 5 limits of one client,
# never reached, no reset times asked) under the fixed-window script of main at 8cc4b1a (each
# hit's key and four arguments) and today's (each key and limit once, one INCRBY per key), and
# of the hand-written INCR+EXPIRE script (bench/http-apps redis-lua-baseline) per request: the
# EVALSHA usec_per_call of INFO commandstats over 20,000 identical calls sent by redis-cli --pipe.
# Needs a local Redis used by nothing else meanwhile (its statistics are reset):
#
#   git show 8cc4b1a:limiter-core/src/storage/redis/fixed_window.lua > /tmp/fixed_window.before.lua
#   bench/redis-script-calls.py 6379 /tmp/fixed_window.before.lua [repetitions]
import struct, subprocess, sys, statistics
P = sys.argv[1]
def cli(*args, data=None):
    return subprocess.run(["redis-cli", "-p", P, *args], input=data, capture_output=True, check=True).stdout.decode()
def resp(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
import os
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
before = cli("SCRIPT", "LOAD", open(sys.argv[2]).read()).strip()
after = cli("SCRIPT", "LOAD", open(os.path.join(ROOT, "limiter-core/src/storage/redis/fixed_window.lua")).read()).strip()
base = cli("SCRIPT", "LOAD", "local c = redis.call('INCR', KEYS[1]) if c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return c").strip()
REQ, CALLS = 12, 20000
windows = [1, 60, 3600, 86400, 2592000]
def before_cmd(limits):
    keys, argv = [], ["0", "0"]
    for r in range(REQ):
        for i in range(limits):
            keys.append(f"micro:b:{windows[i]}")
            argv += ["1000000000", windows[i], "1", "5" if i == 0 else "0"]
    return resp(["EVALSHA", before, len(keys), *keys, *argv])
def after_cmd(limits):
    keys = [f"micro:a:{windows[i]}" for i in range(limits)]
    hits = b"".join(struct.pack("<IIB", i + 1, i + 1, 5 if i == 0 else 0) for r in range(REQ) for i in range(limits))
    totals = b"".join(struct.pack("<dIB", float(REQ), i + 1, 0) for i in range(limits))
    argv = ["0", "0", hits, totals]
    for i in range(limits):
        argv += ["1000000000", windows[i], "1"]
    return resp(["EVALSHA", after, len(keys), *keys, *argv])
def measure(cmd, n):
    cli("CONFIG", "RESETSTAT")
    cli("--pipe", data=cmd * n)
    for line in cli("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_evalsha:"):
            return float(line.split("usec_per_call=")[1].split(",")[0])
results = {}
for rep in range(int(sys.argv[3]) if len(sys.argv) > 3 else 3):
    results.setdefault("baseline, 1 request", []).append(measure(resp(["EVALSHA", base, 1, "micro:base", 60]), CALLS))
    for limits in (1, 3, 5):
        results.setdefault(f"before, {limits} limits", []).append(measure(before_cmd(limits), CALLS))
        results.setdefault(f"after, {limits} limits", []).append(measure(after_cmd(limits), CALLS))
print("| script | µs per call (median [min..max]) | µs per request |")
print("|---|---:|---:|")
for name, values in results.items():
    per = 1 if name.startswith("baseline") else REQ
    m = statistics.median(values)
    print(f"| {name} | {m:.2f} [{min(values):.2f}..{max(values):.2f}] | {m / per:.2f} |")
