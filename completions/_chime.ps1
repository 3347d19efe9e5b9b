
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'chime' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'chime'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'chime' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send a message to routes or destinations')
            [CompletionResult]::new('ask', 'ask', [CompletionResultType]::ParameterValue, 'Ask a question with buttons and wait for a person''s answer')
            [CompletionResult]::new('pipe', 'pipe', [CompletionResultType]::ParameterValue, 'Stream stdin into a channel, lines packed into as few messages as allowed')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a command as cron would, and report how it went')
            [CompletionResult]::new('flush', 'flush', [CompletionResultType]::ParameterValue, 'Deliver what the spool holds')
            [CompletionResult]::new('spool', 'spool', [CompletionResultType]::ParameterValue, 'Look at and manage the spool of undelivered messages')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Create, locate, check or show the profile')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send a short test message to each destination and show what happened')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('manpage', 'manpage', [CompletionResultType]::ParameterValue, 'Print the man page (roff), as install.sh installs it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chime;send' {
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Route to send through (repeatable) [env: CHIME_ROUTE]')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'Route to send through (repeatable) [env: CHIME_ROUTE]')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]')
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]')
            [CompletionResult]::new('--channel', '--channel', [CompletionResultType]::ParameterName, 'Channel, overriding the route''s and the destination''s')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Title shown as the message header')
            [CompletionResult]::new('--title', '--title', [CompletionResultType]::ParameterName, 'Title shown as the message header')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Level: sets the emoji, the colour and what rules match')
            [CompletionResult]::new('--level', '--level', [CompletionResultType]::ParameterName, 'Level: sets the emoji, the colour and what rules match')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'A field shown as a key/value pair, also a template variable (repeatable)')
            [CompletionResult]::new('--field', '--field', [CompletionResultType]::ParameterName, 'A field shown as a key/value pair, also a template variable (repeatable)')
            [CompletionResult]::new('--event', '--event', [CompletionResultType]::ParameterName, 'Send an event: NAME is the title and the `event` variable, -f its fields')
            [CompletionResult]::new('--link', '--link', [CompletionResultType]::ParameterName, 'A link shown as a button (repeatable)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Attach a file (repeatable; `-` reads it from stdin, the text then from TEXT); kinds that take no files get its name and size in the text')
            [CompletionResult]::new('--file-name', '--file-name', [CompletionResultType]::ParameterName, 'The name the channel shows for the file (repeatable: the first names the first --file, and so on)')
            [CompletionResult]::new('--file-title', '--file-title', [CompletionResultType]::ParameterName, 'A title shown with the file (repeatable, in --file order)')
            [CompletionResult]::new('--file-url', '--file-url', [CompletionResultType]::ParameterName, 'A file already online (repeatable): ntfy attaches it (Attach:), other kinds show a link to it')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Template from the profile''s [templates] to render with')
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'A template variable (repeatable)')
            [CompletionResult]::new('--thread', '--thread', [CompletionResultType]::ParameterName, 'Reply in the thread of the first message sent with KEY (slack-api; google-chat by key); in CI, KEY defaults to the run, so every step of a run shares a thread')
            [CompletionResult]::new('--update', '--update', [CompletionResultType]::ParameterName, 'Edit the message last posted with KEY instead of posting (slack-api)')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'Send at TIME instead of now: 09:30 (today, or tomorrow once past), 2026-12-24 09:00 (local), or RFC 3339. slack-api and ntfy schedule it themselves; elsewhere it waits in the spool and goes with the first `chime flush` after TIME')
            [CompletionResult]::new('--in', '--in', [CompletionResultType]::ParameterName, 'Send after DURATION instead of now (e.g. 2h, 30m); as --at')
            [CompletionResult]::new('--dedupe', '--dedupe', [CompletionResultType]::ParameterName, 'Post the first message with KEY once per window and count the repeats; the count goes when the window ends (the original edited where the platform edits)')
            [CompletionResult]::new('--dedupe-window', '--dedupe-window', [CompletionResultType]::ParameterName, 'The window --dedupe counts repeats in [default: the route''s `dedupe`, else 1h]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up on a destination after this long, retries included (e.g. 5s, 1m) [env: CHIME_TIMEOUT]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('--code', '--code', [CompletionResultType]::ParameterName, 'Show the text as a code block')
            [CompletionResult]::new('--photo', '--photo', [CompletionResultType]::ParameterName, 'Send image files (JPEG, PNG, GIF, WebP) as pictures where the kind shows them inline (Telegram''s sendPhoto, up to 10 MB), not as documents')
            [CompletionResult]::new('--json-input', '--json-input', [CompletionResultType]::ParameterName, 'Read stdin as a JSON object whose keys become template variables')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the requests that would be sent (secrets redacted) and send nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object per destination on stdout')
            [CompletionResult]::new('--broadcast', '--broadcast', [CompletionResultType]::ParameterName, 'Show a thread reply in the channel too')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Resolve the alert KEY names on alerting kinds (pagerduty, opsgenie): the KEY of --dedupe, --thread or --update, as its trigger was sent with; other kinds post the message')
            [CompletionResult]::new('--acknowledge', '--acknowledge', [CompletionResultType]::ParameterName, 'Acknowledge the alert KEY names on alerting kinds (pagerduty, opsgenie): it stays open and pages no one further; as --resolve')
            [CompletionResult]::new('--queue', '--queue', [CompletionResultType]::ParameterName, 'Write the message to the spool without trying to send it now (exit 0 once it is kept)')
            [CompletionResult]::new('--no-spool', '--no-spool', [CompletionResultType]::ParameterName, 'Fail instead of keeping an undelivered message in the spool')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;ask' {
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Route to send through (repeatable) [env: CHIME_ROUTE]')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'Route to send through (repeatable) [env: CHIME_ROUTE]')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]')
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]')
            [CompletionResult]::new('--channel', '--channel', [CompletionResultType]::ParameterName, 'Channel, overriding the route''s and the destination''s')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Title shown as the message header')
            [CompletionResult]::new('--title', '--title', [CompletionResultType]::ParameterName, 'Title shown as the message header')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Level: sets the emoji, the colour and what rules match')
            [CompletionResult]::new('--level', '--level', [CompletionResultType]::ParameterName, 'Level: sets the emoji, the colour and what rules match')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'A field shown as a key/value pair (repeatable)')
            [CompletionResult]::new('--field', '--field', [CompletionResultType]::ParameterName, 'A field shown as a key/value pair (repeatable)')
            [CompletionResult]::new('--link', '--link', [CompletionResultType]::ParameterName, 'A link shown with the question (repeatable)')
            [CompletionResult]::new('--option', '--option', [CompletionResultType]::ParameterName, 'An answer to offer, as a button (repeatable, at most 5; ntfy shows 3) [default: Approve, Reject]')
            [CompletionResult]::new('--approver', '--approver', [CompletionResultType]::ParameterName, 'Who may answer (repeatable): a Slack user ID (U…), @handle or user group (S…); a Telegram user ID or username')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for an answer (e.g. 30m, 2h) [default: 30m]')
            [CompletionResult]::new('--thread', '--thread', [CompletionResultType]::ParameterName, 'Ask in the thread of the first message sent with KEY; in CI, KEY defaults to the run')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'The time one request may take, not the wait (e.g. 10s) [env: CHIME_TIMEOUT]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the answer as JSON: the option, who chose it and when, where the question is')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;pipe' {
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Route to send through (repeatable) [env: CHIME_ROUTE]')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'Route to send through (repeatable) [env: CHIME_ROUTE]')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]')
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]')
            [CompletionResult]::new('--channel', '--channel', [CompletionResultType]::ParameterName, 'Channel, overriding the route''s and the destination''s')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Title of every message')
            [CompletionResult]::new('--title', '--title', [CompletionResultType]::ParameterName, 'Title of every message')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Level of every message (raised by --level-from-line)')
            [CompletionResult]::new('--level', '--level', [CompletionResultType]::ParameterName, 'Level of every message (raised by --level-from-line)')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Send a batch this long after its first line')
            [CompletionResult]::new('--grep', '--grep', [CompletionResultType]::ParameterName, 'Send only lines matching this regular expression (all still go to --tee)')
            [CompletionResult]::new('--file-over', '--file-over', [CompletionResultType]::ParameterName, 'A batch whose text is over SIZE goes as one file, with a message naming its lines, to kinds that take files (e.g. 100KiB); others get it as messages')
            [CompletionResult]::new('--max-pending', '--max-pending', [CompletionResultType]::ParameterName, 'Batches kept in memory before the rest go to the spool (e.g. 64MiB)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up on one batch after this long, retries included [env: CHIME_TIMEOUT]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('--no-code', '--no-code', [CompletionResultType]::ParameterName, 'Plain text instead of a code block')
            [CompletionResult]::new('--tee', '--tee', [CompletionResultType]::ParameterName, 'Copy stdin to stdout unchanged')
            [CompletionResult]::new('--level-from-line', '--level-from-line', [CompletionResultType]::ParameterName, 'Raise a message''s level when a line looks like an error or a warning')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print each batch''s requests as it closes (secrets redacted): send, spool and journal nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;run' {
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Route to send through (repeatable) [env: CHIME_ROUTE]')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'Route to send through (repeatable) [env: CHIME_ROUTE]')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]')
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]')
            [CompletionResult]::new('--channel', '--channel', [CompletionResultType]::ParameterName, 'Channel, overriding the route''s and the destination''s')
            [CompletionResult]::new('--on', '--on', [CompletionResultType]::ParameterName, 'When to report')
            [CompletionResult]::new('--tail', '--tail', [CompletionResultType]::ParameterName, 'Lines of output to keep for the report')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The job''s name in the report and for --on change [default: the command line]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Stop the command and all it started after this long (TERM, then KILL 5 s later)')
            [CompletionResult]::new('--dedupe', '--dedupe', [CompletionResultType]::ParameterName, 'Post a report once per window and count the repeats (a job failing every minute makes one message and a count); KEY defaults to the job''s name')
            [CompletionResult]::new('--dedupe-window', '--dedupe-window', [CompletionResultType]::ParameterName, 'The window --dedupe counts repeats in [default: the route''s `dedupe`, else 1h]')
            [CompletionResult]::new('--ping', '--ping', [CompletionResultType]::ParameterName, 'Ping a dead-man''s switch (the healthchecks.io protocol) each run, whatever --on says: URL/start as the command starts, URL or URL/<exit code> as it ends, with the tail; a ping URL or a healthchecks destination (repeatable; a route''s `ping` too)')
            [CompletionResult]::new('--attach-max', '--attach-max', [CompletionResultType]::ParameterName, 'The most output --attach-output sends: the first and last halves of it, with a line where the middle was cut')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Template from the profile''s [templates] (variables: name, cmd, exit_code, signal, duration, started, tail, ok)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('--attach-output', '--attach-output', [CompletionResultType]::ParameterName, 'Send the job''s whole output with the report, as a file (NAME-START.log), kept on disk while the job runs')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Run the command, then print the report''s requests (secrets redacted): send nothing, spool nothing, and leave the --on change record alone')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;flush' {
            [CompletionResult]::new('--dest', '--dest', [CompletionResultType]::ParameterName, 'Only this destination (repeatable)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Keep going until the spool is empty or this long has passed')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-destination timeout for each entry [env: CHIME_TIMEOUT]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Try every pending entry now, ignoring next-attempt times')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;spool' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List entries, oldest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one entry, payloads included')
            [CompletionResult]::new('drop', 'drop', [CompletionResultType]::ParameterValue, 'Delete entries for good, pending or dead-letter')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Move dead-letter entries back to pending, due now')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Delete every pending (or, with --dead, every dead-letter) entry')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chime;spool;list' {
            [CompletionResult]::new('--dest', '--dest', [CompletionResultType]::ParameterName, 'Only this destination (repeatable)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most N entries, the oldest; how many more there are goes to stderr')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('--dead', '--dead', [CompletionResultType]::ParameterName, 'The dead-letter entries instead of the pending ones')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'A JSON array, one object per entry (per destination with --summary)')
            [CompletionResult]::new('--summary', '--summary', [CompletionResultType]::ParameterName, 'One line per destination instead of one per entry: how many are pending, in flight and dead, how old the oldest is, when it is next tried')
            [CompletionResult]::new('--quarantined', '--quarantined', [CompletionResultType]::ParameterName, 'The damaged files reads moved aside (the spool''s corrupt/ folder), never sent: path, size and when they were moved')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;spool;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;spool;drop' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;spool;retry' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every dead-letter entry')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;spool;purge' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('--dead', '--dead', [CompletionResultType]::ParameterName, 'dead')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask (required when stdin is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;spool;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List entries, oldest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one entry, payloads included')
            [CompletionResult]::new('drop', 'drop', [CompletionResultType]::ParameterValue, 'Delete entries for good, pending or dead-letter')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Move dead-letter entries back to pending, due now')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Delete every pending (or, with --dead, every dead-letter) entry')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chime;spool;help;list' {
            break
        }
        'chime;spool;help;show' {
            break
        }
        'chime;spool;help;drop' {
            break
        }
        'chime;spool;help;retry' {
            break
        }
        'chime;spool;help;purge' {
            break
        }
        'chime;spool;help;help' {
            break
        }
        'chime;config' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented starter profile (0600) where chime looks for it')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Print the path of the profile chime would use (-v: how it was chosen)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check the profile, its templates and rules; report every problem (exit 78 on any)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the profile as chime resolved it, secrets redacted')
            [CompletionResult]::new('names', 'names', [CompletionResultType]::ParameterValue, 'List the routes, destinations or templates the profile defines, or the ids in its spool, one a line')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chime;config;init' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace an existing profile')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;config;path' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;config;check' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;config;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;config;names' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;config;help' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented starter profile (0600) where chime looks for it')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Print the path of the profile chime would use (-v: how it was chosen)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check the profile, its templates and rules; report every problem (exit 78 on any)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the profile as chime resolved it, secrets redacted')
            [CompletionResult]::new('names', 'names', [CompletionResultType]::ParameterValue, 'List the routes, destinations or templates the profile defines, or the ids in its spool, one a line')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chime;config;help;init' {
            break
        }
        'chime;config;help;path' {
            break
        }
        'chime;config;help;check' {
            break
        }
        'chime;config;help;show' {
            break
        }
        'chime;config;help;names' {
            break
        }
        'chime;config;help;help' {
            break
        }
        'chime;test' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Test a webhook URL instead of the profile''s destinations [env: CHIME_URL]')
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'The kind of the URL when its host does not tell it [env: CHIME_KIND]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up on a destination after this long [env: CHIME_TIMEOUT]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object per destination on stdout, as `chime send --json`, instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;completions' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;manpage' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Profile file to read [env: CHIME_CONFIG]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log each request (secrets redacted) on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chime;help' {
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send a message to routes or destinations')
            [CompletionResult]::new('ask', 'ask', [CompletionResultType]::ParameterValue, 'Ask a question with buttons and wait for a person''s answer')
            [CompletionResult]::new('pipe', 'pipe', [CompletionResultType]::ParameterValue, 'Stream stdin into a channel, lines packed into as few messages as allowed')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a command as cron would, and report how it went')
            [CompletionResult]::new('flush', 'flush', [CompletionResultType]::ParameterValue, 'Deliver what the spool holds')
            [CompletionResult]::new('spool', 'spool', [CompletionResultType]::ParameterValue, 'Look at and manage the spool of undelivered messages')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Create, locate, check or show the profile')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send a short test message to each destination and show what happened')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('manpage', 'manpage', [CompletionResultType]::ParameterValue, 'Print the man page (roff), as install.sh installs it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chime;help;send' {
            break
        }
        'chime;help;ask' {
            break
        }
        'chime;help;pipe' {
            break
        }
        'chime;help;run' {
            break
        }
        'chime;help;flush' {
            break
        }
        'chime;help;spool' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List entries, oldest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one entry, payloads included')
            [CompletionResult]::new('drop', 'drop', [CompletionResultType]::ParameterValue, 'Delete entries for good, pending or dead-letter')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Move dead-letter entries back to pending, due now')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Delete every pending (or, with --dead, every dead-letter) entry')
            break
        }
        'chime;help;spool;list' {
            break
        }
        'chime;help;spool;show' {
            break
        }
        'chime;help;spool;drop' {
            break
        }
        'chime;help;spool;retry' {
            break
        }
        'chime;help;spool;purge' {
            break
        }
        'chime;help;config' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented starter profile (0600) where chime looks for it')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Print the path of the profile chime would use (-v: how it was chosen)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check the profile, its templates and rules; report every problem (exit 78 on any)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the profile as chime resolved it, secrets redacted')
            [CompletionResult]::new('names', 'names', [CompletionResultType]::ParameterValue, 'List the routes, destinations or templates the profile defines, or the ids in its spool, one a line')
            break
        }
        'chime;help;config;init' {
            break
        }
        'chime;help;config;path' {
            break
        }
        'chime;help;config;check' {
            break
        }
        'chime;help;config;show' {
            break
        }
        'chime;help;config;names' {
            break
        }
        'chime;help;test' {
            break
        }
        'chime;help;completions' {
            break
        }
        'chime;help;manpage' {
            break
        }
        'chime;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
