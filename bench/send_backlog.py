#!/usr/bin/env python3
"""A send behind a backlog: wall time against the same send on an empty spool.

The destination is down (connections refused at once), as in an outage. For
each backlog size, the spool is filled with that many entries not due for an
hour (`spoolfill.py`; what a failing destination's backoff leaves), one send
goes first (the drain that looks at the backlog), then `--runs` sends are
timed: each queues behind the backlog without trying the destination. Two
baselines on an empty spool: `send --queue`, which keeps its message at once
(the same work as queueing behind a backlog, so the ratio to it is what the
backlog costs), and a plain send, which tries the down destination, retries
within its timeout and then keeps it. Binaries (`--compare NAME=PATH`) are
timed in turn in the same run.

    python3 bench/send_backlog.py [--sizes 0,10000,50000] [--runs 30]
                                  [--chime target/release/chime] [--compare NAME=PATH]...

Budget (issue 11): behind 50,000 entries, ≤ 1.2 × the empty spool's
`send --queue` median.
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time

from spoolfill import fill

DOWN = "http://127.0.0.1:1/services/T0BENCH/B0BENCH/benchbenchbenchbench"


def env_for(home):
    profile = os.path.join(home, "bench.toml")
    with open(profile, "w") as f:
        f.write(f'[defaults]\nroute = "ops"\n[destinations.ops-hook]\nkind = "slack"\nurl = "{DOWN}"\n'
                f'[routes.ops]\nto = ["ops-hook"]\n')
    return {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile,
            "CHIME_STATE_DIR": os.path.join(home, "state")}


def send(chime, env, text, *flags):
    start = time.perf_counter()
    done = subprocess.run([chime, "send", *flags, text], env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if done.returncode != 75:
        raise SystemExit(f"{chime} send exited {done.returncode}, not 75 (queued)")
    return time.perf_counter() - start


def empty(chime, runs, *flags):
    """Each send on an empty spool."""
    times = []
    with tempfile.TemporaryDirectory() as home:
        env = env_for(home)
        for i in range(runs):
            times.append(send(chime, env, f"empty {i}", *flags))
            subprocess.run([chime, "spool", "purge", "--yes", "-q"], env=env, check=True)
    return times


def behind(chime, size, runs):
    with tempfile.TemporaryDirectory() as home:
        env = env_for(home)
        fill(chime, env, size, next_attempt_ms=int((time.time() + 3600) * 1000))
        send(chime, env, "first behind")
        return [send(chime, env, f"behind {i}") for i in range(runs)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="0,10000,50000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--chime", default="target/release/chime")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=PATH")
    args = parser.parse_args()
    binaries = {"chime": os.path.abspath(args.chime)}
    binaries.update((name, os.path.abspath(path)) for name, path in
                    (item.split("=", 1) for item in args.compare))
    sizes = [int(s) for s in args.sizes.split(",")]

    medians = {name: {} for name in binaries}
    for size in sizes:
        for name, chime in binaries.items():
            if size == 0:
                medians[name]["queue"] = statistics.median(empty(chime, args.runs, "--queue"))
                medians[name]["tried"] = statistics.median(empty(chime, args.runs))
            else:
                medians[name][size] = statistics.median(behind(chime, size, args.runs))

    for name, by_size in medians.items():
        base = by_size.get("queue")
        cells = [f"empty, --queue: {base * 1000:.2f} ms",
                 f"empty, tried: {by_size['tried'] * 1000:.0f} ms"]
        cells += [f"behind {size}: {median * 1000:.2f} ms = {median / base:.2f} × --queue"
                  for size, median in by_size.items() if isinstance(size, int)]
        print(f"{name:>8}: " + "; ".join(cells))
    print("budget: behind 50,000 entries ≤ 1.2 × an empty spool's send --queue")


if __name__ == "__main__":
    main()
