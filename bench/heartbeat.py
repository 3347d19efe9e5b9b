#!/usr/bin/env python3
"""Measure what `chime run --ping` adds to a job, against the shell lines people write.

Three ways to run the same job (`true`) with a dead-man's switch on a local stub that
answers 200 to anything, interleaved run by run so machine noise hits them alike:

- `chime run --ping URL -- true` (a start ping, the job, the end ping with the tail);
- `curl URL/start; true; curl URL/$?` — the healthchecks.io docs' shell recipe;
- `chime run -- true` with no ping, so the pings' own cost shows apart from run's.

Reports the median and p90 wall time of the whole process and the ratios of medians.

    python3 bench/heartbeat.py [--runs 200] [--chime target/release/chime]

Budget (issue 17, from the brief's "a send costs less than curl"): a pinged run costs
less than the two curls it replaces.
"""

import argparse
import os
import statistics
import subprocess
import tempfile

from send_vs_curl import timed
from stub import Stub


def summary(name, walls):
    walls = sorted(walls)
    median = statistics.median(walls)
    p90 = walls[int(len(walls) * 0.9) - 1]
    print(f"{name:12} median {median * 1000:7.2f} ms   p90 {p90 * 1000:7.2f} ms")
    return median


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--chime", default="target/release/chime")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        stub = Stub()
        url = stub.url().rstrip("/") + "/5c2f7b1e-8d4a-4f0e-9b6a-2d3c4e5f6a7b"
        env = {"PATH": os.environ["PATH"], "HOME": home, "XDG_STATE_HOME": os.path.join(home, "state")}
        commands = {
            "chime --ping": [args.chime, "run", "--ping", url, "--", "true"],
            "curl ×2": ["sh", "-c", f'curl -fsS -o /dev/null "{url}/start"; true; '
                                    f'curl -fsS -o /dev/null "{url}/$?"'],
            "chime run": [args.chime, "run", "--", "true"],
        }
        for _ in range(5):
            for argv in commands.values():
                timed(argv, env)
        samples = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                samples[name].append(timed(argv, env))
        requests = stub.count
    print(f"{args.runs} runs each, interleaved, {os.cpu_count()} CPUs; the stub answered {requests} requests")
    medians = {name: summary(name, walls) for name, walls in samples.items()}
    print(f"ratio chime --ping / curl ×2 (medians): {medians['chime --ping'] / medians['curl ×2']:.2f}  (budget < 1)")
    print(f"the pings' own cost: {(medians['chime --ping'] - medians['chime run']) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
