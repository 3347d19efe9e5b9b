#!/usr/bin/env python3
"""Measure what a state server (`CHIME_STATE_URL`, a Redis) costs a send, and
whether its pacing bucket holds a fleet to one request per `pace`.

Starts its own `redis-server` on a free loopback port (`--save "" --appendonly
no`) and stops it at the end. Every figure is taken in the same run:

1. Cost per send: each variant below with the state on the host and with
   `CHIME_STATE_URL` set, interleaved run by run (each mode its own state
   directory): `send`; `send, pace 0s` (a destination with no pace takes no turn,
   so a shared send opens no connection at all); `dedupe, new window` (a key per
   run); `dedupe, repeat` (one key whose window is open: counted, not posted);
   `thread, new key` (a slack-api destination, a key per run); `thread, reply`
   (one key: a reply in its thread). The destinations have `pace = "1ms"`: a
   shared send takes a turn from the bucket, and sends a few milliseconds apart
   never wait for one (the kind's own pace, 1 s, would make every shared send
   after the first wait about a second: shown once, `--paced`).
   Each run's CPU (user + system, wait4) is kept beside its wall time. Then,
   untimed, where the time goes: the Redis commands each shared send issues
   (MONITOR: its round trips), the server's own time for them (SLOWLOG with no
   threshold), and a Python client's loopback round trip and connection setup.
2. Bucket throughput: `--pipes` concurrent `chime pipe` processes (10) each
   piping the same log (`--lines` lines, the one `pipe.py` generates) into one
   destination on the stub with `pace = "1ms"`: at most 1,000 requests/s
   fleet-wide. The destination is a generic `webhook` (2,000-character messages,
   so that 1,000 requests/s are not 40 MB/s for chime to render and the stub to
   parse on 2 cores); `--kind slack` takes Slack's 40,000-character messages.
   The stub keeps each request's arrival; the rate while every pipe is sending,
   and the largest count in any 1-second window, are reported. The same pipes
   without a state server (each keeps its own pace only) are the baseline. Then
   the bucket alone: `--pipes` Python processes calling chime's `TURN` script
   (read from src/state/shared.rs) with EVALSHA, interval 1 ms, each waiting
   for its turn, over `--direct-seconds`; and how many calls per second the
   script answers when nobody waits (interval 1 µs).
3. Peak RSS (GNU time) of each variant, local and shared, and of each pipe.

    python3 bench/shared_state.py [--runs 200] [--chime target/release/chime]
                                  [--redis-server redis-server]
                                  [--pipes 10] [--kind webhook|slack] [--lines N]
                                  [--direct-seconds 10] [--paced 4]
                                  [--skip-cost] [--skip-throughput]

Budgets: ≤ 1 ms added per send on loopback (shared median − local median); the
shared bucket sustains 1,000 turns/s across 10 processes without exceeding it.
"""

import argparse
import collections
import hashlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from pipe import write_log
from send_vs_curl import peak_rss_kib, timed
from slack_stub import SlackStub
from stub import Stub

HERE = os.path.dirname(os.path.abspath(__file__))


def turn_script():
    """chime's pacing script, as `src/state/shared.rs` has it (a raw string)."""
    with open(os.path.join(HERE, "..", "src", "state", "shared.rs")) as f:
        source = f.read()
    return re.search(r'const TURN: &str = r"(.*?)";', source, re.S).group(1)


class RespError(Exception):
    pass


class Resp:
    """The least of a Redis client: RESP2 over one socket."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            arg = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        self.sock.sendall(b"".join(out))

    def read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RespError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.send(*args)
        return self.read()

    def close(self):
        self.file.close()
        self.sock.close()

    def info(self, section):
        fields = {}
        for line in self.call("INFO", section).decode().splitlines():
            if ":" in line and not line.startswith("#"):
                name, value = line.split(":", 1)
                fields[name] = value
        return fields

    def commandstats(self):
        """{command: calls that succeeded}, counting the commands scripts run too (a
        first EVALSHA of a script the server has not loaded yet fails, NOSCRIPT, and
        the client loads it and calls again)."""
        stats = {}
        for name, value in self.info("commandstats").items():
            parts = dict(p.split("=", 1) for p in value.split(","))
            stats[name.removeprefix("cmdstat_")] = int(parts["calls"]) - int(parts.get("failed_calls", 0))
        return stats


class RedisServer:
    """A redis-server of this run's own, on a free loopback port."""

    def __init__(self, binary, directory):
        for _ in range(5):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
            probe.close()
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", directory, "--logfile", os.path.join(directory, "redis.log")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    client = Resp(self.port)
                    if client.call("PING") == "PONG":
                        self.client = client
                        return
                except OSError:
                    time.sleep(0.02)
            self.stop()
        raise SystemExit("cannot start redis-server on a free port")

    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def timed_cpu(argv, env):
    """Wall seconds of one process and the CPU it used (user + system, from wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    errors = proc.stderr.read()
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed with {proc.returncode}: {errors.decode()}")
    return elapsed, usage.ru_utime + usage.ru_stime


def median_ms(samples):
    return statistics.median(samples) * 1000


def p90_ms(samples):
    ordered = sorted(samples)
    return ordered[int(len(ordered) * 0.9) - 1] * 1000


# 1. The cost of a send


def sandbox(home, hook, api, state_url):
    """The profile of part 1, and an environment per mode (its own state directory)."""
    profile = os.path.join(home, "bench.toml")
    slow = hook.replace("B0BENCH", "B0SLOW")  # another URL: another identity, another bucket
    nopace = hook.replace("B0BENCH", "B0NOPACE")
    with open(profile, "w") as f:
        f.write(f'[defaults]\nroute = "ops"\n'
                f'[destinations.ops-hook]\nkind = "slack"\nurl = "{hook}"\npace = "1ms"\n'
                f'[destinations.ops-nopace]\nkind = "slack"\nurl = "{nopace}"\npace = "0s"\n'
                f'[destinations.ops-slow]\nkind = "slack"\nurl = "{slow}"\n'
                f'[destinations.bot]\nkind = "slack-api"\ntoken = "xoxb-bench"\nchannel = "#deploys"\n'
                f'api_url = "{api}"\npace = "1ms"\n'
                f'[routes.ops]\nto = ["ops-hook"]\n')
    os.chmod(profile, 0o600)  # else chime warns, on every run, that it holds secrets
    base = {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile}
    return {
        "local": dict(base, CHIME_STATE_DIR=os.path.join(home, "state-local")),
        "shared": dict(base, CHIME_STATE_DIR=os.path.join(home, "state-shared"), CHIME_STATE_URL=state_url),
    }


def variants(chime):
    counter = iter(range(10**9))
    hook = [chime, "send", "-l", "warning", "-t", "Disk", "disk /var is 97% full"]
    bot = [chime, "send", "--to", "bot", "-t", "Deploy", "deploy 42 finished"]
    return {
        "send": lambda: hook,
        "send, pace 0s": lambda: hook + ["--to", "ops-nopace"],
        "dedupe, new window": lambda: hook + ["--dedupe", f"run-{next(counter)}"],
        "dedupe, repeat": lambda: hook + ["--dedupe", "disk-full", "--dedupe-window", "1d"],
        "thread, new key": lambda: bot + ["--thread", f"run-{next(counter)}"],
        "thread, reply": lambda: bot + ["--thread", "build-42"],
    }


def monitored(server, envs, commands, per_variant=5):
    """Runs each variant's shared send `per_variant` times under MONITOR: the
    commands each process sent (round trips) and how many connections it opened."""
    monitor = Resp(server.port)
    monitor.call("MONITOR")
    lines = []

    def read():
        while True:
            line = monitor.read()
            lines.append(line)
            if '"bench-monitor-end"' in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for name, make in commands.items():
        server.client.call("ECHO", f"bench-variant {name}")
        for _ in range(per_variant):
            timed(make(), envs["shared"])
    server.client.call("ECHO", "bench-monitor-end")
    reader.join(10)
    monitor.close()

    found, variant, scripts = {}, None, set()
    for line in lines:
        m = re.match(r'[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"(.*)', line)
        if not m:
            continue
        client, command, rest = m.group(1), m.group(2).upper(), m.group(3)
        if command == "ECHO":
            variant = rest.strip().strip('"').removeprefix("bench-variant ")
            found.setdefault(variant, collections.defaultdict(list))
            continue
        if client == "lua" or variant is None or variant == "bench-monitor-end":
            continue  # run by a script: no round trip of its own
        if command == "EVALSHA":
            scripts.add(rest.split('"')[1])
        found[variant][client].append(command)
    result = {}
    for name in commands:
        processes = list(found.get(name, {}).values())
        trips = [len(p) for p in processes]
        typical = collections.Counter(processes[0]) if processes else collections.Counter()
        result[name] = {
            "connections": len(processes) / per_variant,
            "round trips": statistics.median(trips) if trips else 0,
            "commands": ", ".join(f"{c} ×{n}" for c, n in typical.most_common()),
        }
    return result, scripts


def server_time(server, envs, commands, per_variant=20):
    """The server's own time for each variant's shared send (SLOWLOG with no
    threshold, untimed runs): the median per send of what its commands took,
    and the median of its TURN calls alone."""
    client = server.client
    client.call("CONFIG", "SET", "slowlog-max-len", "100000")
    sha = hashlib.sha1(turn_script().encode()).hexdigest().encode()
    found = {}
    for name, make in commands.items():
        client.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        client.call("SLOWLOG", "RESET")
        for _ in range(per_variant):
            timed(make(), envs["shared"])
        client.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        per_client, turns = collections.Counter(), []
        for _, _, usec, argv, address, *_ in client.call("SLOWLOG", "GET", 100000):
            command = argv[0].upper()
            if address == b"?:0" or command in (b"CONFIG", b"SLOWLOG"):
                continue  # a script's own command (counted in its EVALSHA), or ours
            per_client[address] += usec
            if command == b"EVALSHA" and argv[1] == sha:
                turns.append(usec)
        totals = list(per_client.values())
        found[name] = (statistics.median(totals) if totals else 0, statistics.median(turns) if turns else None)
    return found


def probes(server, script, runs=2000):
    """A Python client's loopback costs: a fresh connection and its first PING,
    a PING and chime's TURN (EVALSHA) on a kept connection."""
    connect = []
    for _ in range(300):
        start = time.perf_counter()
        client = Resp(server.port)
        client.call("PING")
        connect.append(time.perf_counter() - start)
        client.close()
    client = Resp(server.port)
    sha = client.call("SCRIPT", "LOAD", script).decode()
    ping, turn = [], []
    for i in range(runs):
        start = time.perf_counter()
        client.call("PING")
        ping.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.call("EVALSHA", sha, 1, "bench:probe:turn", 1, 10_000_000)
        turn.append(time.perf_counter() - start)
    client.close()
    return {"connect + PING": median_ms(connect), "PING": median_ms(ping), "EVALSHA TURN": median_ms(turn)}


def cost_per_send(args, server, home):
    hook_stub = Stub()
    slack = SlackStub()
    envs = sandbox(home, hook_stub.url(), slack.api_url(), server.url())
    commands = variants(args.chime)
    # The window every `dedupe, repeat` counts in, the thread every `reply` goes to.
    for mode in envs:
        timed(commands["dedupe, repeat"](), envs[mode])
        timed(commands["thread, reply"](), envs[mode])
    for _ in range(5):  # warm the page cache, the stubs and the server
        for make in commands.values():
            for env in envs.values():
                timed(make(), env)
    hook_before, posts_before = hook_stub.count, slack.count("posted")
    walls = {(name, mode): [] for name in commands for mode in envs}
    cpus = {(name, mode): [] for name in commands for mode in envs}
    modes = list(envs)
    for run in range(args.runs):
        for name, make in commands.items():
            for mode in (modes if run % 2 == 0 else modes[::-1]):  # neither always first
                wall, cpu = timed_cpu(make(), envs[mode])
                walls[name, mode].append(wall)
                cpus[name, mode].append(cpu)
    hook_posts, slack_posts = hook_stub.count - hook_before, slack.count("posted") - posts_before

    trips, scripts = monitored(server, envs, commands)
    served = server_time(server, envs, commands)
    probe = probes(server, turn_script())
    rss = {(name, mode): peak_rss_kib(make(), envs[mode]) for name, make in commands.items() for mode in envs}

    paced = []  # the kind's own pace (Slack webhooks: 1 s), back to back
    slow = [args.chime, "send", "--to", "ops-slow", "-t", "Disk", "disk /var is 97% full"]
    for _ in range(args.paced):
        paced.append(timed(slow, envs["shared"]))

    print(f"\n== 1. cost per send: {args.runs} runs each, interleaved, {os.cpu_count()} CPUs; "
          f"{hook_posts} webhook posts (expected {6 * args.runs}), {slack_posts} chat.postMessage "
          f"(expected {4 * args.runs})")
    print(f"{'variant':20} {'local':>9} {'shared':>9} {'added':>9} {'ratio':>6} {'p90 local':>10} "
          f"{'p90 shared':>10} {'CPU local':>10} {'CPU shared':>10} {'added CPU':>10}")
    table = {}
    for name in commands:
        local, shared = median_ms(walls[name, "local"]), median_ms(walls[name, "shared"])
        cpu_local, cpu_shared = median_ms(cpus[name, "local"]), median_ms(cpus[name, "shared"])
        table[name] = (local, shared)
        print(f"{name:20} {local:7.2f}ms {shared:7.2f}ms {shared - local:+7.2f}ms {shared / local:6.2f} "
              f"{p90_ms(walls[name, 'local']):8.2f}ms {p90_ms(walls[name, 'shared']):8.2f}ms "
              f"{cpu_local:8.2f}ms {cpu_shared:8.2f}ms {cpu_shared - cpu_local:+8.2f}ms")
    worst = max(shared - local for local, shared in table.values())
    print(f"largest added median: {worst:+.2f} ms  (budget ≤ +1.00 ms)")
    (local, shared), (local0, shared0) = table["send"], table["send, pace 0s"]
    print(f"in chime, one connection and one TURN: shared `send` − shared `send, pace 0s` = {shared - shared0:+.2f} ms "
          f"(the same locally: {local - local0:+.2f} ms; the difference of the two: "
          f"{(shared - local) - (shared0 - local0):+.2f} ms)")

    print(f"\nwhat each shared send asks of the server (MONITOR, then SLOWLOG, untimed runs)")
    print(f"{'variant':20} {'round trips':>11} {'connections':>11} {'server µs/send':>14} {'TURN µs':>8}  commands")
    for name in commands:
        t, (usec, turn) = trips[name], served[name]
        print(f"{name:20} {t['round trips']:11g} {t['connections']:11g} {usec:14g} "
              f"{'—' if turn is None else f'{turn:g}':>8}  {t['commands']}")
    ours = hashlib.sha1(turn_script().encode()).hexdigest()
    print(f"scripts chime ran: {sorted(scripts)}; TURN from src/state/shared.rs is {ours}"
          f" ({'among them' if ours in scripts else 'NOT among them'})")
    print("Python client on loopback (medians): " + ", ".join(f"{k} {v:.3f} ms" for k, v in probe.items()))
    if paced:
        print(f"the kind's own pace (1 s), {len(paced)} shared sends back to back: "
              + ", ".join(f"{p * 1000:.0f} ms" for p in paced))

    print(f"\n== 3. peak RSS (GNU time, the largest of 20 runs)")
    for name in commands:
        local, shared = rss[name, "local"] / 1024, rss[name, "shared"] / 1024
        print(f"{name:20} local {local:6.2f} MiB   shared {shared:6.2f} MiB   {shared - local:+.2f} MiB")


# 2. Throughput of the bucket


def rates(arrivals, processes):
    """Rate while every process is going (each has a connection of its own), the
    largest count in any 1-second window, and the whole-second counts between."""
    times = sorted(t for t, _ in arrivals)
    if len(times) < 2:
        return None
    spans = collections.defaultdict(list)
    for t, who in arrivals:
        spans[who].append(t)
    if len(spans) == processes:
        start = max(min(ts) for ts in spans.values())
        end = min(max(ts) for ts in spans.values())
    else:  # connections are not processes: leave the ramps out
        start, end = times[0] + 1, times[-1] - 1
    inside = [t for t in times if start <= t <= end]
    largest, j = 0, 0
    for i in range(len(times)):
        while j < len(times) and times[j] < times[i] + 1.0:
            j += 1
        largest = max(largest, j - i)
    seconds = collections.Counter(int(t - start) for t in inside)
    whole = [seconds[k] for k in range(int(end - start))]
    return {
        "total": len(times),
        "span": times[-1] - times[0],
        "window": end - start,
        "rate": len(inside) / (end - start) if end > start else float("nan"),
        "largest": largest,
        "seconds": whole,
        "connections": len(spans),
    }


def pipes(args, server, home, log, shared):
    stub = Stub(arrivals=True)
    profile = os.path.join(home, "pipes.toml")
    with open(profile, "w") as f:
        f.write(f'[defaults]\nroute = "logs"\n[destinations.log-hook]\nkind = "{args.kind}"\nurl = "{stub.url()}"\n'
                f'pace = "1ms"\n[routes.logs]\nto = ["log-hook"]\n')
    os.chmod(profile, 0o600)
    mode = "shared" if shared else "local"
    envs = []
    for i in range(args.pipes):
        env = {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile,
               "CHIME_STATE_DIR": os.path.join(home, f"pipe-{mode}-{i}")}
        if shared:
            env["CHIME_STATE_URL"] = server.url()
        envs.append(env)
    before = server.client.commandstats().get("evalsha", 0)
    procs = []
    start = time.perf_counter()
    for env in envs:
        with open(log, "rb") as stdin:
            procs.append(subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", args.chime, "pipe", "-q"],
                                          env=env, stdin=stdin, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True))
    usage = []
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"chime pipe failed with {proc.returncode}: {err}")
        rss, user, system = err.strip().splitlines()[-1].split()
        usage.append((int(rss), float(user) + float(system)))
    elapsed = time.perf_counter() - start
    turns = server.client.commandstats().get("evalsha", 0) - before
    spooled = 0
    for env in envs:
        listed = subprocess.run([args.chime, "spool", "list", "--json"], env=env, capture_output=True, text=True)
        spooled += len(json.loads(listed.stdout or "[]"))
    result = rates(list(stub.arrivals), args.pipes)
    result.update(elapsed=elapsed, turns=turns, spooled=spooled, rss=max(r for r, _ in usage),
                  cpu=sum(c for _, c in usage))
    return result


def direct_worker(port, key, seconds, at, interval):
    """One process of the direct measure: takes turns until `at + seconds`, waiting
    for each, and prints when it had each (perf_counter, the system's monotonic clock)."""
    client = Resp(int(port))
    sha = client.call("SCRIPT", "LOAD", turn_script()).decode()
    while time.perf_counter() < at:
        time.sleep(0.001)
    granted, calls = [], 0
    end = at + seconds
    while time.perf_counter() < end:
        taken, wait = client.call("EVALSHA", sha, 1, key, interval, 10_000_000)
        calls += 1
        if taken == 1:
            if wait > 0:
                time.sleep(wait / 1e6)
            granted.append(time.perf_counter())
    print(json.dumps({"granted": granted, "calls": calls}))


def direct(args, server, seconds, interval):
    key = f"bench:direct:{interval}:{time.time_ns()}"
    at = time.perf_counter() + 1.0
    workers = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--direct-worker", str(server.port),
                                 key, str(seconds), repr(at), str(interval)], stdout=subprocess.PIPE, text=True)
               for _ in range(args.pipes)]
    arrivals, calls = [], 0
    for who, worker in enumerate(workers):
        out, _ = worker.communicate(timeout=seconds + 60)
        if worker.returncode != 0:
            raise SystemExit("a direct worker failed")
        found = json.loads(out)
        arrivals += [(t, who) for t in found["granted"]]
        calls += found["calls"]
    result = rates(arrivals, args.pipes)
    result["calls"] = calls
    return result


def throughput(args, server, home):
    log = os.path.join(home, "app.log")
    write_log(log, args.lines)
    size = os.path.getsize(log)
    print(f"\n== 2. bucket throughput: {args.pipes} × `chime pipe` of the same {args.lines:,}-line log "
          f"({size / 1e6:.2f} MB) into one `{args.kind}` destination with pace = \"1ms\"")
    print(f"{'pipes':10} {'requests':>8} {'spooled':>7} {'wall':>7} {'all going':>9} {'rate then':>10} "
          f"{'largest 1 s':>11} {'whole seconds (min/median/max)':>31} {'turns asked':>11} {'CPU':>7} "
          f"{'peak RSS':>9}")
    for shared in (True, False):
        r = pipes(args, server, home, log, shared)
        secs = r["seconds"]
        spread = f"{min(secs)}/{statistics.median(secs):g}/{max(secs)}" if secs else "—"
        print(f"{'shared' if shared else 'local':10} {r['total']:8} {r['spooled']:7} {r['elapsed']:6.2f}s "
              f"{r['window']:8.2f}s {r['rate']:8.0f}/s {r['largest']:11} {spread:>31} {r['turns']:11} "
              f"{r['cpu']:6.2f}s {r['rss'] / 1024:6.1f}MiB")
        if r["connections"] != args.pipes:
            print(f"  ({r['connections']} connections for {args.pipes} pipes: the window is the run less 1 s each end)")
        if shared:
            print(f"  per second while all went: {secs}")
    if args.direct_seconds > 0:
        print(f"\nthe bucket alone: {args.pipes} Python processes, EVALSHA of chime's TURN, "
              f"{args.direct_seconds:g} s each")
        for interval, label in ((1000, "interval 1 ms, each waiting for its turn"),
                                (1, "interval 1 µs (nobody waits): calls the script answers")):
            r = direct(args, server, args.direct_seconds, interval)
            secs = r["seconds"]
            spread = f"{min(secs)}/{statistics.median(secs):g}/{max(secs)}" if secs else "—"
            print(f"  {label}: {r['total']} granted of {r['calls']} calls, {r['rate']:,.0f}/s while all went "
                  f"({r['window']:.2f} s), largest 1 s {r['largest']:,}, whole seconds {spread}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--direct-worker":
        port, key, seconds, at, interval = sys.argv[2:7]
        direct_worker(port, key, float(seconds), float(at), int(interval))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--chime", default="target/release/chime")
    parser.add_argument("--redis-server", default="redis-server")
    parser.add_argument("--pipes", type=int, default=10)
    parser.add_argument("--kind", choices=["webhook", "slack"], default="webhook",
                        help="the pipes' destination: a generic webhook (2,000-character messages) or Slack's "
                             "(40,000: the CPU of rendering them shows)")
    parser.add_argument("--lines", type=int, help="lines of the log each pipe reads (webhook: 30,000, "
                        "about 1,300 requests; slack: 500,000, about 1,150)")
    parser.add_argument("--direct-seconds", type=float, default=10)
    parser.add_argument("--paced", type=int, default=4, help="shared sends at the kind's own pace (1 s)")
    parser.add_argument("--skip-cost", action="store_true", help="part 2 only")
    parser.add_argument("--skip-throughput", action="store_true", help="parts 1 and 3 only")
    args = parser.parse_args()
    args.chime = os.path.abspath(args.chime)
    if args.lines is None:
        args.lines = 30_000 if args.kind == "webhook" else 500_000

    with tempfile.TemporaryDirectory() as home:
        server = RedisServer(args.redis_server, home)
        try:
            version = server.client.info("server").get("redis_version", "?")
            print(f"redis-server {version} on 127.0.0.1:{server.port} (no persistence); {os.cpu_count()} CPUs")
            if not args.skip_cost:
                cost_per_send(args, server, home)
            if not args.skip_throughput:
                throughput(args, server, home)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
