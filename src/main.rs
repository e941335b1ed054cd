//! Entry point: parse, load settings, run on a single-threaded runtime, and turn the outcome into the exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use schemagate::app::{Report, Run, read_scripts_aside};
use schemagate::cli::{self, Command, Format};
use schemagate::config;
use schemagate::core::metrics::Build;
use schemagate::core::outcome::{EXIT_CODES, Failure, FailureKind, exit_code};
use schemagate::fsio::FsSecretFiles;
use schemagate::output;
use schemagate::runtime::{Stop, watch_signals_and_deadline};
use schemagate::telemetry;

/// The shipped static binary links musl, whose allocator unmaps and maps pages again as a
/// run allocates and frees (hundreds of mmap/munmap calls while reading 1000 scripts) and
/// takes about a third of a no-op run's CPU. jemalloc keeps them. `make bench` measures it.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the official Flyway image keeps its install (`/flyway/conf`, `/flyway/sql`); the
/// schemagate image has the same layout for the drop-in (SPEC §13).
const FLYWAY_INSTALL_DIR: &str = "/flyway";

fn termination_log_target(env: &[(String, String)]) -> (PathBuf, bool) {
    match env
        .iter()
        .rev()
        .find(|(k, _)| k == "SCHEMAGATE_TERMINATION_LOG")
    {
        Some((_, v)) => (PathBuf::from(v), true),
        None => (PathBuf::from("/dev/termination-log"), false),
    }
}

fn migrations(n: usize) -> String {
    if n == 1 {
        "1 migration".into()
    } else {
        format!("{n} migrations")
    }
}

/// What the run did, as the summary says it: `2 migrations applied`, `2 versions undone`.
fn tally(command: &str, report: &Report) -> String {
    if command == "undo" {
        match report.undone {
            1 => "1 version undone".to_string(),
            n => format!("{n} versions undone"),
        }
    } else {
        format!("{} applied", migrations(report.applied))
    }
}

/// SPEC §3's name of an exit code.
fn code_name(code: u8) -> &'static str {
    EXIT_CODES
        .iter()
        .find(|e| e.code == code)
        .map_or("internal", |e| e.name)
}

fn finish(
    outcome: &Result<(), Failure>,
    command: Command,
    report: &Report,
    started: std::time::Instant,
    env: &[(String, String)],
) -> ExitCode {
    let code = exit_code(outcome);
    let name = code_name(code);
    let duration_ms = started.elapsed().as_millis() as u64;
    let command = format!("{command:?}").to_lowercase();
    let before = report.before.as_deref().unwrap_or("<none>");
    let after = report.after.as_deref().unwrap_or("<none>");
    // A deferral is part of a successful outcome: said in the summary and the termination
    // message, so that `kubectl describe pod` of the hook shows what still waits and why.
    let deferred = match &report.deferral {
        Some(reason) if !report.deferred.is_empty() => {
            format!("; deferred {}: {reason}", report.deferred.join(", "))
        }
        _ => String::new(),
    };
    let paragraph = match outcome {
        Ok(()) if command == "compare" => {
            tracing::info!(
                command,
                outcome = name,
                exit_code = code,
                duration_ms,
                "compare ok: identical ({}) in {duration_ms} ms",
                report.compared
            );
            format!(
                "schemagate compare: ok (exit 0); identical: {}",
                report.compared
            )
        }
        Err(f) if command == "compare" => {
            tracing::error!(command, outcome = name, exit_code = code, duration_ms, error = %f.message, "compare failed: {}", f.message);
            format!("schemagate compare: {name} (exit {code}): {}", f.message)
        }
        Ok(()) if command == "lint" => {
            tracing::info!(
                command,
                outcome = name,
                exit_code = code,
                duration_ms,
                "lint ok in {duration_ms} ms"
            );
            "schemagate lint: ok (exit 0)".to_string()
        }
        Ok(()) => {
            tracing::info!(
                command,
                outcome = name,
                exit_code = code,
                applied = report.applied,
                undone = report.undone,
                deferred = report.deferred.len(),
                schema_version_before = before,
                schema_version_after = after,
                duration_ms,
                "{command} ok: {}, schema version {before} -> {after} in {duration_ms} ms{deferred}",
                tally(&command, report)
            );
            format!(
                "schemagate {command}: ok (exit 0); {}; schema version {after}{deferred}",
                tally(&command, report)
            )
        }
        Err(f) => {
            tracing::error!(command, outcome = name, exit_code = code, applied = report.applied, undone = report.undone, schema_version_before = before, schema_version_after = after, duration_ms,
                error = %f.message, "{command} failed: {}", f.message);
            format!(
                "schemagate {command}: {name} (exit {code}): {}; {} before it; schema version {after}",
                f.message,
                tally(&command, report)
            )
        }
    };
    let (path, explicit) = termination_log_target(env);
    output::write_termination_log(&path, explicit, &paragraph);
    ExitCode::from(code)
}

fn print_version(cli: &cli::Cli) {
    if cli.exit_codes {
        match cli.format {
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(EXIT_CODES).unwrap_or_default()
            ),
            Format::Table => {
                for e in EXIT_CODES {
                    println!(
                        "{:>3}  {:<18} retry {:<3}  {}",
                        e.code,
                        e.name,
                        if e.retryable { "yes" } else { "no" },
                        e.meaning
                    );
                }
            }
        }
        return;
    }
    let (commit, target) = (env!("SCHEMAGATE_COMMIT"), env!("SCHEMAGATE_TARGET"));
    match cli.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({"version": VERSION, "commit": commit, "target": target})
        ),
        Format::Table => println!("schemagate {VERSION} (commit {commit}, target {target})"),
    }
}

fn install_panic_hook(env: &[(String, String)]) {
    let (path, explicit) = termination_log_target(env);
    std::panic::set_hook(Box::new(move |info| {
        let msg = format!(
            "schemagate {VERSION} ({}) internal error, please report it: {info}",
            env!("SCHEMAGATE_COMMIT")
        );
        eprintln!("{msg}");
        output::write_termination_log(
            &path,
            explicit,
            &format!("schemagate: internal (exit 70): {msg}"),
        );
        // Exit rather than unwind or abort: the code must say "bug", and the server drops
        // the session (and with it the lock) when the socket closes.
        std::process::exit(i32::from(FailureKind::Internal.exit_code()));
    }));
}

fn main() -> ExitCode {
    let started = std::time::Instant::now();
    let mut argv = std::env::args();
    // Started as `flyway` (the image's link), with options but no command: Flyway prints
    // its usage and exits 0; migrating instead would surprise whoever wrote that line.
    let as_flyway = argv.next().is_some_and(|a| {
        std::path::Path::new(&a)
            .file_name()
            .is_some_and(|n| n == "flyway")
    });
    let args: Vec<String> = argv.collect();
    let cli = match cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("schemagate: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(FailureKind::Usage.exit_code());
        }
    };
    if as_flyway && !cli.command_given {
        print!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    match cli.command {
        Command::Help => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            print_version(&cli);
            return ExitCode::SUCCESS;
        }
        Command::Lint if cli.list_rules => {
            print!("{}", schemagate::commands::lint::rules_table());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    env.extend(cli.overrides.iter().cloned());
    install_panic_hook(&env);
    // Flyway's configuration becomes schemagate's variables before anything reads them
    // (SPEC §13), so both are checked by the same code.
    let flyway = match config::flyway::translate(
        &env,
        &cli.flyway_args,
        &FsSecretFiles,
        std::path::Path::new(FLYWAY_INSTALL_DIR),
    ) {
        Ok(t) => t,
        Err(e) => {
            let _ = output::init_logging(None, "info");
            let f: Failure = e.into();
            return finish(&Err(f), cli.command, &Report::default(), started, &env);
        }
    };
    env.extend(flyway.env.iter().cloned());

    // `lint` connects only when connection settings are given (SPEC §8); without them the
    // user it would connect as is a stand-in that is never used.
    let offline = cli.command == Command::Lint && !config::connection_given(&env);
    let mut config_env = env.clone();
    if offline {
        config_env.push(("PGUSER".into(), "schemagate-lint".into()));
    }
    let mut settings = match config::load(&config_env, &FsSecretFiles) {
        Ok(s) => s,
        Err(mut e) => {
            let _ = output::init_logging(None, "info");
            e.message = flyway.relabel(&e.message);
            let f: Failure = e.into();
            return finish(&Err(f), cli.command, &Report::default(), started, &env);
        }
    };
    // From here on the scripts are read on a thread of their own, while logging, the
    // runtime and the connection start: on a no-op run this is most of the work.
    // What only a Flyway configuration can say, and no variable carries.
    settings.placeholder_syntax = flyway.placeholder_syntax.clone();
    settings.scripts.defaults.placeholder_replacement &= flyway.placeholder_replacement;
    let scripts = read_scripts_aside(&settings.locations, settings.scripts);
    if let Err(e) = output::init_logging(settings.log_format, &settings.log_filter) {
        let _ = output::init_logging(None, "info");
        return finish(
            &Err(Failure::new(FailureKind::Config, e)),
            cli.command,
            &Report::default(),
            started,
            &env,
        );
    }
    let target = if offline {
        "(none: no connection settings, linting statically)".to_string()
    } else {
        settings.conn.redacted_url()
    };
    tracing::info!(command = ?cli.command, target = %target, version = VERSION, "schemagate starting");
    if flyway.active {
        let files: Vec<String> = flyway
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        tracing::info!(
            config_files = %files.join(","),
            "reading Flyway's configuration too (FLYWAY_* variables, -key=value arguments{}); Flyway's defaults apply",
            if files.is_empty() { String::new() } else { format!(", {}", files.join(", ")) }
        );
    }
    for warning in &flyway.warnings {
        tracing::warn!("{warning}");
    }
    for warning in &settings.warnings {
        tracing::warn!("{}", flyway.relabel(warning));
    }

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return finish(
                &Err(Failure::new(
                    FailureKind::Internal,
                    format!("starting the runtime: {e}"),
                )),
                cli.command,
                &Report::default(),
                started,
                &env,
            );
        }
    };
    // The commands that change the schema in a release (migrate) and in its rollback (undo)
    // send; what reads or repairs does not.
    let sends = match cli.command {
        Command::Migrate => Some("migrate"),
        Command::Undo => Some("undo"),
        _ => None,
    };
    let (metrics, telemetry) = telemetry::start(
        &settings,
        sends,
        started,
        Build {
            version: VERSION,
            commit: env!("SCHEMAGATE_COMMIT"),
        },
    );
    let mut report = Report::default();
    let outcome = runtime.block_on(async {
        let stop = Stop::new();
        let deadline = tokio::time::Instant::from_std(started + settings.deadline);
        let watcher = tokio::spawn(watch_signals_and_deadline(stop.clone(), deadline));
        let outcome = if cli.command == Command::Compare {
            drop(scripts);
            schemagate::commands::compare::compare_command(
                &settings,
                &stop,
                cli.format,
                cli.all_levels,
                &mut report.compared,
            )
            .await
        } else if cli.command == Command::Lint {
            drop(scripts);
            schemagate::commands::lint::lint_command(
                &settings,
                &cli.files,
                cli.lint_format,
                offline,
            )
            .await
        } else {
            let mut run = Run::new(&settings, &stop, deadline, cli.format, scripts);
            run.plan_undo = cli.plan_undo;
            run.metrics = metrics.clone();
            run.run(cli.command, &mut report).await
        };
        watcher.abort();
        // A stop that arrived while the run was already failing for its own reason is still
        // what the caller must see: a retry can help.
        match (outcome, stop.reason()) {
            (Err(f), Some(r)) if f.kind != FailureKind::Partial && f.kind != r.failure_kind() => {
                Err(Failure::new(
                    r.failure_kind(),
                    format!("{}: {}", r.describe(), f.message),
                ))
            }
            (o, _) => o,
        }
    });
    // Don't wait for stray tasks (a connection still closing): the outcome is decided.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    // A message that names a variable the Flyway configuration set names the setting the
    // user wrote (`FLYWAY_CREATE_SCHEMAS (as SCHEMAGATE_CREATE_SCHEMAS)=false`).
    let outcome = outcome.map_err(|mut f| {
        f.message = flyway.relabel(&f.message);
        f
    });
    if let Some(telemetry) = telemetry {
        let code = exit_code(&outcome);
        telemetry.finish(
            code,
            code_name(code),
            outcome.as_ref().err().map(|f| f.message.as_str()),
        );
    }
    finish(&outcome, cli.command, &report, started, &env)
}
