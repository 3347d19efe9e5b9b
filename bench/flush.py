#!/usr/bin/env python3
"""Flush a large spool to a local server; report messages per second and peak memory.

Builds N spool entries with `chime send --queue` (the real writer, timed too), then
times one `chime flush --all` delivering them all to a local stub that answers like
a Slack webhook with no rate limit (`pace = "0s"`: by default a flush keeps to
Slack's one message a second). Also compares the cost of `send --queue` with a
plain delivered `send` in the same run.

    python3 bench/flush.py [--messages 10000] [--chime target/release/chime]

Budgets (issue 3): flush ≥ 2,000 messages/s; flush peak RSS < 30 MiB whatever the
spool size; `send --queue` no dearer than a plain send.
"""

import argparse
import concurrent.futures
import os
import statistics
import subprocess
import tempfile
import time

from stub import Stub


def wall(argv, env):
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=False, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--chime", default="target/release/chime")
    args = parser.parse_args()
    chime = os.path.abspath(args.chime)

    stub = Stub()
    url = stub.url()

    with tempfile.TemporaryDirectory() as home:
        profile = os.path.join(home, "bench.toml")
        with open(profile, "w") as f:
            f.write(f'[defaults]\nroute = "ops"\n[destinations.ops-hook]\nkind = "slack"\nurl = "{url}"\n'
                    f'pace = "0s"\n[routes.ops]\nto = ["ops-hook"]\n')
        env = {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile,
               "CHIME_STATE_DIR": os.path.join(home, "state")}

        # send --queue vs a plain delivered send, each on an empty spool (a send
        # behind a backlog delivers the backlog first, which is not what is compared).
        queue_times, send_times = [], []
        for i in range(100):
            send_times.append(wall([chime, "send", f"compare {i}"], env))
            queue_times.append(wall([chime, "send", "--queue", f"compare {i}"], env))
            subprocess.run([chime, "spool", "purge", "--yes", "-q"], env=env, check=True)

        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda i: wall([chime, "send", "--queue", f"spooled message {i}"], env),
                          range(args.messages)))
        fill = time.perf_counter() - start

        stub.count = 0
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", chime, "flush", "--all", "-q"], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        rss_kib = int(proc.stderr.strip().splitlines()[-1])
        left = subprocess.run([chime, "spool", "list", "--json"], env=env, capture_output=True, text=True).stdout

    print(f"send --queue: median {statistics.median(queue_times) * 1000:.2f} ms; "
          f"plain send (delivered): median {statistics.median(send_times) * 1000:.2f} ms; "
          f"ratio {statistics.median(queue_times) / statistics.median(send_times):.2f}")
    print(f"filled {args.messages} entries in {fill:.1f} s (2 writers)")
    print(f"flush: {stub.count} delivered in {elapsed:.2f} s = {stub.count / elapsed:.0f} messages/s "
          f"(budget ≥ 2000), exit {proc.returncode}, left {left.strip()[:40]}")
    print(f"flush peak RSS: {rss_kib / 1024:.2f} MiB (budget < 30 MiB)")


if __name__ == "__main__":
    main()
