#!/usr/bin/env python3
"""Flush a large spool to a local server: messages per second, against one
keep-alive connection posting the same bodies, and peak memory by spool size.

Fills the spool with N entries (`spoolfill.py`: one queued by chime, copied
under new ids), then times `chime flush --all` delivering them all to a local
stub answering like a Slack webhook with no rate limit (`pace = "0s"`: by
default a flush keeps to Slack's one message a second). The baseline, in the
same run, is one Python keep-alive connection posting N identical bodies one
after the other: the cost of the HTTP alone. Runs alternate between binaries
(`--compare NAME=PATH`, e.g. an earlier build) and the baseline.

    python3 bench/flush.py [--messages 10000] [--runs 3] [--memory 1000,50000]
                           [--chime target/release/chime] [--compare NAME=PATH]...

Budgets (issue 11): flush ≥ 4,000 messages/s; peak RSS flat in the spool size
(`--memory` flushes spools of those sizes once each).
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.parse

from spoolfill import fill
from stub import Stub


def profile_env(home, url):
    profile = os.path.join(home, "bench.toml")
    with open(profile, "w") as f:
        f.write(f'[defaults]\nroute = "ops"\n[destinations.ops-hook]\nkind = "slack"\nurl = "{url}"\n'
                f'pace = "0s"\n[routes.ops]\nto = ["ops-hook"]\n')
    return {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile,
            "CHIME_STATE_DIR": os.path.join(home, "state")}


def flush(chime, stub, count):
    """One flush of a fresh `count`-entry spool: (messages/s, peak RSS KiB)."""
    with tempfile.TemporaryDirectory() as home:
        env = profile_env(home, stub.url())
        fill(chime, env, count)
        stub.count = 0
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", chime, "flush", "--all", "-q"], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0 or stub.count != count:
            raise SystemExit(f"{chime}: flush exited {proc.returncode}, delivered {stub.count}/{count}\n"
                             f"{proc.stderr}")
        return count / elapsed, int(proc.stderr.strip().splitlines()[-1])


def keep_alive(stub, count):
    """One connection posting `count` bodies like chime's: messages/s."""
    url = urllib.parse.urlsplit(stub.url())
    body = json.dumps({"text": "spooled message 00000", "blocks": []}).encode()
    conn = http.client.HTTPConnection(url.hostname, url.port)
    start = time.perf_counter()
    for _ in range(count):
        conn.request("POST", url.path, body, {"Content-Type": "application/json"})
        conn.getresponse().read()
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory", default="1000,50000", help="spool sizes for the memory check")
    parser.add_argument("--chime", default="target/release/chime")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=PATH")
    args = parser.parse_args()
    binaries = {"chime": os.path.abspath(args.chime)}
    binaries.update((name, os.path.abspath(path)) for name, path in
                    (item.split("=", 1) for item in args.compare))

    stub = Stub()
    rates = {name: [] for name in [*binaries, "keep-alive"]}
    rss = {name: [] for name in binaries}
    for _ in range(args.runs):
        for name, chime in binaries.items():
            rate, peak = flush(chime, stub, args.messages)
            rates[name].append(rate)
            rss[name].append(peak)
        rates["keep-alive"].append(keep_alive(stub, args.messages))

    base = statistics.median(rates["keep-alive"])
    print(f"{args.messages} messages, {args.runs} runs each, medians:")
    for name, values in rates.items():
        line = f"  {name:>12}: {statistics.median(values):7.0f} msg/s " \
               f"({', '.join(f'{v:.0f}' for v in values)}); " \
               f"time per message {base / statistics.median(values):.2f} × one keep-alive connection"
        if name in rss:
            line += f"; peak RSS {statistics.median(rss[name]) / 1024:.1f} MiB"
        print(line)
    print("  budget: ≥ 4,000 msg/s")

    sizes = [int(s) for s in args.memory.split(",") if s]
    for name, chime in binaries.items():
        figures = []
        for size in sizes:
            rate, peak = flush(chime, stub, size)
            figures.append(f"{size}: {peak / 1024:.1f} MiB ({rate:.0f} msg/s)")
        print(f"  {name:>12} peak RSS by spool size: {'; '.join(figures)}")


if __name__ == "__main__":
    main()
