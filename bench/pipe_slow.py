#!/usr/bin/env python3
"""Pipe a log, fed at full speed, into a slow destination and into a down one; report
chime's peak memory, batches delivered and spooled, and wall time, against a naive
Python batcher in the same run.

The slow destination is `stub.py` answering each request 3 s after it arrived (a
working webhook that takes 3 s); the down one is a port that refuses connections.
Each input (20 MB and 88 MB of the log `pipe.py` generates) goes through `cat` into
`chime pipe` twice, with `--max-pending 1MiB` and with the default (64 MiB), and into
the naive batcher, which reads stdin, packs lines up to Slack's limit and posts each
batch synchronously with urllib, what arrives meanwhile waiting in the pipe (and a
batch that fails is dropped). A run still going after --seconds gets SIGTERM: chime
then has its timeout (10 s) to send what it can and spool the rest.

    python3 bench/pipe_slow.py [--chime target/release/chime] [--seconds 45] [--sizes 20,88]

Budget (issue 11): chime's peak RSS stays under --max-pending plus a few MiB whatever
the input and the destination; a slow destination gets a full batch every ~3 s for as
long as chime runs, as the naive batcher's does; stderr says each cause once.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

from pipe import sandbox, write_log
from stub import Stub

LINES_PER_MB = 1_000_000 / 88.26
HOOK_PATH = "/services/T0BENCH/B0BENCH/benchbenchbenchbench"

NAIVE = r'''
import json, signal, sys, urllib.request
url, limit = sys.argv[1], int(sys.argv[2])
sent = failed = read = 0
def stop(*_):
    raise SystemExit(0)
signal.signal(signal.SIGTERM, stop)
def post(lines):
    global sent, failed
    body = json.dumps({"text": "```\n" + "".join(lines) + "```"}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10).read()
        sent += 1
    except OSError:
        failed += 1
try:
    batch, size = [], 0
    for line in sys.stdin:
        read += 1
        if size + len(line) > limit and batch:
            post(batch)
            batch, size = [], 0
        batch.append(line)
        size += len(line)
    if batch:
        post(batch)
finally:
    print(f"naive: {read} lines read, {sent} batches posted, {failed} dropped", file=sys.stderr)
'''


def child_of(pid):
    """The pid of /usr/bin/time's child (the program measured)."""
    for _ in range(100):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                children = f.read().split()
            if children:
                return int(children[0])
        except OSError:
            pass
        time.sleep(0.01)
    return None


def measure(command, log, env, seconds):
    """Runs `command` with `cat log` on stdin: wall time, peak RSS in KiB, stderr lines."""
    start = time.perf_counter()
    cat = subprocess.Popen(["cat", log], stdout=subprocess.PIPE)
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", *command], env=env, stdin=cat.stdout,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cat.stdout.close()
    measured = child_of(proc.pid)
    try:
        _, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        if measured:
            os.kill(measured, signal.SIGTERM)
        _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    cat.kill()
    cat.wait()
    lines = err.strip().splitlines()
    # GNU time's own words ("Command exited with non-zero status 75") are not the program's.
    said = [line for line in lines[:-1] if not line.startswith("Command ")]
    return elapsed, int(lines[-1]), said


def run_chime(chime, url, log, seconds, max_pending):
    with tempfile.TemporaryDirectory() as home:
        env = sandbox(home, url)
        args = [chime, "pipe"] + (["--max-pending", max_pending] if max_pending else [])
        elapsed, rss, err = measure(args, log, env, seconds)
        listed = subprocess.run([chime, "spool", "list", "--json"], env=env, capture_output=True, text=True)
        spooled = len(json.loads(listed.stdout or "[]"))
    return elapsed, rss, spooled, err


def run_naive(url, log, seconds):
    elapsed, rss, err = measure(["python3", "-c", NAIVE, url, "38000"], log, dict(os.environ), seconds)
    return elapsed, rss, None, err


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chime", default="target/release/chime")
    parser.add_argument("--seconds", type=float, default=45, help="SIGTERM after this long")
    parser.add_argument("--sizes", default="20,88", help="inputs, in MB")
    parser.add_argument("--delay", type=float, default=3.0, help="the slow destination's seconds per request")
    args = parser.parse_args()
    chime = os.path.abspath(args.chime)
    slow = Stub(delay=args.delay)
    # Bound and never listened on: every connection is refused at once.
    down = socket.socket()
    down.bind(("127.0.0.1", 0))
    destinations = [("slow", slow, f"{slow.url()}"),
                    ("down", None, f"http://127.0.0.1:{down.getsockname()[1]}{HOOK_PATH}")]
    with tempfile.TemporaryDirectory() as work:
        logs = []
        for mb in [int(s) for s in args.sizes.split(",")]:
            log = os.path.join(work, f"{mb}MB.log")
            write_log(log, int(mb * LINES_PER_MB))
            logs.append((mb, log))
        print(f"destinations: slow = {args.delay:g} s per request; down = connection refused; "
              f"SIGTERM after {args.seconds:g} s")
        print("| destination | input | program | peak RSS | delivered | spooled | wall | stderr lines |")
        print("|---|---|---|---|---|---|---|---|")
        for name, stub, url in destinations:
            for mb, log in logs:
                runs = [("chime --max-pending 1MiB", lambda: run_chime(chime, url, log, args.seconds, "1MiB")),
                        ("chime (64 MiB default)", lambda: run_chime(chime, url, log, args.seconds, None)),
                        ("naive batcher", lambda: run_naive(url, log, args.seconds))]
                for program, run in runs:
                    if stub:
                        stub.count = 0
                    elapsed, rss, spooled, err = run()
                    delivered = stub.count if stub else 0
                    kept = "—" if spooled is None else str(spooled)
                    print(f"| {name} | {mb} MB | {program} | {rss / 1024:.1f} MiB | {delivered} | {kept} | "
                          f"{elapsed:.1f} s | {len(err)} |", flush=True)
                    shown = err if len(err) <= 4 else err[:3] + [f"… {len(err) - 4} more like these …", err[-1]]
                    for line in shown:
                        print(f"    {line[:160]}", flush=True)


if __name__ == "__main__":
    main()
