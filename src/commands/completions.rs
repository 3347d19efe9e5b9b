//! Shell completions and the man page, both generated from the clap definition.
//!
//! The static part of each completion script is clap_complete's. On top of it,
//! bash, zsh and fish complete route, destination and template names from the
//! current profile, and entry ids from its spool: every argument whose value
//! name is `ROUTE`, `DEST`, `TEMPLATE` or `ID` asks `chime config names KIND`
//! when completed, passing on the `--profile` and `--config` found among the
//! words typed, so the names are those of the profile the command will use.
//! Elvish and PowerShell get the static script only. The committed copies
//! under `completions/` and `doc/chime.1` are checked against these functions
//! by the integration tests, which also rewrite them
//! (`CHIME_REGENERATE=1 cargo test --test integration generated`).

use std::collections::BTreeMap;
use std::io::Write as _;

use clap::{Arg, CommandFactory};
use clap_complete::Shell;

use crate::cli::{Cli, GlobalArgs, Names};
use crate::commands::spool;
use crate::config;
use crate::exit::{ExitCode, Failure};
use crate::report;
use crate::settings;

impl Names {
    /// The value name that marks an argument as taking one of these.
    fn value_name(self) -> &'static str {
        match self {
            Names::Routes => "ROUTE",
            Names::Destinations => "DEST",
            Names::Templates => "TEMPLATE",
            Names::Ids => "ID",
        }
    }

    /// The word after `chime config names`, which is also the profile's table
    /// for the names a profile defines.
    fn kind(self) -> &'static str {
        match self {
            Names::Routes => "routes",
            Names::Destinations => "destinations",
            Names::Templates => "templates",
            Names::Ids => "ids",
        }
    }

    const ALL: [Names; 4] = [
        Names::Routes,
        Names::Destinations,
        Names::Templates,
        Names::Ids,
    ];
}

/// `chime completions SHELL`.
pub fn print(shell: Shell) -> Result<ExitCode, Failure> {
    report::text(&script(shell))?;
    Ok(ExitCode::Ok)
}

/// `chime manpage`.
pub fn print_manpage() -> Result<ExitCode, Failure> {
    report::text(&manpage())?;
    Ok(ExitCode::Ok)
}

/// `chime config names KIND`, for shell completion: never an error, never a
/// word on stderr, exit 0 whatever is missing — a <TAB> has no place to show
/// either, and a half-written profile or an absent spool simply has no names.
pub fn names(global: &GlobalArgs, what: Names) -> Result<ExitCode, Failure> {
    let list: Vec<String> = match what {
        Names::Ids => spool::ids(&settings::spools_if_there(global))
            .into_iter()
            .collect(),
        table => profile_names(global, table),
    };
    if !list.is_empty() {
        report::line(&list.join("\n"))?;
    }
    Ok(ExitCode::Ok)
}

/// The names in the profile's table for `what`, read leniently (no
/// validation, no secrets resolved) so completion works while the profile is
/// half-written or its variables are not exported in this shell.
fn profile_names(global: &GlobalArgs, what: Names) -> Vec<String> {
    let env = settings::environment();
    let location = config::locate(global.config.as_deref(), global.profile.as_deref(), &env);
    let read = |location: config::Location| std::fs::read_to_string(location.path).ok();
    let Some(source) = location.ok().and_then(read) else {
        return Vec::new();
    };
    match toml::from_str::<toml::Table>(&source) {
        Ok(table) => match table.get(what.kind()) {
            Some(toml::Value::Table(items)) => items.keys().cloned().collect(),
            _ => Vec::new(),
        },
        Err(_) => Vec::new(),
    }
}

/// The whole completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "chime", &mut out);
    let text = String::from_utf8(out).expect("clap_complete writes UTF-8");
    let uses = uses(&mut Cli::command());
    match shell {
        Shell::Bash => format!("{text}{}", bash_names(&uses, &subcommands(&Cli::command()))),
        Shell::Zsh => zsh_names(&text, &uses),
        Shell::Fish => format!("{text}{}", fish_names(&uses)),
        _ => text,
    }
}

/// Where a name-taking argument appears: the subcommand path, and its flags
/// (empty for a positional argument).
struct Use {
    path: Vec<String>,
    flags: Vec<String>,
    /// The argument's id: zsh names positional arguments by it.
    id: String,
    names: Names,
}

fn uses(cmd: &mut clap::Command) -> Vec<Use> {
    cmd.build();
    let mut out = Vec::new();
    collect(cmd, &mut Vec::new(), &mut out);
    out
}

fn collect(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Use>) {
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        if let Some(names) = names_of(arg) {
            let mut flags: Vec<String> = Vec::new();
            flags.extend(arg.get_short().map(|s| format!("-{s}")));
            flags.extend(arg.get_long().map(|l| format!("--{l}")));
            out.push(Use {
                path: path.clone(),
                flags,
                id: arg.get_id().to_string(),
                names,
            });
        }
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        path.push(sub.get_name().to_owned());
        collect(sub, path, out);
        path.pop();
    }
}

/// Every visible (parent path, subcommand name) pair, parents first.
fn subcommands(cmd: &clap::Command) -> Vec<(String, String)> {
    fn walk(cmd: &clap::Command, parent: &str, out: &mut Vec<(String, String)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            out.push((parent.to_owned(), sub.get_name().to_owned()));
            let path = if parent.is_empty() {
                sub.get_name().to_owned()
            } else {
                format!("{parent} {}", sub.get_name())
            };
            walk(sub, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(cmd, "", &mut out);
    out
}

fn names_of(arg: &Arg) -> Option<Names> {
    let value = arg.get_value_names()?.first()?.as_str().to_owned();
    Names::ALL.into_iter().find(|n| n.value_name() == value)
}

/// The flags that choose the profile (`cli::GlobalArgs`). Global, so typed
/// before or after the subcommand; each script finds them among the words
/// typed and passes them on to `chime config names`, so that
/// `chime --profile work send -r <TAB>` lists the routes of `work`.
const PROFILE_FLAGS: [&str; 2] = ["--config", "--profile"];

/// Bash: a wrapper that answers for name-taking arguments and leaves the rest
/// to clap_complete's `_chime`.
fn bash_names(uses: &[Use], subcommands: &[(String, String)]) -> String {
    let flags = PROFILE_FLAGS.join("|");
    let mut text = format!(
        "\n# Route, destination and template names from the current profile, and the\n\
         # ids in its spool: `_chime_names KIND [PROFILE FLAGS...]`.\n\
         _chime_names() {{\n    \
         local IFS=$'\\n' kind=\"$1\"\n    \
         shift\n    \
         COMPREPLY=($(compgen -W \"$(chime \"$@\" config names \"$kind\" 2>/dev/null)\" -- \"${{COMP_WORDS[COMP_CWORD]}}\"))\n\
         }}\n\n\
         _chime_with_names() {{\n    \
         local cur=\"${{COMP_WORDS[COMP_CWORD]}}\" prev=\"${{COMP_WORDS[COMP_CWORD-1]}}\" path=\"\" word value i\n    \
         local -a flags=()\n    \
         for ((i = 1; i < COMP_CWORD; i++)); do\n        \
         word=\"${{COMP_WORDS[i]}}\"\n\
         {profile_flags}\
         case \"$path,$word\" in\n",
        profile_flags = bash_profile_flags(),
    );
    bash_paths(subcommands, &mut text);
    text.push_str(&format!(
        "        esac\n    done\n    \
         # A profile flag's value is clap_complete's to complete, not a positional argument.\n    \
         case \"$prev\" in\n        \
         {flags}|=) _chime \"$@\"; return ;;\n    \
         esac\n    \
         case \"$path\" in\n"
    ));
    bash_cases(&bash_arms(uses), &mut text);
    text.push_str(
        "    esac\n    _chime \"$@\"\n}\n\n\
         if [[ \"${BASH_VERSINFO[0]}\" -eq 4 && \"${BASH_VERSINFO[1]}\" -ge 4 || \"${BASH_VERSINFO[0]}\" -gt 4 ]]; then\n    \
         complete -F _chime_with_names -o nosort -o bashdefault -o default chime\n\
         else\n    \
         complete -F _chime_with_names -o bashdefault -o default chime\n\
         fi\n",
    );
    text
}

/// The part of bash's loop over the words typed that collects the profile's
/// flags into `flags` and skips their values, which are no subcommands.
fn bash_profile_flags() -> String {
    format!(
        "        \
         # The profile's flags go on to `chime config names`, their values\n        \
         # skipped as subcommands; `--profile=NAME` is three words where `=`\n        \
         # breaks words (it does by default), one where it does not.\n        \
         value=\"\"\n        \
         case \"$word\" in\n            \
         {flags})\n                \
         [[ \"${{COMP_WORDS[i+1]}}\" == \"=\" ]] && i=$((i + 1))\n                \
         ((i + 1 < COMP_CWORD)) || continue\n                \
         i=$((i + 1))\n                \
         value=\"${{COMP_WORDS[i]}}\" ;;\n            \
         {flags_eq})\n                \
         value=\"${{word#*=}}\" word=\"${{word%%=*}}\" ;;\n        \
         esac\n        \
         if [[ -n \"$value\" ]]; then\n            \
         # Bash leaves a typed `~` to the command; chime would take it literally.\n            \
         [[ \"$value\" == \"~/\"* ]] && value=\"$HOME/${{value:2}}\"\n            \
         flags+=(\"$word\" \"$value\")\n            \
         continue\n        \
         fi\n        \
",
        flags = PROFILE_FLAGS.join("|"),
        flags_eq = PROFILE_FLAGS.map(|f| format!("{f}=?*")).join("|"),
    )
}

/// The `case` arms completing names, per subcommand path: flags' arms first.
fn bash_arms(uses: &[Use]) -> BTreeMap<String, Vec<String>> {
    let mut cases = BTreeMap::<String, Vec<String>>::new();
    for u in uses {
        let key = u.path.join(" ");
        let arms = cases.entry(key).or_default();
        let word = u.names.kind();
        if u.flags.is_empty() {
            arms.push(format!(
                "            -*) ;;\n            *) _chime_names {word} \"${{flags[@]}}\"; return ;;"
            ));
        } else {
            arms.insert(
                0,
                format!(
                    "            {}) _chime_names {word} \"${{flags[@]}}\"; return ;;",
                    u.flags.join("|")
                ),
            );
        }
    }
    cases
}

/// The loop's arms that follow the words typed so far down to a subcommand's path.
fn bash_paths(subcommands: &[(String, String)], text: &mut String) {
    for (parent, name) in subcommands {
        let path = if parent.is_empty() {
            name.clone()
        } else {
            format!("{parent} {name}")
        };
        text.push_str(&format!(
            "            \"{parent},{name}\") path=\"{path}\" ;;\n"
        ));
    }
}

/// Per path: complete a flag's value after the flag, a positional argument's
/// when the word is not a flag.
fn bash_cases(cases: &BTreeMap<String, Vec<String>>, text: &mut String) {
    for (path, arms) in cases {
        text.push_str(&format!("        \"{path}\")\n"));
        let (flag_arms, positional): (Vec<_>, Vec<_>) =
            arms.iter().partition(|a| !a.contains("-*) ;;"));
        if !flag_arms.is_empty() {
            text.push_str("            case \"$prev\" in\n");
            for arm in &flag_arms {
                text.push_str(&format!("    {arm}\n"));
            }
            text.push_str("            esac\n");
        }
        for arm in positional {
            text.push_str("            case \"$cur\" in\n");
            for line in arm.lines() {
                text.push_str(&format!("    {line}\n"));
            }
            text.push_str("            esac\n");
        }
        text.push_str("            ;;\n");
    }
}

/// Zsh: clap_complete leaves these arguments to `_default` (files); point
/// them at the profile's names instead.
fn zsh_names(text: &str, uses: &[Use]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut line = line.to_owned();
        for names in Names::ALL {
            let from = format!(":{}:_default", names.value_name());
            let to = format!(":{}:_chime_names {}", names.value_name(), names.kind());
            line = line.replace(&from, &to);
        }
        // Positional arguments appear as `'*::ID -- HELP:_default'`.
        for u in uses.iter().filter(|u| u.flags.is_empty()) {
            if line.contains(&format!(":{} -- ", u.id)) && line.ends_with(":_default' \\") {
                let cut = line.len() - ":_default' \\".len();
                line = format!("{}:_chime_names {}' \\", &line[..cut], u.names.kind());
            }
        }
        if line.starts_with("if [ \"$funcstack[1]\" = \"_chime\" ]") {
            out.push_str(&zsh_function());
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Zsh's `_chime_names KIND`. By the time it runs, `words` holds only the
/// subcommand's words, so the profile's flags are looked for in the whole
/// line left of the cursor, split and unquoted as the shell would.
fn zsh_function() -> String {
    let flags = PROFILE_FLAGS.join("|");
    let flags_eq = PROFILE_FLAGS.map(|f| format!("{f}=?*")).join("|");
    format!(
        "(( $+functions[_chime_names] )) ||\n\
         _chime_names() {{\n    \
         local -a names flags typed\n    \
         local i value\n    \
         typed=(${{(Q)${{(z)LBUFFER}}}})\n    \
         for (( i = 1; i <= $#typed; i++ )); do\n        \
         value=\n        \
         case $typed[i] in\n            \
         (';'|'&&'|'||'|'|'|'&') flags=() ;;\n            \
         ({flags}) (( i < $#typed )) && value=$typed[i+1] ;;\n            \
         ({flags_eq}) value=${{typed[i]#*=}} ;;\n        \
         esac\n        \
         [[ -n $value ]] || continue\n        \
         [[ $value == '~/'* ]] && value=$HOME/${{value#??}}\n        \
         flags+=(${{typed[i]%%=*}} $value)\n        \
         [[ $typed[i] == *=* ]] || (( i++ ))\n    \
         done\n    \
         names=(${{(f)\"$(chime $flags config names $1 2>/dev/null)\"}})\n    \
         compadd -a names\n\
         }}\n\n"
    )
}

/// Fish: `__chime_names KIND`, then extra `complete` lines, which fish
/// merges with clap_complete's.
fn fish_names(uses: &[Use]) -> String {
    let mut text = fish_function();
    for u in uses {
        // Every word of the path: `show` alone is `config show` too.
        let seen: Vec<String> = u
            .path
            .iter()
            .map(|name| format!("__fish_seen_subcommand_from {name}"))
            .collect();
        let condition = match seen.is_empty() {
            true => "true".to_owned(),
            false => seen.join("; and "),
        };
        let mut line = format!("complete -c chime -n \"{condition}\"");
        for flag in &u.flags {
            match flag.strip_prefix("--") {
                Some(long) => line.push_str(&format!(" -l {long}")),
                None => line.push_str(&format!(" -s {}", &flag[1..])),
            }
        }
        if !u.flags.is_empty() {
            line.push_str(" -r");
        }
        line.push_str(&format!(" -f -a \"(__chime_names {})\"\n", u.names.kind()));
        text.push_str(&line);
    }
    text
}

/// Fish's `__chime_names KIND`: the profile's flags found among the words of
/// this command typed so far, passed on to `chime config names`.
fn fish_function() -> String {
    let flags = PROFILE_FLAGS.join(" ");
    let flags_eq = PROFILE_FLAGS.map(|f| format!("'{f}=?*'")).join(" ");
    format!(
        "\n# Route, destination and template names from the current profile, and the\n\
         # ids in its spool.\n\
         function __chime_names\n    \
         set -l typed (commandline -opc)\n    \
         set -l flags\n    \
         set -l i 1\n    \
         while test $i -le (count $typed)\n        \
         set -l value\n        \
         switch $typed[$i]\n            \
         case {flags}\n                \
         if test $i -lt (count $typed)\n                    \
         set value $typed[(math $i + 1)]\n                    \
         set -a flags $typed[$i]\n                    \
         set i (math $i + 1)\n                \
         end\n            \
         case {flags_eq}\n                \
         set -l parts (string split -m 1 = -- $typed[$i])\n                \
         set -a flags $parts[1]\n                \
         set value $parts[2]\n        \
         end\n        \
         if set -q value[1]\n            \
         # A typed `~` reaches chime as it is: chime would take it literally.\n            \
         set -a flags (string replace -r '^~/' \"$HOME/\" -- $value)\n        \
         end\n        \
         set i (math $i + 1)\n    \
         end\n    \
         chime $flags config names $argv[1] 2>/dev/null\n\
         end\n\n"
    )
}

/// Where chime finds its profile and keeps its state, for the man page.
const FILES: &str = r#".SH FILES
.TP
\fB$XDG_CONFIG_HOME/chime/\fR\fIPROFILE\fR\fB.toml\fR (\fB~/.config/chime/config.toml\fR)
The profile: \fB\-\-config\fR PATH, else \fBCHIME_CONFIG\fR, else this file, where PROFILE is \fB\-\-profile\fR, else \fBCHIME_PROFILE\fR, else \fBconfig\fR. \fBchime config path\fR prints it; \fBchime config init\fR writes one.
.TP
\fB$XDG_STATE_HOME/chime/\fR (\fB~/.local/state/chime/\fR, or \fBCHIME_STATE_DIR\fR)
The state directory, yours alone: \fBprofiles/\fR\fIPROFILE\fR\fB/\fR holds the spool (\fBspool/\fR), thread keys (\fBthreads/\fR), \fBchime run\fR outcomes (\fBruns/\fR) and \fBchime pipe\fR journals (\fBjournal/\fR).
"#;

/// The man page: clap_mangen's page for `chime`, then a section for each
/// subcommand with its synopsis, options and examples.
pub fn manpage() -> String {
    // The build's commit would make the committed page stale at every commit.
    let mut cmd = Cli::command().long_version(None);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    // Writing to memory cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let mut list = Vec::new();
    let _ = man.render_subcommands_section(&mut list);
    // One page holds every subcommand: point at its section, not at a
    // chime-send(1) that is not installed.
    let mut list = String::from_utf8_lossy(&list).into_owned();
    for sub in cmd.get_subcommands() {
        let name = sub.get_name();
        list = list.replace(
            &format!("chime\\-{name}(1)"),
            &format!(
                "\\fBchime {name}\\fR (section CHIME {})",
                name.to_uppercase()
            ),
        );
    }
    out.extend_from_slice(list.as_bytes());
    subcommand_sections(&cmd, &mut out);
    out.extend_from_slice(FILES.as_bytes());
    let mut extra = Vec::new();
    let _ = man.render_extra_section(&mut extra);
    let extra =
        String::from_utf8_lossy(&extra).replace(".SH EXTRA", ".SH \"EXIT STATUS AND ENVIRONMENT\"");
    out.extend_from_slice(extra.as_bytes());
    let _ = man.render_version_section(&mut out);
    String::from_utf8(out).expect("clap_mangen writes UTF-8")
}

fn subcommand_sections(cmd: &clap::Command, out: &mut Vec<u8>) {
    // clap's own `help` subcommand would only repeat the sections above.
    let shown = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help");
    for sub in shown {
        if sub.has_subcommands() {
            subcommand_sections(sub, out);
            continue;
        }
        let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_uppercase();
        let _ = writeln!(out, ".SH \"{name}\"");
        let man = clap_mangen::Man::new(sub.clone());
        let mut body = Vec::new();
        let _ = man.render_synopsis_section(&mut body);
        let _ = man.render_description_section(&mut body);
        let _ = man.render_options_section(&mut body);
        let _ = man.render_extra_section(&mut body);
        // Each part opens with its own `.SH`; inside a subcommand's section those
        // become sub-headings.
        let body = String::from_utf8_lossy(&body)
            .replace("\n.SH EXTRA", "\n.SH EXAMPLES")
            .replace("\n.SH ", "\n.SS ");
        let body = body
            .strip_prefix(".SH ")
            .map_or(body.clone(), |b| format!(".SS {b}"));
        out.extend_from_slice(body.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_taking_arguments_are_found_by_value_name() {
        let uses = uses(&mut Cli::command());
        let find = |path: &str, flag: &str| {
            uses.iter().any(|u| {
                u.path.join(" ") == path
                    && (flag.is_empty() && u.flags.is_empty() || u.flags.iter().any(|f| f == flag))
            })
        };
        assert!(find("send", "--route"));
        assert!(find("send", "--to"));
        assert!(find("flush", "--dest"));
        assert!(find("test", ""));
    }

    #[test]
    fn profile_flags_are_the_global_flags_that_choose_the_profile() {
        let cmd = Cli::command();
        for flag in PROFILE_FLAGS {
            let long = flag.strip_prefix("--");
            let arg = cmd.get_arguments().find(|a| a.get_long() == long);
            let arg = arg.unwrap_or_else(|| panic!("no {flag} in cli/"));
            assert!(arg.is_global_set(), "{flag} is not global");
            // The scripts look for the long form only: a short one added in
            // cli/ must be added to them too.
            assert_eq!(arg.get_short(), None, "{flag}");
        }
    }

    #[test]
    fn entry_id_arguments_complete_ids() {
        let uses = uses(&mut Cli::command());
        for path in ["spool show", "spool drop", "spool retry"] {
            let found = uses.iter().find(|u| u.path.join(" ") == path);
            assert!(found.is_some_and(|u| u.names == Names::Ids), "{path}");
        }
    }

    #[test]
    fn every_shell_gets_a_script() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            assert!(script(shell).contains("chime"), "{shell}");
        }
        let zsh = script(Shell::Zsh);
        assert!(zsh.contains(":ROUTE:_chime_names routes"));
        assert!(zsh.contains("(default\\: all):_chime_names destinations"));
    }
}
