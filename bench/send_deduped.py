#!/usr/bin/env python3
"""Measure a deduplicated `chime send` against one that goes to the network, and
both against `curl` posting the same message, interleaved run by run.

- `sent`: a send with `--dedupe KEY` whose window is new each run (a key per run),
  so it opens a window and posts: the cost of dedupe on a message that goes;
- `deduped`: the same send under one key whose window is open: counted, not posted;
- `plain`: the same send without dedupe;
- `curl`: the payload chime builds, posted by curl.

    python3 bench/send_deduped.py [--runs 200] [--chime target/release/chime]

Budget (issue 14): a deduplicated send costs no more than a send that goes to the
network (it should cost less).
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile

from send_vs_curl import peak_rss_kib, summary, timed
from stub import Stub


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--chime", default="target/release/chime")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        stub = Stub()
        url = stub.url()
        profile = os.path.join(home, "bench.toml")
        with open(profile, "w") as f:
            f.write(f'[defaults]\nroute = "ops"\n[destinations.ops-hook]\nkind = "slack"\nurl = "{url}"\n'
                    f'[routes.ops]\nto = ["ops-hook"]\n')
        env = {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile}
        text = "disk /var is 97% full"
        plain = [args.chime, "send", "-l", "warning", "-t", "Disk", text]
        dry = subprocess.run(plain + ["--dry-run", "--json"], env=env, check=True, capture_output=True, text=True)
        payload = os.path.join(home, "payload.json")
        with open(payload, "w") as f:
            json.dump(json.loads(dry.stdout)["body"], f)
        curl = ["curl", "-sS", "-o", "/dev/null", "-H", "content-type: application/json; charset=utf-8",
                "--data-binary", f"@{payload}", url]
        deduped = plain + ["--dedupe", "disk-full", "--dedupe-window", "1d"]
        timed(deduped, env)  # opens the window every later run counts in

        counter = iter(range(10**9))
        commands = {
            "plain": lambda: plain,
            "sent": lambda: plain + ["--dedupe", f"run-{next(counter)}"],
            "deduped": lambda: deduped,
            "curl": lambda: curl,
        }
        for _ in range(5):
            for make in commands.values():
                timed(make(), env)
        posted_before = stub.count
        samples = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, make in commands.items():
                samples[name].append(timed(make(), env))
        posted = stub.count - posted_before
        rss = {name: peak_rss_kib(make(), env) for name, make in commands.items()}

    print(f"{args.runs} runs each, interleaved, {os.cpu_count()} CPUs; {posted} requests reached the stub "
          f"(expected {3 * args.runs}: plain, sent and curl)")
    medians = {name: summary(name, samples[name], rss[name])[0] for name in commands}
    print(f"ratio deduped/plain (medians): {medians['deduped'] / medians['plain']:.2f}  (budget ≤ 1.00)")
    print(f"ratio sent/plain (medians): {medians['sent'] / medians['plain']:.2f}")
    print(f"ratio plain/curl (medians): {medians['plain'] / medians['curl']:.2f}; "
          f"deduped/curl: {medians['deduped'] / medians['curl']:.2f}")


if __name__ == "__main__":
    main()
