
use builtin;
use str;

set edit:completion:arg-completer[chime] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'chime'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'chime'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand send 'Send a message to routes or destinations'
            cand ask 'Ask a question with buttons and wait for a person''s answer'
            cand pipe 'Stream stdin into a channel, lines packed into as few messages as allowed'
            cand run 'Run a command as cron would, and report how it went'
            cand flush 'Deliver what the spool holds'
            cand spool 'Look at and manage the spool of undelivered messages'
            cand config 'Create, locate, check or show the profile'
            cand test 'Send a short test message to each destination and show what happened'
            cand completions 'Print a shell completion script'
            cand manpage 'Print the man page (roff), as install.sh installs it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'chime;send'= {
            cand -r 'Route to send through (repeatable) [env: CHIME_ROUTE]'
            cand --route 'Route to send through (repeatable) [env: CHIME_ROUTE]'
            cand --to 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]'
            cand --kind 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]'
            cand --channel 'Channel, overriding the route''s and the destination''s'
            cand -t 'Title shown as the message header'
            cand --title 'Title shown as the message header'
            cand -l 'Level: sets the emoji, the colour and what rules match'
            cand --level 'Level: sets the emoji, the colour and what rules match'
            cand -f 'A field shown as a key/value pair, also a template variable (repeatable)'
            cand --field 'A field shown as a key/value pair, also a template variable (repeatable)'
            cand --event 'Send an event: NAME is the title and the `event` variable, -f its fields'
            cand --link 'A link shown as a button (repeatable)'
            cand --file 'Attach a file (repeatable; `-` reads it from stdin, the text then from TEXT); kinds that take no files get its name and size in the text'
            cand --file-name 'The name the channel shows for the file (repeatable: the first names the first --file, and so on)'
            cand --file-title 'A title shown with the file (repeatable, in --file order)'
            cand --file-url 'A file already online (repeatable): ntfy attaches it (Attach:), other kinds show a link to it'
            cand --template 'Template from the profile''s [templates] to render with'
            cand --var 'A template variable (repeatable)'
            cand --thread 'Reply in the thread of the first message sent with KEY (slack-api; google-chat by key); in CI, KEY defaults to the run, so every step of a run shares a thread'
            cand --update 'Edit the message last posted with KEY instead of posting (slack-api)'
            cand --at 'Send at TIME instead of now: 09:30 (today, or tomorrow once past), 2026-12-24 09:00 (local), or RFC 3339. slack-api and ntfy schedule it themselves; elsewhere it waits in the spool and goes with the first `chime flush` after TIME'
            cand --in 'Send after DURATION instead of now (e.g. 2h, 30m); as --at'
            cand --dedupe 'Post the first message with KEY once per window and count the repeats; the count goes when the window ends (the original edited where the platform edits)'
            cand --dedupe-window 'The window --dedupe counts repeats in [default: the route''s `dedupe`, else 1h]'
            cand --timeout 'Give up on a destination after this long, retries included (e.g. 5s, 1m) [env: CHIME_TIMEOUT]'
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand --code 'Show the text as a code block'
            cand --photo 'Send image files (JPEG, PNG, GIF, WebP) as pictures where the kind shows them inline (Telegram''s sendPhoto, up to 10 MB), not as documents'
            cand --json-input 'Read stdin as a JSON object whose keys become template variables'
            cand --dry-run 'Print the requests that would be sent (secrets redacted) and send nothing'
            cand --json 'Print one JSON object per destination on stdout'
            cand --broadcast 'Show a thread reply in the channel too'
            cand --resolve 'Resolve the alert KEY names on alerting kinds (pagerduty, opsgenie): the KEY of --dedupe, --thread or --update, as its trigger was sent with; other kinds post the message'
            cand --acknowledge 'Acknowledge the alert KEY names on alerting kinds (pagerduty, opsgenie): it stays open and pages no one further; as --resolve'
            cand --queue 'Write the message to the spool without trying to send it now (exit 0 once it is kept)'
            cand --no-spool 'Fail instead of keeping an undelivered message in the spool'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;ask'= {
            cand -r 'Route to send through (repeatable) [env: CHIME_ROUTE]'
            cand --route 'Route to send through (repeatable) [env: CHIME_ROUTE]'
            cand --to 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]'
            cand --kind 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]'
            cand --channel 'Channel, overriding the route''s and the destination''s'
            cand -t 'Title shown as the message header'
            cand --title 'Title shown as the message header'
            cand -l 'Level: sets the emoji, the colour and what rules match'
            cand --level 'Level: sets the emoji, the colour and what rules match'
            cand -f 'A field shown as a key/value pair (repeatable)'
            cand --field 'A field shown as a key/value pair (repeatable)'
            cand --link 'A link shown with the question (repeatable)'
            cand --option 'An answer to offer, as a button (repeatable, at most 5; ntfy shows 3) [default: Approve, Reject]'
            cand --approver 'Who may answer (repeatable): a Slack user ID (U…), @handle or user group (S…); a Telegram user ID or username'
            cand --timeout 'How long to wait for an answer (e.g. 30m, 2h) [default: 30m]'
            cand --thread 'Ask in the thread of the first message sent with KEY; in CI, KEY defaults to the run'
            cand --request-timeout 'The time one request may take, not the wait (e.g. 10s) [env: CHIME_TIMEOUT]'
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand --json 'Print the answer as JSON: the option, who chose it and when, where the question is'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;pipe'= {
            cand -r 'Route to send through (repeatable) [env: CHIME_ROUTE]'
            cand --route 'Route to send through (repeatable) [env: CHIME_ROUTE]'
            cand --to 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]'
            cand --kind 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]'
            cand --channel 'Channel, overriding the route''s and the destination''s'
            cand -t 'Title of every message'
            cand --title 'Title of every message'
            cand -l 'Level of every message (raised by --level-from-line)'
            cand --level 'Level of every message (raised by --level-from-line)'
            cand --interval 'Send a batch this long after its first line'
            cand --grep 'Send only lines matching this regular expression (all still go to --tee)'
            cand --file-over 'A batch whose text is over SIZE goes as one file, with a message naming its lines, to kinds that take files (e.g. 100KiB); others get it as messages'
            cand --max-pending 'Batches kept in memory before the rest go to the spool (e.g. 64MiB)'
            cand --timeout 'Give up on one batch after this long, retries included [env: CHIME_TIMEOUT]'
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand --no-code 'Plain text instead of a code block'
            cand --tee 'Copy stdin to stdout unchanged'
            cand --level-from-line 'Raise a message''s level when a line looks like an error or a warning'
            cand --dry-run 'Print each batch''s requests as it closes (secrets redacted): send, spool and journal nothing'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;run'= {
            cand -r 'Route to send through (repeatable) [env: CHIME_ROUTE]'
            cand --route 'Route to send through (repeatable) [env: CHIME_ROUTE]'
            cand --to 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]'
            cand --kind 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]'
            cand --channel 'Channel, overriding the route''s and the destination''s'
            cand --on 'When to report'
            cand --tail 'Lines of output to keep for the report'
            cand --name 'The job''s name in the report and for --on change [default: the command line]'
            cand --timeout 'Stop the command and all it started after this long (TERM, then KILL 5 s later)'
            cand --dedupe 'Post a report once per window and count the repeats (a job failing every minute makes one message and a count); KEY defaults to the job''s name'
            cand --dedupe-window 'The window --dedupe counts repeats in [default: the route''s `dedupe`, else 1h]'
            cand --ping 'Ping a dead-man''s switch (the healthchecks.io protocol) each run, whatever --on says: URL/start as the command starts, URL or URL/<exit code> as it ends, with the tail; a ping URL or a healthchecks destination (repeatable; a route''s `ping` too)'
            cand --attach-max 'The most output --attach-output sends: the first and last halves of it, with a line where the middle was cut'
            cand --template 'Template from the profile''s [templates] (variables: name, cmd, exit_code, signal, duration, started, tail, ok)'
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand --attach-output 'Send the job''s whole output with the report, as a file (NAME-START.log), kept on disk while the job runs'
            cand --dry-run 'Run the command, then print the report''s requests (secrets redacted): send nothing, spool nothing, and leave the --on change record alone'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;flush'= {
            cand --dest 'Only this destination (repeatable)'
            cand --wait 'Keep going until the spool is empty or this long has passed'
            cand --timeout 'Per-destination timeout for each entry [env: CHIME_TIMEOUT]'
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand --all 'Try every pending entry now, ignoring next-attempt times'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;spool'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List entries, oldest first'
            cand show 'Show one entry, payloads included'
            cand drop 'Delete entries for good, pending or dead-letter'
            cand retry 'Move dead-letter entries back to pending, due now'
            cand purge 'Delete every pending (or, with --dead, every dead-letter) entry'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'chime;spool;list'= {
            cand --dest 'Only this destination (repeatable)'
            cand --limit 'At most N entries, the oldest; how many more there are goes to stderr'
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand --dead 'The dead-letter entries instead of the pending ones'
            cand --json 'A JSON array, one object per entry (per destination with --summary)'
            cand --summary 'One line per destination instead of one per entry: how many are pending, in flight and dead, how old the oldest is, when it is next tried'
            cand --quarantined 'The damaged files reads moved aside (the spool''s corrupt/ folder), never sent: path, size and when they were moved'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;spool;show'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;spool;drop'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;spool;retry'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand --all 'Every dead-letter entry'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;spool;purge'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand --dead 'dead'
            cand --yes 'Do not ask (required when stdin is not a terminal)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;spool;help'= {
            cand list 'List entries, oldest first'
            cand show 'Show one entry, payloads included'
            cand drop 'Delete entries for good, pending or dead-letter'
            cand retry 'Move dead-letter entries back to pending, due now'
            cand purge 'Delete every pending (or, with --dead, every dead-letter) entry'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'chime;spool;help;list'= {
        }
        &'chime;spool;help;show'= {
        }
        &'chime;spool;help;drop'= {
        }
        &'chime;spool;help;retry'= {
        }
        &'chime;spool;help;purge'= {
        }
        &'chime;spool;help;help'= {
        }
        &'chime;config'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand init 'Write a commented starter profile (0600) where chime looks for it'
            cand path 'Print the path of the profile chime would use (-v: how it was chosen)'
            cand check 'Check the profile, its templates and rules; report every problem (exit 78 on any)'
            cand show 'Print the profile as chime resolved it, secrets redacted'
            cand names 'List the routes, destinations or templates the profile defines, or the ids in its spool, one a line'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'chime;config;init'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand --force 'Replace an existing profile'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;config;path'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;config;check'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;config;show'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;config;names'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;config;help'= {
            cand init 'Write a commented starter profile (0600) where chime looks for it'
            cand path 'Print the path of the profile chime would use (-v: how it was chosen)'
            cand check 'Check the profile, its templates and rules; report every problem (exit 78 on any)'
            cand show 'Print the profile as chime resolved it, secrets redacted'
            cand names 'List the routes, destinations or templates the profile defines, or the ids in its spool, one a line'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'chime;config;help;init'= {
        }
        &'chime;config;help;path'= {
        }
        &'chime;config;help;check'= {
        }
        &'chime;config;help;show'= {
        }
        &'chime;config;help;names'= {
        }
        &'chime;config;help;help'= {
        }
        &'chime;test'= {
            cand --to 'Test a webhook URL instead of the profile''s destinations [env: CHIME_URL]'
            cand --kind 'The kind of the URL when its host does not tell it [env: CHIME_KIND]'
            cand --timeout 'Give up on a destination after this long [env: CHIME_TIMEOUT]'
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand --json 'One JSON object per destination on stdout, as `chime send --json`, instead of the table'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;completions'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;manpage'= {
            cand --config 'Profile file to read [env: CHIME_CONFIG]'
            cand --profile 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Log each request (secrets redacted) on stderr'
            cand --verbose 'Log each request (secrets redacted) on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'chime;help'= {
            cand send 'Send a message to routes or destinations'
            cand ask 'Ask a question with buttons and wait for a person''s answer'
            cand pipe 'Stream stdin into a channel, lines packed into as few messages as allowed'
            cand run 'Run a command as cron would, and report how it went'
            cand flush 'Deliver what the spool holds'
            cand spool 'Look at and manage the spool of undelivered messages'
            cand config 'Create, locate, check or show the profile'
            cand test 'Send a short test message to each destination and show what happened'
            cand completions 'Print a shell completion script'
            cand manpage 'Print the man page (roff), as install.sh installs it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'chime;help;send'= {
        }
        &'chime;help;ask'= {
        }
        &'chime;help;pipe'= {
        }
        &'chime;help;run'= {
        }
        &'chime;help;flush'= {
        }
        &'chime;help;spool'= {
            cand list 'List entries, oldest first'
            cand show 'Show one entry, payloads included'
            cand drop 'Delete entries for good, pending or dead-letter'
            cand retry 'Move dead-letter entries back to pending, due now'
            cand purge 'Delete every pending (or, with --dead, every dead-letter) entry'
        }
        &'chime;help;spool;list'= {
        }
        &'chime;help;spool;show'= {
        }
        &'chime;help;spool;drop'= {
        }
        &'chime;help;spool;retry'= {
        }
        &'chime;help;spool;purge'= {
        }
        &'chime;help;config'= {
            cand init 'Write a commented starter profile (0600) where chime looks for it'
            cand path 'Print the path of the profile chime would use (-v: how it was chosen)'
            cand check 'Check the profile, its templates and rules; report every problem (exit 78 on any)'
            cand show 'Print the profile as chime resolved it, secrets redacted'
            cand names 'List the routes, destinations or templates the profile defines, or the ids in its spool, one a line'
        }
        &'chime;help;config;init'= {
        }
        &'chime;help;config;path'= {
        }
        &'chime;help;config;check'= {
        }
        &'chime;help;config;show'= {
        }
        &'chime;help;config;names'= {
        }
        &'chime;help;test'= {
        }
        &'chime;help;completions'= {
        }
        &'chime;help;manpage'= {
        }
        &'chime;help;help'= {
        }
    ]
    $completions[$command]
}
