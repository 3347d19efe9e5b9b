#!/usr/bin/env python3
"""Measure `chime send --file` of a 5 MiB file against `curl -F` of the same file.

Both post a multipart form — the message's JSON and the file — to the same local stub
(bench/stub.py), interleaved run by run so machine noise hits both alike. chime sends
through a `webhook` destination, whose form is `payload` and `files[0]`; curl sends the
same two fields. Reports the median wall time of the whole process, the ratio of
medians, and peak RSS (GNU time) for the file size given and for one four times as big,
to show memory does not grow with the file.

    python3 bench/send_file.py [--runs 30] [--mib 5] [--chime target/release/chime]

Budget (issue 13): chime's median ≤ 1.5 × curl's; peak RSS < 20 MiB whatever the size.
"""

import argparse
import os
import statistics
import subprocess
import tempfile

from send_vs_curl import peak_rss_kib, timed
from stub import Stub


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--mib", type=int, default=5)
    parser.add_argument("--chime", default="target/release/chime")
    args = parser.parse_args()
    stub = Stub()
    url = stub.url().replace("/services/", "/hook/")
    with tempfile.TemporaryDirectory() as home:
        profile = os.path.join(home, "bench.toml")
        with open(profile, "w") as f:
            f.write(f'[defaults]\nroute = "r"\n[destinations.sink]\nkind = "webhook"\nurl = "{url}"\n'
                    f'[routes.r]\nto = ["sink"]\n')
        env = {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile}
        sizes = [args.mib, args.mib * 4]
        files = {}
        for mib in sizes:
            path = os.path.join(home, f"report-{mib}.bin")
            with open(path, "wb") as f:
                f.write(os.urandom(mib << 20))
            files[mib] = path
        payload = '{"text":"nightly report"}'

        def commands(path):
            chime = [args.chime, "send", "nightly report", "--file", path]
            # `Expect:` off: the stub does not answer 100-continue, and curl would wait 1 s for it.
            curl = ["curl", "-sS", "-o", "/dev/null", "-H", "Expect:",
                    "-F", f"payload={payload};type=application/json",
                    "-F", f"files[0]=@{path}", url]
            return {"chime": chime, "curl": curl}

        main_commands = commands(files[args.mib])
        for _ in range(3):
            for argv in main_commands.values():
                timed(argv, env)
        samples = {name: [] for name in main_commands}
        for _ in range(args.runs):
            for name, argv in main_commands.items():
                samples[name].append(timed(argv, env))
        rss = {mib: {name: peak_rss_kib(argv, env, runs=5) for name, argv in commands(files[mib]).items()}
               for mib in sizes}
    print(f"{args.runs} runs each, interleaved, {os.cpu_count()} CPUs, a {args.mib} MiB file")
    medians = {name: statistics.median(walls) for name, walls in samples.items()}
    for name, median in medians.items():
        print(f"{name:6} median {median * 1000:7.2f} ms")
    for mib in sizes:
        shown = "   ".join(f"{name} {kib / 1024:6.2f} MiB" for name, kib in rss[mib].items())
        print(f"peak RSS with a {mib} MiB file: {shown}")
    print(f"ratio chime/curl (medians): {medians['chime'] / medians['curl']:.2f}  (budget ≤ 1.50)")
    print(f"chime peak RSS: {max(r['chime'] for r in rss.values()) / 1024:.2f} MiB  (budget < 20 MiB)")


if __name__ == "__main__":
    main()
