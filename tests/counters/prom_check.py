#!/usr/bin/env python3
"""Check dmp-stat's Prometheus output with the prometheus_client parsers
(Debian: python3-prometheus-client), and its --listen server over loopback.

  prom_check.py parse FILE [expectations]
  prom_check.py scrape URL [expectations]
  prom_check.py hostile HOST PORT

expectations: --ring NAME --position P --published N --consumer ID --lag L
              --consumed N --state active|idle --liveness alive|... --counters

Every socket operation has a timeout; exit 0 when every check passed,
1 with the reason otherwise.
"""
import argparse
import socket
import sys
import time
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
from prometheus_client.parser import text_string_to_metric_families as prom_parse

TIMEOUT = 10.0


def fail(msg):
    print("prom_check: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def samples(text):
    """Parse with both parsers; return {name: [(labels, value)]}."""
    try:
        fams = list(om_parse(text))
    except Exception as e:  # the parser raises ValueError and friends
        fail("OpenMetrics parser refused the text: %r\n%s" % (e, text))
    try:
        list(prom_parse(text))  # node_exporter's textfile format
    except Exception as e:
        fail("Prometheus 0.0.4 parser refused the text: %r" % (e,))
    out = {}
    for f in fams:
        if f.type != "gauge":
            fail("family %s is %s, not gauge" % (f.name, f.type))
        for s in f.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def one(got, name, **labels):
    hits = [v for (l, v) in got.get(name, []) if all(l.get(k) == str(x) for k, x in labels.items())]
    if len(hits) != 1:
        fail("%s%r: %d samples, want 1 (have %r)" % (name, labels, len(hits), got.get(name)))
    return hits[0]


def check(text, a):
    got = samples(text)
    if not a.ring:
        return got
    for fam in ("dmp_ring_up", "dmp_ring_capacity", "dmp_ring_slot_size_bytes", "dmp_ring_max_consumers",
                "dmp_ring_created_timestamp_seconds", "dmp_producer_alive", "dmp_producer_position",
                "dmp_producer_published", "dmp_ring_min_gating_position", "dmp_ring_full", "dmp_counters_present"):
        if not any(l.get("ring") == a.ring for (l, v) in got.get(fam, [])):
            fail("no sample of %s for ring %s" % (fam, a.ring))
    r = dict(ring=a.ring)
    if one(got, "dmp_ring_up", **r) != 1:
        fail("ring %s is not up" % a.ring)
    if a.position is not None and one(got, "dmp_producer_position", **r) != a.position:
        fail("position %r, want %d" % (one(got, "dmp_producer_position", **r), a.position))
    if a.published is not None and one(got, "dmp_producer_published", **r) != a.published:
        fail("published %r, want %d" % (one(got, "dmp_producer_published", **r), a.published))
    if a.consumer:
        c = dict(ring=a.ring, consumer=a.consumer)
        if a.lag is not None and one(got, "dmp_consumer_lag", **c) != a.lag:
            fail("lag %r, want %d" % (one(got, "dmp_consumer_lag", **c), a.lag))
        if a.consumed is not None and one(got, "dmp_consumer_consumed", **c) != a.consumed:
            fail("consumed %r, want %d" % (one(got, "dmp_consumer_consumed", **c), a.consumed))
        if a.state and one(got, "dmp_consumer_state", state=a.state, **c) != 1:
            fail("consumer %s is not %s" % (a.consumer, a.state))
        if a.liveness and one(got, "dmp_consumer_liveness", liveness=a.liveness, **c) != 1:
            fail("consumer %s is not %s" % (a.consumer, a.liveness))
    if a.counters:
        if one(got, "dmp_counters_present", **r) != 1:
            fail("no counters segment")
        mine = [l for (l, v) in got.get("dmp_counter", []) if l.get("ring") == a.ring]
        if not mine or any(not {"id", "type", "label", "backend"} <= set(l) for l in mine):
            fail("counters without their labels: %r" % mine)
    for want in a.counter:
        label, value = want.split("=")
        vals = [v for (l, v) in got.get("dmp_counter", []) if l.get("ring") == a.ring and l.get("label") == label]
        if vals != [float(value)]:
            fail("counter %s: %r, want %s" % (label, vals, value))
    return got


def scrape(url, a):
    with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
        if resp.status != 200:
            fail("GET %s: %d" % (url, resp.status))
        ctype = resp.headers.get("Content-Type", "")
        if not ctype.startswith("application/openmetrics-text; version=1.0.0"):
            fail("Content-Type %r" % ctype)
        check(resp.read().decode("utf-8"), a)


def exchange(host, port, data, pause=None):
    """Send data (optionally in two parts with a pause), return the status line."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        if pause is None:
            s.sendall(data)
        else:
            s.sendall(data[:5])
            time.sleep(pause)
            try:
                s.sendall(data[5:])
            except OSError:
                pass
        buf = b""
        try:
            while b"\r\n" not in buf and len(buf) < 4096:
                part = s.recv(4096)
                if not part:
                    break
                buf += part
        except (socket.timeout, ConnectionResetError):
            pass
        return buf.split(b"\r\n", 1)[0].decode("latin-1")


def hostile(host, port):
    cases = [
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200"),
        (b"HEAD /metrics HTTP/1.0\r\n\r\n", "HTTP/1.1 200"),
        (b"GET /metrics?x=1 HTTP/1.1\n\n", "HTTP/1.1 200"),
        (b"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405"),
        (b"GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404"),
        (b"GET /metrics HTTP/2.0\r\n\r\n", "HTTP/1.1 505"),
        (b"GET /metrics HTTX/1.1\r\n\r\n", "HTTP/1.1 400"),
        (b"GET metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400"),
        (b"GET /\x00 HTTP/1.1\r\n\r\n", "HTTP/1.1 400"),
        (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", "HTTP/1.1 400"),
        (b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", "HTTP/1.1 400"),
        (b"\r\n\r\n", "HTTP/1.1 400"),
        (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n", "HTTP/1.1 414"),
        (b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * 9000 + b"\r\n\r\n", "HTTP/1.1 431"),
        (b"\xff\xfe\xfd" * 100 + b"\r\n\r\n", "HTTP/1.1 400"),
    ]
    for data, want in cases:
        got = exchange(host, port, data)
        if not got.startswith(want):
            fail("%r: got %r, want %r" % (data[:60], got, want))
    # A silent client: answered 408 within the server's 2 s bound, not held.
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        buf = s.recv(64)
    took = time.monotonic() - t0
    if not buf.startswith(b"HTTP/1.1 408") or took > 8:
        fail("silent client: %r after %.1f s" % (buf, took))
    # A client that goes away mid-request, and one that stalls between parts.
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /met")
    got = exchange(host, port, b"GET /metrics HTTP/1.1\r\n\r\n", pause=0.3)
    if not got.startswith("HTTP/1.1 200"):
        fail("request in two parts: %r" % got)
    # Still serving.
    got = exchange(host, port, b"GET /metrics HTTP/1.1\r\n\r\n")
    if not got.startswith("HTTP/1.1 200"):
        fail("after the hostile requests: %r" % got)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["parse", "scrape", "hostile"])
    p.add_argument("where", nargs="+")
    p.add_argument("--ring")
    p.add_argument("--position", type=int)
    p.add_argument("--published", type=int)
    p.add_argument("--consumer")
    p.add_argument("--lag", type=int)
    p.add_argument("--consumed", type=int)
    p.add_argument("--state")
    p.add_argument("--liveness")
    p.add_argument("--counters", action="store_true")
    p.add_argument("--counter", action="append", default=[], help="LABEL=VALUE of a counter of --ring")
    a = p.parse_args()
    if a.mode == "parse":
        with open(a.where[0], encoding="utf-8") as f:
            check(f.read(), a)
    elif a.mode == "scrape":
        scrape(a.where[0], a)
    else:
        hostile(a.where[0], int(a.where[1]))
    print("prom_check: %s OK" % a.mode)


if __name__ == "__main__":
    main()
