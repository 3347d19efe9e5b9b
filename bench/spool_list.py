#!/usr/bin/env python3
"""List a large spool; report wall time, peak memory and output size.

Fills a spool with N entries through the real writer (`chime send --queue`,
two at a time; each send queues one entry for each of the profile's
destinations), then runs, several times and interleaved:

  - `chime spool list`, `spool list --json`, `spool list --summary` and
    `spool list --limit 100`;
  - the same commands of every --compare binary (an earlier build), on the
    same spool in the same minutes; a command a build does not know is n/a;
  - two baselines: `ls -l` of a destination's folder (what any tool pays to
    list the folder), and `chime spool list` of an empty spool (the memory of
    chime itself).

Wall times are medians; peak RSS (GNU time, /usr/bin/time) is the highest of
the runs. The outputs of chime and each --compare binary are checked to be the
same bytes where both know the command.

    python3 bench/spool_list.py [--entries 50000] [--chime target/release/chime]
                                [--compare NAME=PATH]... [--runs 5]

Budget (issue 11): peak RSS ≤ 16 MiB at 50,000 entries, for every command.
"""

import argparse
import concurrent.futures
import hashlib
import os
import statistics
import subprocess
import tempfile
import time

COMMANDS = {
    "list": ["spool", "list"],
    "list --json": ["spool", "list", "--json"],
    "list --summary": ["spool", "list", "--summary"],
    "list --limit 100": ["spool", "list", "--limit", "100"],
}
DESTINATIONS = ["ops-hook", "side-hook"]
# About what a cron job's failure report says: a line or two of context.
TEXT = ("nightly backup of db-{i:05d} failed after 4m31s: rsync exited 23 "
        "(some files could not be transferred); last lines: " + "x" * 180)


def measure(argv, env):
    """Wall seconds, peak RSS in KiB, stdout's size and digest, exit code."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True)
    elapsed = time.perf_counter() - start
    rss = int(proc.stderr.decode().strip().splitlines()[-1])
    return elapsed, rss, len(proc.stdout), hashlib.sha256(proc.stdout).hexdigest(), proc.returncode


def fill(chime, env, entries):
    sends = (entries + len(DESTINATIONS) - 1) // len(DESTINATIONS)

    def send(i):
        subprocess.run([chime, "send", "--queue", "-q", TEXT.format(i=i)], env=env, check=False,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(send, range(sends)))
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=50000)
    parser.add_argument("--chime", default="target/release/chime")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=PATH",
                        help="another chime binary to run on the same spool")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    binaries = {"chime": os.path.abspath(args.chime)}
    binaries.update((name, os.path.abspath(path)) for name, path in
                    (item.split("=", 1) for item in args.compare))

    with tempfile.TemporaryDirectory() as home:
        profile = os.path.join(home, "bench.toml")
        with open(profile, "w") as f:
            f.write('[defaults]\nroute = "ops"\n')
            for name in DESTINATIONS:
                f.write(f'[destinations.{name}]\nkind = "slack"\n'
                        f'url = "http://127.0.0.1:1/services/T0/B0/{name}"\n')
            f.write(f'[routes.ops]\nto = {DESTINATIONS!r}\n'.replace("'", '"'))
        env = {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile,
               "CHIME_STATE_DIR": os.path.join(home, "state")}
        empty = dict(env, CHIME_STATE_DIR=os.path.join(home, "empty"))

        seconds = fill(binaries["chime"], env, args.entries)
        pending = subprocess.run(["find", env["CHIME_STATE_DIR"], "-name", "*.msg"], capture_output=True,
                                 text=True, check=True).stdout.split()
        folder = os.path.dirname(pending[0])
        print(f"filled {len(pending)} entries ({len(DESTINATIONS)} destinations) in {seconds:.0f} s; "
              f"{os.cpu_count()} CPUs, {args.runs} runs each, interleaved")

        runs = {"ls -l (one folder)": (["ls", "-l", folder], env),
                "chime, empty spool": ([binaries["chime"], "spool", "list"], empty)}
        for binary, path in binaries.items():
            for command, argv in COMMANDS.items():
                runs[f"{binary}: {command}"] = ([path] + argv, env)
        samples = {name: [] for name in runs}
        for _ in range(args.runs):
            for name, (argv, run_env) in runs.items():
                samples[name].append(measure(argv, run_env))

    print(f"{'command':32} {'median wall':>12} {'peak RSS':>10} {'stdout':>12}")
    for name, results in samples.items():
        if any(r[4] != 0 for r in results):
            print(f"{name:32} {'n/a (exit ' + str(results[0][4]) + ')':>12}")
            continue
        wall = statistics.median(r[0] for r in results)
        rss = max(r[1] for r in results) / 1024
        print(f"{name:32} {wall * 1000:9.0f} ms {rss:6.1f} MiB {results[0][2]:>12,} B")
    for binary in list(binaries)[1:]:
        for command in COMMANDS:
            ours, theirs = samples[f"chime: {command}"][0], samples[f"{binary}: {command}"][0]
            if theirs[4] == 0:
                same = "same bytes" if ours[3] == theirs[3] else "DIFFERENT output"
                print(f"chime vs {binary}, {command}: {same}")
    worst = max(max(r[1] for r in samples[f"chime: {c}"]) for c in COMMANDS) / 1024
    print(f"chime's highest peak RSS: {worst:.1f} MiB (budget ≤ 16 MiB)")


if __name__ == "__main__":
    main()
