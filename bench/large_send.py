#!/usr/bin/env python3
"""Time one large `chime send` against curl posting the same parts.

Generates log-like text (10 MB, and the most `chime send` reads from stdin,
16 MiB), sends it with `chime send < FILE` to a local stub that answers like a
Slack incoming webhook (`stub.py`; the profile sets `pace = "0s"`, so only the
work is measured, not Slack's one message a second), and as the baseline posts
the very same parts with one curl process: the bodies are taken from chime's
own `--dry-run --json`, written one to a file each, and sent in order with
`curl --data-binary @part1 URL --next --data-binary @part2 URL …` (one
process, one kept-alive connection, as chime has). Runs alternate chime and
curl; each is timed from Python and measured by GNU time (`/usr/bin/time -f
%M`, Debian package `time`) for its peak RSS. A 100 MB text is sent once too:
chime refuses it past 16 MiB of stdin, and the line says how fast and how
cheaply it does.

    python3 bench/large_send.py [--chime target/release/chime] [--runs 3]
                                [--compare NAME=PATH]...

--compare times other chime binaries (an earlier build) in the same run.

Budget (issue 11): chime's median ≤ 2 × curl's at 10 MB; peak RSS ≤ about
2 × the text plus a constant.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile
import time

from stub import Stub

MB = 1000 * 1000
MIB = 1 << 20
# What `chime send` reads from stdin at most (settings/send.rs, MAX_STDIN).
MAX_STDIN = 16 * MIB


def log_text(size, seed=11):
    """`size` bytes of lines like a service's log, with the odd `<`, `>`, `&`
    Slack escapes, ending without a line break (chime trims a final one)."""
    rng = random.Random(seed)
    levels = ["INFO"] * 8 + ["WARN", "ERROR"]
    paths = ["/api/v1/items", "/api/v1/users", "/healthz", "/api/v2/search?q=a&b=c", "/static/app.js"]
    lines, total, n = [], 0, 0
    while total < size:
        n += 1
        line = (f"2026-12-02T13:{n // 60000 % 60:02}:{n // 1000 % 60:02}.{n % 1000:03}Z "
                f"{rng.choice(levels)} worker-{rng.randrange(16)} req={rng.getrandbits(48):012x} "
                f"path={rng.choice(paths)} status={rng.choice([200, 200, 200, 204, 404, 500])} "
                f"took={rng.randrange(1, 900)}ms")
        if rng.random() < 0.05:
            line += " <- retried & slow"
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)[:size].rstrip("\n")


def measured(argv, env, stdin_path=None):
    """Wall seconds, peak RSS in KiB and exit code of one process."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, env=env, stdin=stdin,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
    finally:
        if stdin_path:
            stdin.close()
    lines = proc.stderr.strip().splitlines()
    return elapsed, int(lines[-1]), proc.returncode, "\n".join(lines[:-1])


def curl_argv(url, bodies):
    argv = ["curl", "-sS", "--fail"]
    for i, body in enumerate(bodies):
        if i:
            argv.append("--next")
        argv += ["-o", "/dev/null", "-H", "content-type: application/json; charset=utf-8",
                 "--data-binary", f"@{body}", url]
    return argv


def parts_of(chime, env, text_path, home):
    """The bodies chime would post, one file each, from its own dry run."""
    with open(text_path, "rb") as stdin:
        dry = subprocess.run([chime, "send", "--dry-run", "--json"], env=env, stdin=stdin,
                             capture_output=True, check=True)
    bodies = []
    for i, line in enumerate(dry.stdout.decode().splitlines()):
        path = os.path.join(home, f"part{i:05}.json")
        with open(path, "w") as f:
            json.dump(json.loads(line)["body"], f, separators=(",", ":"), ensure_ascii=False)
        bodies.append(path)
    return bodies


def run_size(label, size, commands, env, home, url, stub, runs):
    text_path = os.path.join(home, f"text-{size}.log")
    with open(text_path, "w") as f:
        f.write(log_text(size))
    bodies = parts_of(commands["chime"], env, text_path, home)
    commands = dict(commands, curl=None)
    samples = {name: [] for name in commands}
    rss = {name: 0 for name in commands}
    for _ in range(runs):
        for name, binary in commands.items():
            before = stub.count
            if name == "curl":
                wall, peak, code, err = measured(curl_argv(url, bodies), env)
            else:
                wall, peak, code, err = measured([binary, "send"], env, text_path)
            if code != 0 or stub.count - before != len(bodies):
                raise SystemExit(f"{name} failed ({code}, {stub.count - before} of {len(bodies)} "
                                 f"requests): {err}")
            samples[name].append(wall)
            rss[name] = max(rss[name], peak)
    text_mib = size / MIB
    print(f"{label}: {size:,} bytes ({text_mib:.1f} MiB), {len(bodies)} parts, {runs} runs each")
    curl_median = statistics.median(samples["curl"])
    for name in commands:
        median = statistics.median(samples[name])
        ratio = f"   {median / curl_median:6.2f} × curl" if name != "curl" else ""
        print(f"  {name:8} median {median:8.3f} s  (min {min(samples[name]):7.3f})   "
              f"peak RSS {rss[name] / 1024:7.1f} MiB = {rss[name] / 1024 / text_mib:4.2f} × text{ratio}")
    return samples, rss


def refusal(commands, env, home):
    """A 100 MB text on stdin: what chime does with more than it reads."""
    path = os.path.join(home, "text-100MB.log")
    with open(path, "w") as f:
        f.write(log_text(100 * MB))
    for name, binary in commands.items():
        wall, peak, code, _ = measured([binary, "send"], env, path)
        print(f"100 MB: {name} exits {code} in {wall:.3f} s, peak RSS {peak / 1024:.1f} MiB "
              f"(refused: stdin past {MAX_STDIN >> 20} MiB)")
    os.remove(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chime", default="target/release/chime")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=PATH",
                        help="another chime binary to time in the same run")
    args = parser.parse_args()
    commands = {"chime": os.path.abspath(args.chime)}
    for item in args.compare:
        name, path = item.split("=", 1)
        commands[name] = os.path.abspath(path)

    stub = Stub()
    url = stub.url()
    with tempfile.TemporaryDirectory() as home:
        profile = os.path.join(home, "bench.toml")
        with open(profile, "w") as f:
            f.write(f'[defaults]\nroute = "ops"\n[destinations.ops-hook]\nkind = "slack"\nurl = "{url}"\n'
                    f'pace = "0s"\n[routes.ops]\nto = ["ops-hook"]\n')
        env = {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile,
               "CHIME_STATE_DIR": os.path.join(home, "state")}
        print(f"{os.cpu_count()} CPUs; chime and curl alternate run by run")
        for label, size in [("10 MB", 10 * MB), ("16 MiB (stdin's maximum)", MAX_STDIN)]:
            run_size(label, size, commands, env, home, url, stub, args.runs)
        refusal(commands, env, home)


if __name__ == "__main__":
    main()
