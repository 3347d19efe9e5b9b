#!/usr/bin/env python3
"""Measure `chime ask` on Slack: what asking costs, how fast a click ends it,
and what a wait costs while no one answers.

Everything runs against `slack_stub.py`, a stand-in for the Web API and
Socket Mode on localhost, with a `slack-api` destination that has an
`app_token`:

1. post: the time from starting a process until the stand-in has its
   chat.postMessage, for `chime ask --to bot "Deploy?"` (profile, Socket Mode
   opened: apps.connections.open, the WebSocket upgrade, hello; then the
   post), `chime send --to bot "Deploy?"` and `curl` posting the JSON the ask
   posted, interleaved run by run;
2. answer: each of those asks is then clicked (Approve, on its own
   connection, 100 ms after its post, as a person is never quicker): the time
   from the click's frame written until the process exits 0 with Approve on
   stdout, with the acknowledgement and the chat.update that settles the
   question on the way;
3. waiting: one `chime ask --timeout 20s` nobody answers: its CPU time
   (GNU time, and the scheduler's own count from /proc/PID/task/*/schedstat
   between 2 s and 18 s), its peak RSS, its RSS at 2 s and at 18 s, and what
   it asked of the stand-in meanwhile (the read-back every 5 s; a ping at 10 s).

    python3 bench/ask.py [--runs 30] [--chime target/release/chime] [--wait 20] [--probes]

--probes adds two checks of a waiting ask's behaviour (not speed budgets):
10,000 and 40,000 other envelopes on its connection (events an app subscribed
to events gets: CPU and RSS as they are acknowledged), and a connection that
hangs up right after hello (how often chime opens a new one in 5 s).

Peak RSS comes from GNU time (/usr/bin/time), as in send_vs_curl.py.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

from send_vs_curl import peak_rss_kib
from slack_stub import SlackStub

CLICK_AFTER = 0.1  # seconds between the post and the click


def sandbox(home, api_url):
    profile = os.path.join(home, "bench.toml")
    with open(profile, "w") as f:
        f.write('[destinations.bot]\nkind = "slack-api"\ntoken = "xoxb-bench"\napp_token = "xapp-bench"\n'
                f'channel = "#deploys"\napi_url = "{api_url}"\n')
    os.chmod(profile, 0o600)  # else chime warns, on every run, that it holds secrets
    env = {"PATH": os.environ["PATH"], "HOME": home, "CHIME_CONFIG": profile,
           "CHIME_STATE_DIR": os.path.join(home, "state")}
    for name, sub in [("XDG_CONFIG_HOME", ".config"), ("XDG_STATE_HOME", ".local/state"),
                      ("XDG_CACHE_HOME", ".cache"), ("XDG_DATA_HOME", ".local/share"),
                      ("XDG_RUNTIME_DIR", "run")]:
        env[name] = os.path.join(home, sub)
        os.makedirs(env[name], mode=0o700, exist_ok=True)
    return env


def started(stub, argv, env):
    """Starts `argv`; returns the process, its start and when its post arrived."""
    mark = len(stub.events)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, posted, _ = stub.wait_for("chat.postMessage", mark)
    except TimeoutError:
        proc.kill()
        out, err = proc.communicate()
        raise SystemExit(f"{argv[1]}: no chat.postMessage; exit {proc.returncode}: {err}")
    return proc, mark, start, posted


def finished(proc, argv, code=0, timeout=30):
    out, err = proc.communicate(timeout=timeout)
    ended = time.perf_counter()
    if proc.returncode != code:
        raise SystemExit(f"{' '.join(argv[:2])} exited {proc.returncode}, not {code}: {err}")
    return ended, out


def one_ask(stub, argv, env):
    proc, mark, start, posted = started(stub, argv, env)
    _, opened, _ = stub.wait_for("apps.connections.open", mark)
    _, upgraded, _ = stub.wait_for("upgrade", mark)
    _, _, ts = stub.wait_for("posted", mark)
    time.sleep(CLICK_AFTER)
    clicked, envelope = stub.click(ts)
    ended, out = finished(proc, argv)
    if out.strip() != "Approve":
        raise SystemExit(f"chime ask printed {out!r}, not Approve")
    acked = next(t for t, kind, detail in stub.events[mark:] if kind == "ack" and detail == envelope)
    updated = next(t for t, kind, _ in stub.events[mark:] if kind == "chat.update" and t >= clicked)
    return {"post": posted - start, "open": opened - start, "upgrade": upgraded - start,
            "answer": ended - clicked, "ack": acked - clicked, "update": updated - clicked,
            "wall": ended - start - CLICK_AFTER}


def one_plain(stub, argv, env):
    proc, _, start, posted = started(stub, argv, env)
    ended, _ = finished(proc, argv)
    return {"post": posted - start, "wall": ended - start}


def peak_rss_ask(stub, argv, env, runs=10):
    """Peak RSS of answered asks, from GNU time (see send_vs_curl.peak_rss_kib)."""
    peak = 0
    for _ in range(runs):
        timed = ["/usr/bin/time", "-f", "%M"] + argv
        proc, mark, _, _ = started(stub, timed, env)
        _, _, ts = stub.wait_for("posted", mark)
        time.sleep(CLICK_AFTER)
        stub.click(ts)
        out, err = proc.communicate(timeout=30)
        if proc.returncode != 0:
            raise SystemExit(f"chime ask exited {proc.returncode}: {err}")
        peak = max(peak, int(err.strip().splitlines()[-1]))
    return peak


def proc_sample(pid):
    """RSS and peak RSS (KiB), CPU from the scheduler (ns, every thread) and
    from /proc/PID/stat (clock ticks), context switches."""
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            status[name] = value.split()[0] if value.split() else ""
    runtime = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            runtime += int(f.read().split()[0])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return {"rss": int(status["VmRSS"]), "hwm": int(status["VmHWM"]), "ns": runtime, "ticks": ticks,
            "threads": int(status["Threads"]),
            "switches": int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])}


def waiting(stub, chime, env, wait):
    argv = [chime, "ask", "--to", "bot", "--timeout", f"{wait}s", "Deploy?"]
    timed = ["/usr/bin/time", "-f", "%M %U %S %e"] + argv
    proc, mark, start, _ = started(stub, timed, env)
    children = f"/proc/{proc.pid}/task/{proc.pid}/children"
    with open(children) as f:
        pid = int(f.read().split()[0])
    samples = {}
    for at in [2, wait / 2, wait - 2]:
        time.sleep(max(0.0, start + at - time.perf_counter()))
        samples[at] = proc_sample(pid)
        if at == wait / 2:
            stub.ping()
    _, err = proc.communicate(timeout=wait + 30)
    if proc.returncode != 124:
        raise SystemExit(f"the waiting ask exited {proc.returncode}, not 124: {err}")
    peak, user, system, elapsed = err.strip().splitlines()[-1].split()
    closed = [d for t, kind, d in stub.events[mark:] if kind == "chat.update"]
    kinds = [kind for _, kind, _ in stub.events[mark:]]
    return {"samples": samples, "peak": int(peak), "user": float(user), "system": float(system),
            "elapsed": float(elapsed), "replies": kinds.count("conversations.replies"),
            "pongs": kinds.count("pong"), "requests": sum(1 for k in kinds if "." in k),
            "closed": bool(closed) and "No answer" in json.dumps(closed[-1]), "events": kinds}


def probe_flood(stub, chime, env, n):
    """CPU and RSS of a waiting ask while `n` other envelopes are acknowledged."""
    argv = [chime, "ask", "--to", "bot", "--timeout", "600s", "Deploy?"]
    proc, mark, _, _ = started(stub, argv, env)
    time.sleep(0.5)
    before = proc_sample(proc.pid)
    start = time.perf_counter()
    stub.flood(n)
    while stub.count("ack", mark) < n and time.perf_counter() - start < 300:
        time.sleep(0.02)
    took = time.perf_counter() - start
    after = proc_sample(proc.pid)
    proc.terminate()
    proc.communicate(timeout=30)
    return {"acks": stub.count("ack", mark), "took": took, "cpu": (after["ns"] - before["ns"]) / 1e9,
            "rss": (before["rss"], after["rss"])}


def probe_hangup(stub, chime, env, seconds=5):
    """How many connections a waiting ask opens while each hangs up after hello."""
    argv = [chime, "ask", "--to", "bot", "--timeout", "600s", "Deploy?"]
    proc, _, _, _ = started(stub, argv, env)
    time.sleep(0.3)
    before = proc_sample(proc.pid)
    mark = len(stub.events)
    stub.close_after_hello = True
    stub.loop.call_soon_threadsafe(lambda: stub.sockets[-1].transport.close())
    time.sleep(seconds)
    after = proc_sample(proc.pid)
    stub.close_after_hello = False
    proc.terminate()
    proc.communicate(timeout=30)
    return {"opens": stub.count("apps.connections.open", mark), "seconds": seconds,
            "cpu": (after["ns"] - before["ns"]) / 1e9}


def ms(seconds):
    return f"{seconds * 1000:8.2f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--chime", default="target/release/chime")
    parser.add_argument("--wait", type=int, default=20, help="the waiting ask's --timeout, in seconds")
    parser.add_argument("--probes", action="store_true", help="also the envelope flood and the hang-up checks")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        stub = SlackStub()
        env = sandbox(home, stub.api_url())
        ask = [args.chime, "ask", "--to", "bot", "Deploy?"]
        send = [args.chime, "send", "--to", "bot", "Deploy?"]
        mark = len(stub.events)
        one_ask(stub, ask, env)
        question = next(d for _, kind, d in stub.events[mark:] if kind == "chat.postMessage")
        payload = os.path.join(home, "question.json")
        with open(payload, "w") as f:
            json.dump(question, f)
        curl = ["curl", "-sS", "-o", "/dev/null", "-H", "content-type: application/json; charset=utf-8",
                "-H", "authorization: Bearer xoxb-bench", "--data-binary", f"@{payload}",
                f"{stub.api_url()}/chat.postMessage"]
        commands = {"ask": (one_ask, ask), "send": (one_plain, send), "curl": (one_plain, curl)}
        for _ in range(3):  # warm the page cache and the stand-in
            for measure, argv in commands.values():
                measure(stub, argv, env)
        samples = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (measure, argv) in commands.items():
                samples[name].append(measure(stub, argv, env))
        rss = {"ask": peak_rss_ask(stub, ask, env), "send": peak_rss_kib(send, env, runs=10),
               "curl": peak_rss_kib(curl, env, runs=10)}
        wait = waiting(stub, args.chime, env, args.wait)
        floods = [probe_flood(stub, args.chime, env, n) for n in (10_000, 40_000)] if args.probes else []
        hangup = probe_hangup(stub, args.chime, env) if args.probes else None

    def median(name, key):
        return statistics.median(s[key] for s in samples[name])

    def p90(name, key):
        values = sorted(s[key] for s in samples[name])
        return values[int(len(values) * 0.9) - 1]

    print(f"{args.runs} runs each, interleaved, {os.cpu_count()} CPUs")
    print("1. post: start of the process → chat.postMessage at the stand-in (median, p90)")
    for name in commands:
        print(f"   {name:5} {ms(median(name, 'post'))}  p90 {ms(p90(name, 'post'))}   "
              f"whole run {ms(median(name, 'wall'))}   peak RSS {rss[name] / 1024:6.2f} MiB")
    print(f"   ask: apps.connections.open at {ms(median('ask', 'open'))}, WebSocket upgrade at "
          f"{ms(median('ask', 'upgrade'))}")
    print(f"   ratio ask/send (medians): {median('ask', 'post') / median('send', 'post'):.2f}; "
          f"ask/curl: {median('ask', 'post') / median('curl', 'post'):.2f}; "
          f"send/curl: {median('send', 'post') / median('curl', 'post'):.2f}")
    print("2. answer: click frame written → chime ask exited 0 with Approve (median, p90)")
    print(f"   exit {ms(median('ask', 'answer'))}  p90 {ms(p90('ask', 'answer'))}   "
          f"(ack at {ms(median('ask', 'ack'))}, chat.update at {ms(median('ask', 'update'))}; "
          f"max {ms(max(s['answer'] for s in samples['ask']))})")
    first, middle, last = sorted(wait["samples"])
    s2, s10, s18 = (wait["samples"][k] for k in (first, middle, last))
    print(f"3. waiting: one ask with --timeout {args.wait}s, no click")
    print(f"   exit 124 after {wait['elapsed']:.2f} s; question closed: {wait['closed']}")
    print(f"   CPU (GNU time): user {wait['user']:.2f} s, system {wait['system']:.2f} s; "
          f"scheduler, {first:g} s → {last:g} s: {(s18['ns'] - s2['ns']) / 1e6:.2f} ms "
          f"({s18['switches'] - s2['switches']} context switches, {s18['threads']} threads)")
    print(f"   RSS at {first:g} s {s2['rss'] / 1024:.2f} MiB, at {middle:g} s {s10['rss'] / 1024:.2f} MiB, "
          f"at {last:g} s {s18['rss'] / 1024:.2f} MiB; peak {wait['peak'] / 1024:.2f} MiB (GNU time), "
          f"VmHWM at {last:g} s {s18['hwm'] / 1024:.2f} MiB")
    print(f"   to the stand-in meanwhile: {wait['requests']} requests, {wait['replies']} conversations.replies; "
          f"ping at {middle:g} s answered: {wait['pongs'] > 0}")
    print(f"   events: {' '.join(wait['events'])}")
    for flood in floods:
        print(f"probe: {flood['acks']:,} other envelopes acknowledged in {flood['took']:.2f} s, "
              f"CPU {flood['cpu'] * 1000:.0f} ms, RSS {flood['rss'][0] / 1024:.2f} → {flood['rss'][1] / 1024:.2f} MiB")
    if hangup:
        print(f"probe: connections hanging up after hello: {hangup['opens']:,} apps.connections.open in "
              f"{hangup['seconds']} s, CPU {hangup['cpu'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
