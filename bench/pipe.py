#!/usr/bin/env python3
"""Pipe a large log into a local Slack-like destination; report lines/s, messages and memory.

Generates N log lines (about 100 bytes each), pipes them through `chime pipe` into a
local stub answering like a Slack webhook, with Slack's message limits and no rate
limit (`pace = "0s"`), and reports ingestion rate, messages sent against the minimum
Slack's 40,000-character limit allows, and peak memory. In the same run, a naive
loop posting one message per line with curl is timed on the first --naive lines and
extrapolated.

    python3 bench/pipe.py [--lines 1000000] [--naive 300] [--chime target/release/chime]

Budget (issue 5): ≥ 500,000 lines/s, messages ≤ 1.1 × the minimum, peak RSS < 64 MiB.
"""

import argparse
import json
import os
import subprocess
import tempfile
import time

from stub import Stub


def sandbox(home, url, pace=None):
    """A profile in `home` whose one route sends to a Slack webhook at `url` (at `pace`,
    else Slack's own), and the environment that runs chime with it."""
    profile = os.path.join(home, "bench.toml")
    paced = f'pace = "{pace}"\n' if pace else ""
    with open(profile, "w") as f:
        f.write(f'[defaults]\nroute = "logs"\n[destinations.log-hook]\nkind = "slack"\nurl = "{url}"\n'
                f'{paced}[routes.logs]\nto = ["log-hook"]\n')
    return {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile,
            "CHIME_STATE_DIR": os.path.join(home, "state")}


def write_log(path, lines):
    """Writes `lines` log lines of about 88 bytes each (1,000,000 lines are 88 MB)."""
    with open(path, "w") as f:
        for i in range(lines):
            f.write(f"2026-11-24T21:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z INFO "
                    f"worker-{i % 16} handled request id={i:08d} status=200 in {i % 997} ms\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--naive", type=int, default=300)
    parser.add_argument("--chime", default="target/release/chime")
    args = parser.parse_args()
    chime = os.path.abspath(args.chime)
    stub = Stub()
    url = stub.url()

    with tempfile.TemporaryDirectory() as home:
        env = sandbox(home, url, pace="0s")
        log = os.path.join(home, "app.log")
        write_log(log, args.lines)
        size = os.path.getsize(log)

        with open(log, "rb") as stdin:
            start = time.perf_counter()
            proc = subprocess.run(["/usr/bin/time", "-f", "%M", chime, "pipe", "-q"], env=env, stdin=stdin,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            elapsed = time.perf_counter() - start
        rss_kib = int(proc.stderr.strip().splitlines()[-1])
        spooled = json.loads(subprocess.run([chime, "spool", "list", "--json"], env=env,
                                            capture_output=True, text=True).stdout)
        messages = stub.count
        minimum = -(-size // 40_000)

        stub.count = 0
        with open(log) as f:
            sample = [next(f) for _ in range(args.naive)]
        start = time.perf_counter()
        for line in sample:
            body = json.dumps({"text": line.rstrip("\n")})
            subprocess.run(["curl", "-sS", "-o", "/dev/null", "-H", "content-type: application/json",
                            "--data-binary", body, url], check=True)
        naive = time.perf_counter() - start

    print(f"input: {args.lines} lines, {size / 1e6:.1f} MB")
    print(f"chime pipe: {elapsed:.2f} s = {args.lines / elapsed:,.0f} lines/s (budget ≥ 500,000), exit {proc.returncode}")
    print(f"messages: {messages} (+{len(spooled)} spooled) vs minimum {minimum} = {messages / minimum:.3f}× (budget ≤ 1.1×)")
    print(f"peak RSS: {rss_kib / 1024:.1f} MiB (budget < 64 MiB)")
    per_line = naive / args.naive
    print(f"naive curl loop: {per_line * 1000:.2f} ms per line = {1 / per_line:,.0f} lines/s; "
          f"{args.lines} lines would take {per_line * args.lines / 60:,.0f} min and {args.lines} messages")


if __name__ == "__main__":
    main()
