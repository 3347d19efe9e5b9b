# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_chime_global_optspecs
    string join \n config= profile= q/quiet v/verbose h/help V/version
end

function __fish_chime_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_chime_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_chime_using_subcommand
    set -l cmd (__fish_chime_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c chime -n "__fish_chime_needs_command" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_needs_command" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_needs_command" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_needs_command" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_needs_command" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_needs_command" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_needs_command" -f -a "send" -d 'Send a message to routes or destinations'
complete -c chime -n "__fish_chime_needs_command" -f -a "ask" -d 'Ask a question with buttons and wait for a person\'s answer'
complete -c chime -n "__fish_chime_needs_command" -f -a "pipe" -d 'Stream stdin into a channel, lines packed into as few messages as allowed'
complete -c chime -n "__fish_chime_needs_command" -f -a "run" -d 'Run a command as cron would, and report how it went'
complete -c chime -n "__fish_chime_needs_command" -f -a "flush" -d 'Deliver what the spool holds'
complete -c chime -n "__fish_chime_needs_command" -f -a "spool" -d 'Look at and manage the spool of undelivered messages'
complete -c chime -n "__fish_chime_needs_command" -f -a "config" -d 'Create, locate, check or show the profile'
complete -c chime -n "__fish_chime_needs_command" -f -a "test" -d 'Send a short test message to each destination and show what happened'
complete -c chime -n "__fish_chime_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c chime -n "__fish_chime_needs_command" -f -a "manpage" -d 'Print the man page (roff), as install.sh installs it'
complete -c chime -n "__fish_chime_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chime -n "__fish_chime_using_subcommand send" -s r -l route -d 'Route to send through (repeatable) [env: CHIME_ROUTE]' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l to -d 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l kind -d 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l channel -d 'Channel, overriding the route\'s and the destination\'s' -r
complete -c chime -n "__fish_chime_using_subcommand send" -s t -l title -d 'Title shown as the message header' -r
complete -c chime -n "__fish_chime_using_subcommand send" -s l -l level -d 'Level: sets the emoji, the colour and what rules match' -r -f -a "info\t''
success\t''
warning\t''
error\t''
critical\t''"
complete -c chime -n "__fish_chime_using_subcommand send" -s f -l field -d 'A field shown as a key/value pair, also a template variable (repeatable)' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l event -d 'Send an event: NAME is the title and the `event` variable, -f its fields' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l link -d 'A link shown as a button (repeatable)' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l file -d 'Attach a file (repeatable; `-` reads it from stdin, the text then from TEXT); kinds that take no files get its name and size in the text' -r -F
complete -c chime -n "__fish_chime_using_subcommand send" -l file-name -d 'The name the channel shows for the file (repeatable: the first names the first --file, and so on)' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l file-title -d 'A title shown with the file (repeatable, in --file order)' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l file-url -d 'A file already online (repeatable): ntfy attaches it (Attach:), other kinds show a link to it' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l template -d 'Template from the profile\'s [templates] to render with' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l var -d 'A template variable (repeatable)' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l thread -d 'Reply in the thread of the first message sent with KEY (slack-api; google-chat by key); in CI, KEY defaults to the run, so every step of a run shares a thread' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l update -d 'Edit the message last posted with KEY instead of posting (slack-api)' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l at -d 'Send at TIME instead of now: 09:30 (today, or tomorrow once past), 2026-12-24 09:00 (local), or RFC 3339. slack-api and ntfy schedule it themselves; elsewhere it waits in the spool and goes with the first `chime flush` after TIME' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l in -d 'Send after DURATION instead of now (e.g. 2h, 30m); as --at' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l dedupe -d 'Post the first message with KEY once per window and count the repeats; the count goes when the window ends (the original edited where the platform edits)' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l dedupe-window -d 'The window --dedupe counts repeats in [default: the route\'s `dedupe`, else 1h]' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l timeout -d 'Give up on a destination after this long, retries included (e.g. 5s, 1m) [env: CHIME_TIMEOUT]' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand send" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand send" -l code -d 'Show the text as a code block'
complete -c chime -n "__fish_chime_using_subcommand send" -l photo -d 'Send image files (JPEG, PNG, GIF, WebP) as pictures where the kind shows them inline (Telegram\'s sendPhoto, up to 10 MB), not as documents'
complete -c chime -n "__fish_chime_using_subcommand send" -l json-input -d 'Read stdin as a JSON object whose keys become template variables'
complete -c chime -n "__fish_chime_using_subcommand send" -l dry-run -d 'Print the requests that would be sent (secrets redacted) and send nothing'
complete -c chime -n "__fish_chime_using_subcommand send" -l json -d 'Print one JSON object per destination on stdout'
complete -c chime -n "__fish_chime_using_subcommand send" -l broadcast -d 'Show a thread reply in the channel too'
complete -c chime -n "__fish_chime_using_subcommand send" -l resolve -d 'Resolve the alert KEY names on alerting kinds (pagerduty, opsgenie): the KEY of --dedupe, --thread or --update, as its trigger was sent with; other kinds post the message'
complete -c chime -n "__fish_chime_using_subcommand send" -l acknowledge -d 'Acknowledge the alert KEY names on alerting kinds (pagerduty, opsgenie): it stays open and pages no one further; as --resolve'
complete -c chime -n "__fish_chime_using_subcommand send" -l queue -d 'Write the message to the spool without trying to send it now (exit 0 once it is kept)'
complete -c chime -n "__fish_chime_using_subcommand send" -l no-spool -d 'Fail instead of keeping an undelivered message in the spool'
complete -c chime -n "__fish_chime_using_subcommand send" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand send" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chime -n "__fish_chime_using_subcommand send" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand ask" -s r -l route -d 'Route to send through (repeatable) [env: CHIME_ROUTE]' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l to -d 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l kind -d 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l channel -d 'Channel, overriding the route\'s and the destination\'s' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -s t -l title -d 'Title shown as the message header' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -s l -l level -d 'Level: sets the emoji, the colour and what rules match' -r -f -a "info\t''
success\t''
warning\t''
error\t''
critical\t''"
complete -c chime -n "__fish_chime_using_subcommand ask" -s f -l field -d 'A field shown as a key/value pair (repeatable)' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l link -d 'A link shown with the question (repeatable)' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l option -d 'An answer to offer, as a button (repeatable, at most 5; ntfy shows 3) [default: Approve, Reject]' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l approver -d 'Who may answer (repeatable): a Slack user ID (U…), @handle or user group (S…); a Telegram user ID or username' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l timeout -d 'How long to wait for an answer (e.g. 30m, 2h) [default: 30m]' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l thread -d 'Ask in the thread of the first message sent with KEY; in CI, KEY defaults to the run' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l request-timeout -d 'The time one request may take, not the wait (e.g. 10s) [env: CHIME_TIMEOUT]' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand ask" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand ask" -l json -d 'Print the answer as JSON: the option, who chose it and when, where the question is'
complete -c chime -n "__fish_chime_using_subcommand ask" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand ask" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand ask" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chime -n "__fish_chime_using_subcommand ask" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand pipe" -s r -l route -d 'Route to send through (repeatable) [env: CHIME_ROUTE]' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -l to -d 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -l kind -d 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -l channel -d 'Channel, overriding the route\'s and the destination\'s' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -s t -l title -d 'Title of every message' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -s l -l level -d 'Level of every message (raised by --level-from-line)' -r -f -a "info\t''
success\t''
warning\t''
error\t''
critical\t''"
complete -c chime -n "__fish_chime_using_subcommand pipe" -l interval -d 'Send a batch this long after its first line' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -l grep -d 'Send only lines matching this regular expression (all still go to --tee)' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -l file-over -d 'A batch whose text is over SIZE goes as one file, with a message naming its lines, to kinds that take files (e.g. 100KiB); others get it as messages' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -l max-pending -d 'Batches kept in memory before the rest go to the spool (e.g. 64MiB)' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -l timeout -d 'Give up on one batch after this long, retries included [env: CHIME_TIMEOUT]' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand pipe" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand pipe" -l no-code -d 'Plain text instead of a code block'
complete -c chime -n "__fish_chime_using_subcommand pipe" -l tee -d 'Copy stdin to stdout unchanged'
complete -c chime -n "__fish_chime_using_subcommand pipe" -l level-from-line -d 'Raise a message\'s level when a line looks like an error or a warning'
complete -c chime -n "__fish_chime_using_subcommand pipe" -l dry-run -d 'Print each batch\'s requests as it closes (secrets redacted): send, spool and journal nothing'
complete -c chime -n "__fish_chime_using_subcommand pipe" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand pipe" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand pipe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chime -n "__fish_chime_using_subcommand pipe" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand run" -s r -l route -d 'Route to send through (repeatable) [env: CHIME_ROUTE]' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l to -d 'Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l kind -d 'The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l channel -d 'Channel, overriding the route\'s and the destination\'s' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l on -d 'When to report' -r -f -a "failure\t'Non-zero exit, killed by a signal, timed out, or could not start'
success\t''
always\t''
change\t'Only when the outcome differs from the previous run of the same --name'"
complete -c chime -n "__fish_chime_using_subcommand run" -l tail -d 'Lines of output to keep for the report' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l name -d 'The job\'s name in the report and for --on change [default: the command line]' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l timeout -d 'Stop the command and all it started after this long (TERM, then KILL 5 s later)' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l dedupe -d 'Post a report once per window and count the repeats (a job failing every minute makes one message and a count); KEY defaults to the job\'s name' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l dedupe-window -d 'The window --dedupe counts repeats in [default: the route\'s `dedupe`, else 1h]' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l ping -d 'Ping a dead-man\'s switch (the healthchecks.io protocol) each run, whatever --on says: URL/start as the command starts, URL or URL/<exit code> as it ends, with the tail; a ping URL or a healthchecks destination (repeatable; a route\'s `ping` too)' -r -f
complete -c chime -n "__fish_chime_using_subcommand run" -l attach-max -d 'The most output --attach-output sends: the first and last halves of it, with a line where the middle was cut' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l template -d 'Template from the profile\'s [templates] (variables: name, cmd, exit_code, signal, duration, started, tail, ok)' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand run" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand run" -l attach-output -d 'Send the job\'s whole output with the report, as a file (NAME-START.log), kept on disk while the job runs'
complete -c chime -n "__fish_chime_using_subcommand run" -l dry-run -d 'Run the command, then print the report\'s requests (secrets redacted): send nothing, spool nothing, and leave the --on change record alone'
complete -c chime -n "__fish_chime_using_subcommand run" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand run" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chime -n "__fish_chime_using_subcommand run" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand flush" -l dest -d 'Only this destination (repeatable)' -r
complete -c chime -n "__fish_chime_using_subcommand flush" -l wait -d 'Keep going until the spool is empty or this long has passed' -r
complete -c chime -n "__fish_chime_using_subcommand flush" -l timeout -d 'Per-destination timeout for each entry [env: CHIME_TIMEOUT]' -r
complete -c chime -n "__fish_chime_using_subcommand flush" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand flush" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand flush" -l all -d 'Try every pending entry now, ignoring next-attempt times'
complete -c chime -n "__fish_chime_using_subcommand flush" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand flush" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand flush" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand flush" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -f -a "list" -d 'List entries, oldest first'
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -f -a "show" -d 'Show one entry, payloads included'
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -f -a "drop" -d 'Delete entries for good, pending or dead-letter'
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -f -a "retry" -d 'Move dead-letter entries back to pending, due now'
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -f -a "purge" -d 'Delete every pending (or, with --dead, every dead-letter) entry'
complete -c chime -n "__fish_chime_using_subcommand spool; and not __fish_seen_subcommand_from list show drop retry purge help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -l dest -d 'Only this destination (repeatable)' -r
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -l limit -d 'At most N entries, the oldest; how many more there are goes to stderr' -r
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -l dead -d 'The dead-letter entries instead of the pending ones'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -l json -d 'A JSON array, one object per entry (per destination with --summary)'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -l summary -d 'One line per destination instead of one per entry: how many are pending, in flight and dead, how old the oldest is, when it is next tried'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -l quarantined -d 'The damaged files reads moved aside (the spool\'s corrupt/ folder), never sent: path, size and when they were moved'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from show" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from show" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from drop" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from drop" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from drop" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from drop" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from drop" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from drop" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from retry" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from retry" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from retry" -l all -d 'Every dead-letter entry'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from retry" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from retry" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from retry" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from purge" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from purge" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from purge" -l dead
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from purge" -l yes -d 'Do not ask (required when stdin is not a terminal)'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from purge" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from purge" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from purge" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from purge" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "list" -d 'List entries, oldest first'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one entry, payloads included'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "drop" -d 'Delete entries for good, pending or dead-letter'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "retry" -d 'Move dead-letter entries back to pending, due now'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "purge" -d 'Delete every pending (or, with --dead, every dead-letter) entry'
complete -c chime -n "__fish_chime_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -f -a "init" -d 'Write a commented starter profile (0600) where chime looks for it'
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -f -a "path" -d 'Print the path of the profile chime would use (-v: how it was chosen)'
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -f -a "check" -d 'Check the profile, its templates and rules; report every problem (exit 78 on any)'
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -f -a "show" -d 'Print the profile as chime resolved it, secrets redacted'
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -f -a "names" -d 'List the routes, destinations or templates the profile defines, or the ids in its spool, one a line'
complete -c chime -n "__fish_chime_using_subcommand config; and not __fish_seen_subcommand_from init path check show names help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from init" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from init" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from init" -l force -d 'Replace an existing profile'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from init" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from init" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from path" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from path" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from path" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from path" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from path" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from path" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from check" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from show" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from show" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from names" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from names" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from names" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from names" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from names" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from names" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "init" -d 'Write a commented starter profile (0600) where chime looks for it'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "path" -d 'Print the path of the profile chime would use (-v: how it was chosen)'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check the profile, its templates and rules; report every problem (exit 78 on any)'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the profile as chime resolved it, secrets redacted'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "names" -d 'List the routes, destinations or templates the profile defines, or the ids in its spool, one a line'
complete -c chime -n "__fish_chime_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chime -n "__fish_chime_using_subcommand test" -l to -d 'Test a webhook URL instead of the profile\'s destinations [env: CHIME_URL]' -r
complete -c chime -n "__fish_chime_using_subcommand test" -l kind -d 'The kind of the URL when its host does not tell it [env: CHIME_KIND]' -r
complete -c chime -n "__fish_chime_using_subcommand test" -l timeout -d 'Give up on a destination after this long [env: CHIME_TIMEOUT]' -r
complete -c chime -n "__fish_chime_using_subcommand test" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand test" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand test" -l json -d 'One JSON object per destination on stdout, as `chime send --json`, instead of the table'
complete -c chime -n "__fish_chime_using_subcommand test" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand test" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand test" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand test" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand completions" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand completions" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand completions" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand completions" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand completions" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand completions" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand manpage" -l config -d 'Profile file to read [env: CHIME_CONFIG]' -r -F
complete -c chime -n "__fish_chime_using_subcommand manpage" -l profile -d 'Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]' -r
complete -c chime -n "__fish_chime_using_subcommand manpage" -s q -l quiet -d 'Print nothing but errors'
complete -c chime -n "__fish_chime_using_subcommand manpage" -s v -l verbose -d 'Log each request (secrets redacted) on stderr'
complete -c chime -n "__fish_chime_using_subcommand manpage" -s h -l help -d 'Print help'
complete -c chime -n "__fish_chime_using_subcommand manpage" -s V -l version -d 'Print version'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "send" -d 'Send a message to routes or destinations'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "ask" -d 'Ask a question with buttons and wait for a person\'s answer'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "pipe" -d 'Stream stdin into a channel, lines packed into as few messages as allowed'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "run" -d 'Run a command as cron would, and report how it went'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "flush" -d 'Deliver what the spool holds'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "spool" -d 'Look at and manage the spool of undelivered messages'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "config" -d 'Create, locate, check or show the profile'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "test" -d 'Send a short test message to each destination and show what happened'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "completions" -d 'Print a shell completion script'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "manpage" -d 'Print the man page (roff), as install.sh installs it'
complete -c chime -n "__fish_chime_using_subcommand help; and not __fish_seen_subcommand_from send ask pipe run flush spool config test completions manpage help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chime -n "__fish_chime_using_subcommand help; and __fish_seen_subcommand_from spool" -f -a "list" -d 'List entries, oldest first'
complete -c chime -n "__fish_chime_using_subcommand help; and __fish_seen_subcommand_from spool" -f -a "show" -d 'Show one entry, payloads included'
complete -c chime -n "__fish_chime_using_subcommand help; and __fish_seen_subcommand_from spool" -f -a "drop" -d 'Delete entries for good, pending or dead-letter'
complete -c chime -n "__fish_chime_using_subcommand help; and __fish_seen_subcommand_from spool" -f -a "retry" -d 'Move dead-letter entries back to pending, due now'
complete -c chime -n "__fish_chime_using_subcommand help; and __fish_seen_subcommand_from spool" -f -a "purge" -d 'Delete every pending (or, with --dead, every dead-letter) entry'
complete -c chime -n "__fish_chime_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "init" -d 'Write a commented starter profile (0600) where chime looks for it'
complete -c chime -n "__fish_chime_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "path" -d 'Print the path of the profile chime would use (-v: how it was chosen)'
complete -c chime -n "__fish_chime_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Check the profile, its templates and rules; report every problem (exit 78 on any)'
complete -c chime -n "__fish_chime_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print the profile as chime resolved it, secrets redacted'
complete -c chime -n "__fish_chime_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "names" -d 'List the routes, destinations or templates the profile defines, or the ids in its spool, one a line'

# Route, destination and template names from the current profile, and the
# ids in its spool.
function __chime_names
    set -l typed (commandline -opc)
    set -l flags
    set -l i 1
    while test $i -le (count $typed)
        set -l value
        switch $typed[$i]
            case --config --profile
                if test $i -lt (count $typed)
                    set value $typed[(math $i + 1)]
                    set -a flags $typed[$i]
                    set i (math $i + 1)
                end
            case '--config=?*' '--profile=?*'
                set -l parts (string split -m 1 = -- $typed[$i])
                set -a flags $parts[1]
                set value $parts[2]
        end
        if set -q value[1]
            # A typed `~` reaches chime as it is: chime would take it literally.
            set -a flags (string replace -r '^~/' "$HOME/" -- $value)
        end
        set i (math $i + 1)
    end
    chime $flags config names $argv[1] 2>/dev/null
end

complete -c chime -n "__fish_seen_subcommand_from send" -s r -l route -r -f -a "(__chime_names routes)"
complete -c chime -n "__fish_seen_subcommand_from send" -l to -r -f -a "(__chime_names destinations)"
complete -c chime -n "__fish_seen_subcommand_from send" -l template -r -f -a "(__chime_names templates)"
complete -c chime -n "__fish_seen_subcommand_from ask" -s r -l route -r -f -a "(__chime_names routes)"
complete -c chime -n "__fish_seen_subcommand_from ask" -l to -r -f -a "(__chime_names destinations)"
complete -c chime -n "__fish_seen_subcommand_from pipe" -s r -l route -r -f -a "(__chime_names routes)"
complete -c chime -n "__fish_seen_subcommand_from pipe" -l to -r -f -a "(__chime_names destinations)"
complete -c chime -n "__fish_seen_subcommand_from run" -s r -l route -r -f -a "(__chime_names routes)"
complete -c chime -n "__fish_seen_subcommand_from run" -l to -r -f -a "(__chime_names destinations)"
complete -c chime -n "__fish_seen_subcommand_from run" -l template -r -f -a "(__chime_names templates)"
complete -c chime -n "__fish_seen_subcommand_from flush" -l dest -r -f -a "(__chime_names destinations)"
complete -c chime -n "__fish_seen_subcommand_from spool; and __fish_seen_subcommand_from list" -l dest -r -f -a "(__chime_names destinations)"
complete -c chime -n "__fish_seen_subcommand_from spool; and __fish_seen_subcommand_from show" -f -a "(__chime_names ids)"
complete -c chime -n "__fish_seen_subcommand_from spool; and __fish_seen_subcommand_from drop" -f -a "(__chime_names ids)"
complete -c chime -n "__fish_seen_subcommand_from spool; and __fish_seen_subcommand_from retry" -f -a "(__chime_names ids)"
complete -c chime -n "__fish_seen_subcommand_from test" -f -a "(__chime_names destinations)"
