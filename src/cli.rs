//! Command-line parsing (pure): arguments → a command and setting overrides, or a usage error (exit 64).

use crate::config::SETTINGS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Migrate,
    Info,
    Validate,
    Wait,
    Baseline,
    Repair,
    Plan,
    Undo,
    Lint,
    Compare,
    Version,
    Help,
    /// Hidden: panics on purpose, so tests can prove the panic path (exit 70, no secret in
    /// the message) on the real binary.
    CrashTest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cli {
    pub command: Command,
    pub format: Format,
    pub exit_codes: bool,
    /// `lint`'s files, in the order given.
    pub files: Vec<String>,
    /// `lint --format`: text, json, sarif or github.
    pub lint_format: crate::core::lint::report::Format,
    /// `lint --rules`: list the rules and exit.
    pub list_rules: bool,
    /// `plan undo`: print what `undo` would run instead of what `migrate` would.
    pub plan_undo: bool,
    /// `compare --all`: compare every level, not only up to the first that differs.
    pub all_levels: bool,
    /// `--deadline 5m` becomes `("SCHEMAGATE_DEADLINE", "5m")`, appended after the environment so it wins.
    pub overrides: Vec<(String, String)>,
    /// Flyway's `-key=value` arguments, in order (`-url=jdbc:…` → `("url", "jdbc:…")`), for
    /// `config::flyway` to translate (SPEC §13).
    pub flyway_args: Vec<(String, String)>,
    /// Whether a command was named (`migrate` is the default only for schemagate's name).
    pub command_given: bool,
}

pub const USAGE: &str = "\
usage: schemagate [COMMAND] [--SETTING VALUE]...

commands:
  migrate    wait for the database, take the lock, validate, apply pending migrations (default)
  info       print every migration with its state (--format json for tools)
  validate   compare local scripts with the history; non-zero exit on any drift
  wait       for an initContainer: wait until every versioned migration before the first
             pending contract script is applied
  baseline   mark an existing database as being at SCHEMAGATE_BASELINE_VERSION
  repair     remove failed rows and realign checksums/descriptions and stored undos with
             the local files
  plan       print the SQL that migrate would run, without running it (deferred scripts
             commented out); `plan undo`: the SQL that undo would run
  undo       undo, newest first, every applied version above the newest local one (or
             SCHEMAGATE_TARGET) from the undo SQL stored when each was applied; checks all
             first and undoes nothing (exit 65) if one cannot be undone
  lint       [FILE...] zero-downtime checks: the files given, else the pending scripts
             (with a database) or every local script; --format text|json|sarif|github,
             --rules lists the rules; exit 65 on an error finding
  compare    check that the database SCHEMAGATE_COMPARE_URL names holds what this one does:
             schema, history, row counts, then content chunk by chunk (read-only on both);
             stops at the first level that differs unless --all; exit 65 on a difference,
             75 if the differences kept changing (a live source); --format json
  version    print version, commit and build target (--exit-codes --format json: the exit-code table)

Every setting is an environment variable (SCHEMAGATE_DEADLINE, PGHOST, ...); a flag of the
same name overrides it: --deadline 5m sets SCHEMAGATE_DEADLINE. See the README for the list.
Flyway's configuration works too: FLYWAY_* variables, flyway.conf/flyway.toml, and
-key=value arguments before or after the command (-url=jdbc:postgresql://db/app -user=app
migrate), -outputType=json, -X, -q (README \"Switching from Flyway\").
";

fn command(word: &str) -> Option<Command> {
    Some(match word {
        "migrate" => Command::Migrate,
        "info" => Command::Info,
        "validate" => Command::Validate,
        "wait" => Command::Wait,
        "baseline" => Command::Baseline,
        "repair" => Command::Repair,
        "plan" => Command::Plan,
        "undo" => Command::Undo,
        "lint" => Command::Lint,
        "compare" => Command::Compare,
        "version" => Command::Version,
        "help" => Command::Help,
        "internal-crash-test" => Command::CrashTest,
        _ => return None,
    })
}

/// A stray argument as a usage error shows it. `schemagate migrate "$DATABASE_URL"` is an easy
/// slip, so one that may be a connection string (`://`, `@`, `=`) is not echoed.
fn shown(arg: &str) -> String {
    if arg.contains("://") || arg.contains('@') || arg.contains('=') {
        "(not shown, as it looks like a connection string and may hold a password; \
         pass a URL as SCHEMAGATE_DATABASE_URL or --database-url)"
            .to_string()
    } else {
        format!("`{arg}`")
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Cli, String> {
    let mut cli = Cli {
        command: Command::Migrate,
        format: Format::Table,
        exit_codes: false,
        files: Vec::new(),
        lint_format: crate::core::lint::report::Format::Text,
        list_rules: false,
        plan_undo: false,
        all_levels: false,
        overrides: Vec::new(),
        flyway_args: Vec::new(),
        command_given: false,
    };
    let mut flyway_log: Option<&str> = None;
    let mut format_arg: Option<String> = None;
    let mut seen_command = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "-h" || arg == "--help" {
            cli.command = Command::Help;
            continue;
        }
        if arg == "-V" || arg == "--version" || arg == "-v" {
            cli.command = Command::Version;
            continue;
        }
        // Flyway drops empty arguments before it looks at them.
        if arg.is_empty() {
            continue;
        }
        if let Some(flag) = arg.strip_prefix('-').filter(|f| !f.starts_with('-')) {
            match flag {
                "?" => cli.command = Command::Help,
                // -q wins over -X, as in Flyway.
                "X" if flyway_log.is_none() => flyway_log = Some("debug"),
                "X" => {}
                "q" => flyway_log = Some("warn"),
                _ => {
                    let Some((key, value)) = flag.split_once('=') else {
                        return Err(format!(
                            "unknown flag {}; Flyway settings are written -key=value (-url=jdbc:postgresql://…), schemagate's --setting value",
                            crate::config::flyway::shown_flag(flag)
                        ));
                    };
                    if key.is_empty() {
                        return Err(format!("unknown flag {}", shown(arg)));
                    }
                    if key == "outputType" {
                        cli.format = match value {
                            "json" => Format::Json,
                            other => {
                                return Err(format!(
                                    "'{other}' is an invalid value for the -outputType option. Use 'json'."
                                ));
                            }
                        };
                    } else {
                        cli.flyway_args.push((key.to_string(), value.to_string()));
                    }
                }
            }
            continue;
        }
        let Some(flag) = arg.strip_prefix("--") else {
            let secret_like = arg.contains("://") || arg.contains('@') || arg.contains('=');
            if seen_command && cli.command == Command::Lint && !secret_like {
                cli.files.push(arg.clone());
                continue;
            }
            if seen_command && cli.command == Command::Plan && arg == "undo" && !cli.plan_undo {
                cli.plan_undo = true;
                continue;
            }
            if seen_command {
                return Err(format!("unexpected argument {}", shown(arg)));
            }
            cli.command = command(arg).ok_or_else(|| format!("unknown command {}", shown(arg)))?;
            seen_command = true;
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        let value = |i: &mut usize| -> Result<String, String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            match args.get(*i) {
                Some(v) if !v.starts_with("--") => {
                    *i += 1;
                    Ok(v.clone())
                }
                _ => Err(format!("--{name} needs a value")),
            }
        };
        match name {
            "exit-codes" => cli.exit_codes = true,
            "rules" => cli.list_rules = true,
            "all" if cli.command == Command::Compare => cli.all_levels = true,
            "format" => format_arg = Some(value(&mut i)?),
            _ => {
                let key = name.replace('-', "_").to_ascii_uppercase();
                let known = SETTINGS.contains(&key.as_str()) || key.starts_with("PLACEHOLDER_");
                if !known {
                    return Err(format!("unknown flag --{name}"));
                }
                // A boolean setting given as a bare flag means true; it takes the next word
                // only if that is a boolean, so `--out-of-order migrate` keeps its command.
                let is_bool = matches!(
                    key.as_str(),
                    "OUT_OF_ORDER" | "IGNORE_MISSING" | "BASELINE_ON_MIGRATE" | "UNDO_CONTRACT"
                );
                let next_is_bool = args
                    .get(i)
                    .is_some_and(|n| crate::config::parse_bool(n).is_ok());
                let v = if inline.is_none() && is_bool && !next_is_bool {
                    "true".to_string()
                } else {
                    value(&mut i)?
                };
                cli.overrides.push((format!("SCHEMAGATE_{key}"), v));
            }
        }
    }
    cli.command_given = seen_command || matches!(cli.command, Command::Help | Command::Version);
    if let Some(level) = flyway_log {
        cli.overrides.push(("SCHEMAGATE_LOG".into(), level.into()));
    }
    if let Some(f) = format_arg {
        if cli.command == Command::Lint {
            use crate::core::lint::report::Format as L;
            cli.lint_format = L::parse(&f)
                .ok_or_else(|| format!("--format {f}: lint writes {}", L::NAMES.join(", ")))?;
        } else {
            cli.format = match f.as_str() {
                "json" => Format::Json,
                "table" | "text" => Format::Table,
                other => return Err(format!("--format {other}: use table or json")),
            };
        }
    }
    Ok(cli)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Cli, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn no_command_means_migrate_and_flags_become_settings() {
        let c = p(&[]).unwrap();
        assert_eq!(c.command, Command::Migrate);
        let c = p(&[
            "info",
            "--format",
            "json",
            "--deadline=5m",
            "--lock-wait",
            "10s",
            "--out-of-order",
        ])
        .unwrap();
        assert_eq!(c.command, Command::Info);
        assert_eq!(c.format, Format::Json);
        assert_eq!(
            c.overrides,
            [
                ("SCHEMAGATE_DEADLINE".to_string(), "5m".to_string()),
                ("SCHEMAGATE_LOCK_WAIT".to_string(), "10s".to_string()),
                ("SCHEMAGATE_OUT_OF_ORDER".to_string(), "true".to_string())
            ]
        );
    }

    #[test]
    fn unknown_commands_and_flags_are_usage_errors() {
        assert!(
            p(&["migrat"])
                .unwrap_err()
                .contains("unknown command `migrat`")
        );
        assert!(
            p(&["--deadlin", "5m"])
                .unwrap_err()
                .contains("unknown flag --deadlin")
        );
        assert!(p(&["info", "extra"]).is_err());
        for url in ["postgres://u:hunter2@db/app", "host=db password=hunter2"] {
            for args in [vec!["migrate", url], vec![url]] {
                let e = p(&args).unwrap_err();
                assert!(e.contains("not shown") && !e.contains("hunter2"), "{e}");
            }
        }
        assert!(p(&["--format", "xml"]).is_err());
        assert!(
            p(&["--deadline"])
                .unwrap_err()
                .contains("--deadline needs a value")
        );
    }

    #[test]
    fn lint_takes_files_and_its_own_formats() {
        use crate::core::lint::report::Format as L;
        let c = p(&["lint", "a.sql", "--format", "sarif", "b.sql"]).unwrap();
        assert_eq!(c.command, Command::Lint);
        assert_eq!(c.files, ["a.sql", "b.sql"]);
        assert_eq!(c.lint_format, L::Sarif);
        assert!(
            p(&["lint", "--format", "table"])
                .unwrap_err()
                .contains("text, json, sarif, github")
        );
        assert!(p(&["info", "--format", "sarif"]).is_err());
        assert!(p(&["lint", "--rules"]).unwrap().list_rules);
    }

    #[test]
    fn plan_takes_undo_and_nothing_else() {
        let c = p(&["plan", "undo", "--target", "1"]).unwrap();
        assert_eq!((c.command, c.plan_undo), (Command::Plan, true));
        assert!(!p(&["plan"]).unwrap().plan_undo);
        assert_eq!(p(&["undo"]).unwrap().command, Command::Undo);
        let c = p(&["compare", "--all", "--format", "json"]).unwrap();
        assert_eq!(
            (c.command, c.all_levels, c.format),
            (Command::Compare, true, Format::Json)
        );
        assert!(!p(&["compare"]).unwrap().all_levels);
        assert!(p(&["info", "--all"]).is_err(), "--all is compare's alone");
        assert!(p(&["plan", "undo", "undo"]).is_err());
        assert!(p(&["info", "undo"]).is_err());
    }

    #[test]
    fn flyway_arguments_go_before_or_after_the_command() {
        let c = p(&[
            "-url=jdbc:postgresql://db/app",
            "",
            "migrate",
            "-placeholders.Owner=x=y",
            "-password=",
            "-X",
            "-outputType=json",
        ])
        .unwrap();
        assert_eq!(c.command, Command::Migrate);
        assert_eq!(c.format, Format::Json);
        assert_eq!(
            c.flyway_args,
            [
                ("url".to_string(), "jdbc:postgresql://db/app".to_string()),
                ("placeholders.Owner".to_string(), "x=y".to_string()),
                ("password".to_string(), String::new()),
            ]
        );
        assert_eq!(
            c.overrides,
            [("SCHEMAGATE_LOG".to_string(), "debug".to_string())]
        );
        assert_eq!(p(&["-X", "-q", "info"]).unwrap().overrides[0].1, "warn");
        assert_eq!(p(&["-?"]).unwrap().command, Command::Help);
        assert!(p(&["-outputType=xml"]).unwrap_err().contains("Use 'json'"));
        assert!(
            p(&["-url", "jdbc:postgresql://db/app"])
                .unwrap_err()
                .contains("-key=value")
        );
        // A value that lost its `=` is not echoed; a setting's or a flag's plain name is.
        for (arg, shows) in [
            ("-passwordhunter2", false),
            ("-password:hunter2", false),
            ("-password", true),
            ("-verbose", true),
        ] {
            let e = p(&[arg, "migrate"]).unwrap_err();
            assert_eq!(e.contains(arg), shows, "{e}");
        }
    }

    #[test]
    fn a_bare_boolean_flag_keeps_the_command_after_it() {
        let c = p(&["--out-of-order", "migrate"]).unwrap();
        assert_eq!(c.command, Command::Migrate);
        assert_eq!(
            c.overrides,
            [("SCHEMAGATE_OUT_OF_ORDER".to_string(), "true".to_string())]
        );
        let c = p(&["--ignore-missing", "false", "info"]).unwrap();
        assert_eq!(
            (c.command, c.overrides[0].1.as_str()),
            (Command::Info, "false")
        );
    }
}
