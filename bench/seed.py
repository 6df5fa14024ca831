#!/usr/bin/env python3
"""Publishes valid P2PCF entries (the JS client's publish: {r, k, d, t, x, p}) and checks every
answer is 200 with a delete key.

usage: seed.py URL ROOM_PREFIX ROOMS PER_ROOM [THREADS]
Room i is ROOM_PREFIX (when ROOMS == 1) or ROOM_PREFIX-i; entries get session ids
"session-<room index>-<n>". Prints one line: seeded=N seconds=S.
"""
import base64
import http.client
import json
import sys
import threading
import time
import urllib.parse


def publish_all(url, jobs, errors):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    t = int(time.time() * 1000)
    dtls = base64.b64encode(bytes([7] * 32)).decode()
    for room, n in jobs:
        body = json.dumps({
            "r": room,
            "k": f"context-{room}-{n}",
            "d": [f"session-{room}-{n}", f"client-{n}", False, dtls, 1700000000000,
                  ["203.0.113.7"]],
            "t": t,
            "x": 900000,  # 15 min, the cap: nothing expires while we measure
            "p": [],
        })
        conn.request("POST", "/", body, {"Content-Type": "application/json"})
        res = conn.getresponse()
        answer = res.read()
        if res.status != 200 or b'"dk":' not in answer:
            errors.append(f"{room}/{n}: {res.status} {answer[:200]!r}")


def main():
    url, prefix, rooms, per_room = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    names = [prefix] if rooms == 1 else [f"{prefix}-{i}" for i in range(rooms)]
    jobs = [(room, n) for room in names for n in range(per_room)]
    errors = []
    start = time.time()
    workers = [threading.Thread(target=publish_all, args=(url, jobs[i::threads], errors))
               for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        print(f"seed errors ({len(errors)}): {errors[:3]}", file=sys.stderr)
        sys.exit(1)
    print(f"seeded={len(jobs)} seconds={time.time() - start:.1f}")


if __name__ == "__main__":
    main()
