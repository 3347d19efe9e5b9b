"""Fills a spool with many entries quickly, for benchmarks only.

One message is queued by chime itself (`chime send --queue`), so the entry has
chime's real format, payload and destination identity; it is then copied
under new ids (in arrival order, each with its own text and checksum) the way
chime names and writes entries. 50,000 entries take a few seconds this way,
where 50,000 sends take minutes.
"""

import glob
import json
import os
import subprocess
import zlib


def _encode(entry):
    body = json.dumps(entry, separators=(",", ":")).encode()
    return b"chime-spool 1 %08x %d\n" % (zlib.crc32(body), len(body)) + body


def fill(chime, env, count, next_attempt_ms=None):
    """Queues `count` entries for the profile's default route; returns the
    pending directory. `next_attempt_ms` (ms since the epoch) makes them not
    due before then, as a failing destination's backoff would."""
    queued = subprocess.run([chime, "send", "--queue", "-q", "template"], env=env,
                            stdin=subprocess.DEVNULL)
    if queued.returncode != 75:
        raise SystemExit(f"chime send --queue exited {queued.returncode}, not 75 (queued)")
    [path] = glob.glob(os.path.join(env["CHIME_STATE_DIR"], "**", "pending", "*", "*.msg"),
                       recursive=True)
    directory = os.path.dirname(path)
    with open(path, "rb") as f:
        template = json.loads(f.read().split(b"\n", 1)[1])
    os.remove(path)
    text = json.dumps(template["payloads"])
    created_ms = int(template["id"][:12], 16)
    for i in range(count):
        entry = dict(template)
        # Milliseconds, a process id, a counter: arrival order, as chime's.
        entry["id"] = f"{created_ms + i // 0x10000:012x}{0xbe0c:08x}{i % 0x10000:04x}"
        entry["payloads"] = json.loads(text.replace("template", f"spooled message {i}"))
        if next_attempt_ms is not None:
            entry["next_attempt"] = next_attempt_ms
        name = os.path.join(directory, entry["id"] + ".msg")
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(_encode(entry))
    os.sync()
    return directory
