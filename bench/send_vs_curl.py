#!/usr/bin/env python3
"""Measure one `chime send` against one `curl` posting the same message.

Both post the same JSON payload (the one chime builds, taken from --dry-run --json)
to the same local stub that answers like a Slack incoming webhook (200 "ok"),
interleaved run by run so machine noise hits both alike. Reports the median and
p90 wall time of the whole process, the ratio of medians, and peak RSS (from
GNU time, /usr/bin/time).

    python3 bench/send_vs_curl.py [--runs 200] [--chime target/release/chime]
                                  [--compare NAME=PATH]... [--tls]

--compare times other chime binaries (an earlier build, a variant) in the same
interleaved run, so before and after are measured on the same machine moment.

--tls serves HTTPS with a certificate of a CA made for the run (openssl): chime
trusts it through `ca_file` (and still loads the system store and built-in roots, as
every https send does), curl through --cacert.

Budget (issue 2): chime's median ≤ 1.5 × curl's, peak RSS < 15 MiB.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

from stub import Stub


def timed(argv, env):
    """Wall seconds of one process."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed with {proc.returncode}: {proc.stderr.decode()}")
    return elapsed


def peak_rss_kib(argv, env, runs=20):
    """Peak RSS over several runs, from GNU time: a child forked from this Python
    process would report Python's own high-water mark, which survives exec."""
    peak = 0
    for _ in range(runs):
        proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
        peak = max(peak, int(proc.stderr.strip().splitlines()[-1]))
    return peak


def summary(name, walls, rss):
    walls = sorted(walls)
    median = statistics.median(walls)
    p90 = walls[int(len(walls) * 0.9) - 1]
    print(f"{name:6} median {median * 1000:7.2f} ms   p90 {p90 * 1000:7.2f} ms   peak RSS {rss / 1024:6.2f} MiB")
    return median, rss


def make_ca(directory):
    """A CA and a certificate it signs for 127.0.0.1: (ca.pem, chain.pem, key.pem)."""
    def openssl(*argv):
        subprocess.run(["openssl", *argv], cwd=directory, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=chime bench CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(directory, "leaf.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    chain = os.path.join(directory, "chain.pem")
    with open(chain, "w") as out:
        for name in ["leaf.pem", "ca.pem"]:
            with open(os.path.join(directory, name)) as f:
                out.write(f.read())
    return os.path.join(directory, "ca.pem"), chain, os.path.join(directory, "key.pem")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--chime", default="target/release/chime")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=PATH",
                        help="another chime binary to time in the same run")
    parser.add_argument("--tls", action="store_true", help="HTTPS, with a CA made for the run")
    args = parser.parse_args()
    others = dict(item.split("=", 1) for item in args.compare)

    with tempfile.TemporaryDirectory() as home:
        trust, cacert = "", []
        if args.tls:
            ca, chain, key = make_ca(home)
            stub = Stub(tls=(chain, key))
            trust, cacert = f'ca_file = "{ca}"\n', ["--cacert", ca]
        else:
            stub = Stub()
        url = stub.url()
        profile = os.path.join(home, "bench.toml")
        with open(profile, "w") as f:
            f.write(f'[defaults]\nroute = "ops"\n[destinations.ops-hook]\nkind = "slack"\nurl = "{url}"\n'
                    f'{trust}[routes.ops]\nto = ["ops-hook"]\n')
        env = {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile}
        text = "backup finished: 12 GiB in 4m31s"
        chime = [args.chime, "send", "-t", "Nightly backup", text]
        dry = subprocess.run(chime + ["--dry-run", "--json"], env=env, check=True, capture_output=True, text=True)
        payload = os.path.join(home, "payload.json")
        with open(payload, "w") as f:
            json.dump(json.loads(dry.stdout)["body"], f)
        curl = ["curl", "-sS", "-o", "/dev/null", "-H", "content-type: application/json; charset=utf-8",
                "--data-binary", f"@{payload}"] + cacert + [url]

        commands = {"chime": chime, "curl": curl}
        for name, path in others.items():
            commands[name] = [path] + chime[1:]
        for _ in range(5):  # warm the page cache and the server
            for argv in commands.values():
                timed(argv, env)
        samples = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                samples[name].append(timed(argv, env))
        rss = {name: peak_rss_kib(argv, env) for name, argv in commands.items()}

    print(f"{args.runs} runs each, interleaved, {os.cpu_count()} CPUs")
    chime_median, chime_rss = summary("chime", samples["chime"], rss["chime"])
    curl_median, _ = summary("curl", samples["curl"], rss["curl"])
    for name in others:
        median, _ = summary(name, samples[name], rss[name])
        print(f"ratio {name}/curl (medians): {median / curl_median:.2f}; chime/{name}: {chime_median / median:.2f}")
    ratio = chime_median / curl_median
    print(f"ratio chime/curl (medians): {ratio:.2f}  (budget ≤ 1.50)")
    print(f"chime peak RSS: {chime_rss / 1024:.2f} MiB  (budget < 15 MiB)")


if __name__ == "__main__":
    main()
