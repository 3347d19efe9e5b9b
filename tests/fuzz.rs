//! A fuzz-style run of the profile and template path: a valid profile is
//! mutated a few thousand times from a fixed seed (bytes flipped, inserted and
//! deleted, lines doubled and swapped, hostile values dropped in: huge numbers,
//! deep nesting, invalid UTF-8, `"""` strings, `{ file = … }` of a device or a
//! FIFO, runaway loops), and each mutant goes to the real binary: `config
//! check`, then `send --dry-run` (every destination is on loopback, and a dry
//! run sends nothing anyway). Whatever it is given, chime must exit with one of
//! its own codes (no panic, no abort), within five seconds, and never print a
//! secret planted in the profile, its environment or its secret file.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{Sandbox, run_or_kill};

/// Fixed, so a failure is the same failure on every machine. To look
/// further, set FUZZ_SEED and FUZZ_CASES (say, 20000) in the environment.
const SEED: u64 = 0x5eed_c41e_2024_0001;
const CASES: usize = 1500;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
/// Two cores are shared with other work: a few runs at a time is enough.
const THREADS: usize = 3;
const LIMIT: Duration = Duration::from_secs(5);

/// Secrets as the profile holds them; each must never be printed.
const URL_SECRET: &str = "PlAnTeDuRl0x1234abcd";
const TOKEN: &str = "xoxb-1111-PlAnTeDtOkEn9z8y7x";
const PASSWORD: &str = "PlAnTeDpAsS5w0rd8q7";
const HEADER: &str = "PlAnTeDhEaDeR3k4y5z";
const SIGNING: &str = "PlAnTeDsIgNiNg6h5g4";
/// Secrets the profile names: `${CHIME_FUZZ_SECRET}`, `{ env = … }`, a file.
const ENV_SECRET: &str = "PlAnTeDeNv7v6u5t4s";
const ENV_TOKEN: &str = "PlAnTeDeNvToKeN1a2b";
const FILE_SECRET: &str = "PlAnTeDfIlE4c3d2e1";
const SECRETS: &[&str] = &[
    URL_SECRET,
    TOKEN,
    PASSWORD,
    HEADER,
    SIGNING,
    ENV_SECRET,
    ENV_TOKEN,
    FILE_SECRET,
];

/// The valid profile every mutant starts from; `@DIR@` is the sandbox.
const PROFILE: &str = r##"# A profile with a destination of each shape of secret.
[defaults]
route = "all"
timeout = "2s"

[destinations.hook]
kind = "slack"
url = "http://127.0.0.1:9/services/T0/B0/PlAnTeDuRl0x1234abcd"

[destinations.bot]
kind = "slack-api"
token = "xoxb-1111-PlAnTeDtOkEn9z8y7x"
channel = "#ops"
api_url = "http://127.0.0.1:9/api"

[destinations.push]
kind = "ntfy"
url = "http://127.0.0.1:9/alerts"
user = "me"
password = "PlAnTeDpAsS5w0rd8q7"

[destinations.file]
kind = "discord"
url = { file = "@DIR@/secret" }

[destinations.env]
kind = "mattermost"
url = { env = "CHIME_FUZZ_URL" }

[destinations.shaped]
kind = "webhook"
url = "http://127.0.0.1:9/hook/${CHIME_FUZZ_SECRET}"
secret = "PlAnTeDsIgNiNg6h5g4"
headers = { X-Api-Key = "PlAnTeDhEaDeR3k4y5z", Authorization = { env = "CHIME_FUZZ_TOKEN" } }
body = '''
{"key": "${CHIME_FUZZ_SECRET}", "text": {{ text }},
 "level": {{ level }}, "fields": {{ fields }}}
'''
max_bytes = 4000

[routes.all]
to = ["hook", "bot", "push", "file", "env", "shaped"]
template = "t"

[[rules]]
when = "level in ['error', 'critical'] and 'disk' in text"
route = "all"

[templates.t]
title = "{{ level | upper }} on {{ host }}"
text = """
{% for f in fields %}{{ f }} {% endfor %}
{{ text }} ({{ level }})
"""
"##;

/// Hostile things to drop in; `@DIR@` and `@FIFO@` are the sandbox's.
const TOKENS: &[&str] = &[
    "\"\"\"",
    "'''",
    "\"",
    "'",
    "\n",
    "=",
    "[",
    "]",
    "{",
    "}",
    "#",
    "\\",
    "\\u{0}",
    "$",
    "${",
    "$$",
    // Not the secret's name: `channel = "${X}"` rightly shows X's value, so
    // only the places the base profile gives secrets hold them.
    "${CHIME_FUZZ_PLAIN}",
    "${UNSET_VARIABLE}",
    "99999999999999999999999999",
    "-9223372036854775808",
    "1e400",
    "nan",
    "\"500000000000y\"",
    "{ file = \"/dev/zero\" }",
    "{ file = \"/dev/urandom\" }",
    "{ file = \"@FIFO@\" }",
    "{ file = \"@DIR@\" }",
    "{ env = \"CHIME_FUZZ_TOKEN\" }",
    "{ env = \"UNSET_VARIABLE\" }",
    "[destinations.x]\nkind = \"webhook\"\n",
    "[[rules]]\nwhen = \"true\"\nroute = \"all\"\n",
    "[templates.u]\ntext = \"{{ text }}\"\n",
    "[spool]\nmax_attempts = 4294967296\n",
    "{{",
    "}}",
    "{%",
    "%}",
    "{{ text | safe }}",
    "{% raw %}",
    "{{ ((((((((((((((((((((1)))))))))))))))))))) }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "{{ 'x' * 100000000 }}",
];

/// Splitmix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Where in `profile` a mutation lands: anywhere, or (for half the cases)
/// within the text template, so templates get their share of damage.
fn position(rng: &mut Rng, profile: &[u8], in_template: bool) -> usize {
    let template = PROFILE.rfind("text = \"\"\"").unwrap_or(0);
    match in_template && template < profile.len() {
        true => template + rng.below(profile.len() - template + 1),
        false => rng.below(profile.len() + 1),
    }
}

fn mutate(rng: &mut Rng, profile: &mut Vec<u8>, dir: &Path, in_template: bool) {
    let at = position(rng, profile, in_template).min(profile.len());
    match rng.below(9) {
        0 if at < profile.len() => profile[at] ^= 1 << rng.below(8),
        1 => profile.insert(at, b"\0\x01\x7f\"'{}[]=#\\$\n\r\xff\xfe\xc3"[rng.below(16)]),
        2 => {
            let end = (at + 1 + rng.below(16)).min(profile.len());
            profile.drain(at..end);
        }
        3 => {
            let lines: Vec<&[u8]> = profile.split(|b| *b == b'\n').collect();
            let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
            let mut lines: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
            match rng.below(2) {
                0 => lines.swap(a, b),
                _ => lines.insert(a, lines[b].clone()),
            }
            *profile = lines.join(&b'\n');
        }
        4 => {
            let nest = ["[", "{a = ", "{{ (", "{% if 1 %}"][rng.below(4)];
            let deep = nest.repeat(1 + rng.below(3000));
            drop(profile.splice(at..at, deep.into_bytes()));
        }
        5 => drop(profile.splice(at..at, *b"\xed\xa0\x80\xc0\xaf")),
        _ => {
            let token = TOKENS[rng.below(TOKENS.len())]
                .replace("@FIFO@", &dir.join("fifo").display().to_string())
                .replace("@DIR@", &dir.display().to_string());
            drop(profile.splice(at..at, token.into_bytes()));
        }
    }
}

/// The keys that hold secrets; a `headers` table's values all do.
const SECRET_KEYS: &[&str] = &["url", "token", "password", "secret", "headers"];

/// The planted secrets a mutant itself puts where chime may rightly show
/// them: moved by the mutation into a template's text, a `channel`, or any
/// other field that is not a secret (directly, or as the `${NAME}` or file
/// that holds them; but a `${NAME}` in a webhook's `body` stays a secret).
/// A run's stdout may show those; its stderr never may.
fn placed_in_the_open(profile: &[u8]) -> Vec<&'static str> {
    fn open_strings(value: &toml::Value, key: &str, out: &mut Vec<(String, String)>) {
        match value {
            _ if SECRET_KEYS.contains(&key) => {}
            toml::Value::String(s) => out.push((key.to_owned(), s.clone())),
            toml::Value::Table(t) => t.iter().for_each(|(k, v)| open_strings(v, k, out)),
            toml::Value::Array(a) => a.iter().for_each(|v| open_strings(v, key, out)),
            _ => {}
        }
    }
    let Some(table) = std::str::from_utf8(profile)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
    else {
        return Vec::new();
    };
    let mut strings = Vec::new();
    open_strings(&toml::Value::Table(table), "", &mut strings);
    let holders = [
        (ENV_SECRET, "${CHIME_FUZZ_SECRET}"),
        (ENV_TOKEN, "CHIME_FUZZ_TOKEN"),
        (FILE_SECRET, "/secret"),
    ];
    SECRETS
        .iter()
        .copied()
        .filter(|secret| {
            let holder = holders.iter().find(|(s, _)| s == secret).map(|(_, h)| *h);
            strings.iter().any(|(key, s)| {
                let held = holder.is_some_and(|holder| s.contains(holder)) && key != "body";
                s.contains(secret) || held
            })
        })
        .collect()
}

/// What went wrong with one run of `profile`, if anything.
fn judge(result: Result<crate::support::Run, String>, profile: &[u8]) -> Option<String> {
    let run = match result {
        Ok(run) => run,
        Err(command) => return Some(format!("ran over {LIMIT:?}: {command}")),
    };
    if ![0, 2, 78].contains(&run.code) {
        return Some(format!("unexpected exit code\n{run}"));
    }
    if run.stderr.contains("panicked") || run.stderr.contains("internal error") {
        return Some(format!("panicked\n{run}"));
    }
    let in_the_open = placed_in_the_open(profile);
    SECRETS
        .iter()
        .find(|secret| {
            let on_stdout = run.stdout.contains(**secret) && !in_the_open.contains(secret);
            on_stdout || run.stderr.contains(**secret)
        })
        .map(|secret| format!("printed the secret {secret}\n{run}"))
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> std::process::Command {
    let mut cmd = sandbox.chime(args);
    cmd.env("CHIME_FUZZ_SECRET", ENV_SECRET)
        .env("CHIME_FUZZ_PLAIN", "plain-value")
        .env("CHIME_FUZZ_TOKEN", ENV_TOKEN)
        .env(
            "CHIME_FUZZ_URL",
            format!("http://127.0.0.1:9/hooks/{ENV_TOKEN}"),
        );
    cmd
}

/// A sandbox with the secret file and the FIFO the profile and tokens name.
fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    let dir = sandbox.path();
    std::fs::write(
        dir.join("secret"),
        format!("http://127.0.0.1:9/{FILE_SECRET}\n"),
    )
    .unwrap();
    let fifo = std::ffi::CString::new(dir.join("fifo").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo touches nothing else.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    sandbox
}

fn dry_run(sandbox: &Sandbox) -> std::process::Command {
    let text = "disk ${CHIME_FUZZ_SECRET}";
    chime(
        sandbox,
        &["send", "--dry-run", "-l", "error", "-f", "disk=full", text],
    )
}

#[test]
fn the_profile_the_fuzzing_starts_from_is_valid_and_shows_no_secret() {
    let sandbox = sandbox();
    let dir = sandbox.path().display().to_string();
    sandbox.profile(&PROFILE.replace("@DIR@", &dir));
    for cmd in [chime(&sandbox, &["config", "check"]), dry_run(&sandbox)] {
        let run = run_or_kill(cmd, LIMIT).expect("a valid profile runs at once");
        let run = run.code(0);
        assert_eq!(judge(Ok(run), PROFILE.as_bytes()), None);
    }
}

/// Runs the cases `first`, `first + THREADS`, … in one sandbox.
fn worker(first: usize, cases: usize, ran: &AtomicUsize, failures: &Mutex<Vec<String>>) {
    let sandbox = sandbox();
    let dir = sandbox.path();
    let base = PROFILE.replace("@DIR@", &dir.display().to_string());
    let seed = setting("FUZZ_SEED", SEED);
    for case in (first..cases).step_by(THREADS) {
        let mut rng = Rng(seed ^ (case as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut profile = base.clone().into_bytes();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut profile, dir, case % 2 == 1);
        }
        std::fs::create_dir_all(sandbox.profile_path().parent().unwrap()).unwrap();
        std::fs::write(sandbox.profile_path(), &profile).unwrap();
        let runs = [chime(&sandbox, &["config", "check"]), dry_run(&sandbox)];
        for cmd in runs {
            ran.fetch_add(1, Ordering::Relaxed);
            if let Some(why) = judge(run_or_kill(cmd, LIMIT), &profile) {
                let shown = String::from_utf8_lossy(&profile);
                let mut failures = failures.lock().unwrap();
                failures.push(format!("case {case}: {why}\n--- profile ---\n{shown}"));
            }
        }
    }
}

#[test]
fn no_mutated_profile_or_template_panics_hangs_or_prints_a_secret() {
    let cases = setting("FUZZ_CASES", CASES as u64) as usize;
    let ran = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for first in 0..THREADS {
            let (ran, failures) = (&ran, &failures);
            scope.spawn(move || worker(first, cases, ran, failures));
        }
    });
    let failures = failures.into_inner().unwrap();
    let ran = ran.into_inner();
    println!("fuzz: {cases} mutated profiles, {ran} runs of chime");
    assert_eq!(ran, cases * 2, "every case ran both commands");
    let headlines: Vec<&str> = failures.iter().filter_map(|f| f.lines().next()).collect();
    assert!(
        failures.is_empty(),
        "{} of {ran} runs failed:\n{}\n\nthe first in full:\n\n{}",
        failures.len(),
        headlines.join("\n"),
        failures
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
