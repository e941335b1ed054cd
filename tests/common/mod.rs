//! The integration-test harness: real PostgreSQL servers started by the tests themselves, one
//! database per test, and a runner for the real binary that never hangs CI.
//!
//! ```ignore
//! mod common;
//! use common::*;
//!
//! #[test]
//! fn applies_two_migrations() {
//!     let db = PgServer::shared().fresh_db();
//!     let scripts = migrations_dir(&[("V1__a.sql", "create table a(id int);"),
//!                                    ("sub/V2__b.sql", "create table b(id int);")]);
//!     Sg::new(env!("CARGO_BIN_EXE_schemagate"))
//!         .arg("migrate")
//!         .envs(db.env())
//!         .env("SCHEMAGATE_LOCATIONS", scripts.path())
//!         .run()
//!         .assert_code(0);
//!     assert_eq!(db.history("schemagate_history").len(), 2);
//!     assert_eq!(db.advisory_locks_held(), 0);
//! }
//! ```
//!
//! Nothing needs to be set up by hand: the harness finds the PostgreSQL server binaries (the
//! highest version under `/usr/lib/postgresql/*/bin`, or `SG_TEST_PG_BINDIR`), makes a
//! cluster in a temporary directory and starts it on a free port. If PostgreSQL cannot be
//! started the test panics with the reason and the fix (install `postgresql-15`); it never
//! skips, with `CI=true` or without.
//!
//! # Servers
//! - [`PgServer::shared()`]: one server per test process (a test file is one process under
//!   `cargo test`), started on first use and shared by every test of the file. Never stop
//!   it: the stop/start helpers panic on it.
//! - [`PgServer::start`]`(`[`ServerOptions`]`)`: a server owned by one test, stopped and
//!   removed on drop; for tests that stop, restart or kill the server, or need TLS
//!   (`tls`, `require_tls`, `require_client_cert`), `password_auth`, `max_connections`, a
//!   fixed `port` (reserve one with [`free_port`], start the runner, start the server
//!   later), `extra_conf` lines or `extra_hba` lines.
//! - Methods: `port()`, `host()` (`127.0.0.1`), `socket_dir()`, `data_dir()`, `log_path()`,
//!   `log_contents()`, `wait_for_log(text, limit)`, `stop_fast()` (`pg_ctl -m fast`: what a
//!   node drain does), `stop_immediate()`, `kill9_postmaster()`, `start_again()` (same data
//!   and port), `is_running()`, `postmaster_pid()`, `terminate_backend(pid)`,
//!   `kill9_backend(pid)` (a crash: the server ends every session, recovers, and the call
//!   returns when it accepts connections again), `admin_exec(sql)`, `admin_client(db)`,
//!   `fresh_db()`.
//! - [`PgServer::start_standby`]`(name)` on a server started with
//!   [`ServerOptions::primary`]`()`: a real `pg_basebackup` replica streaming from it, owned
//!   by the test (see `standby.rs`: `pause_replay`, `resume_replay`, `replication_rows`,
//!   `wait_until_caught_up`).
//! - [`PgServer::fresh_db`] → [`TestDb`]: `CREATE DATABASE` with a unique name (`t_<pid>_<n>_
//!   <test name>`), so tests run in parallel without seeing each other.
//!
//! Every server listens on `127.0.0.1` only (not `::1`; clients that resolve `localhost` to
//! both fall through to IPv4) and on a unix socket in its own directory. The superuser is
//! [`SUPERUSER`] (`postgres`) with password [`SUPERUSER_PASSWORD`], needed over TCP only with
//! `password_auth`. The unix socket is always `trust`, and the harness's own clients
//! ([`TestDb::client`] and the helpers) use it, so TLS-only or password-only servers can
//! still be inspected; they set `application_name = sg-harness` and
//! `statement_timeout = 120s`. Settings: `fsync = off` (a *process* crash loses nothing
//! committed), `max_connections = 200` unless set (a set value is an exact cap:
//! `superuser_reserved_connections = 0`, and the harness's connections count).
//!
//! The server log is `<data dir>/server.log`. Every line carries the SQLSTATE, application
//! and database (`log_line_prefix = '%m [%p] %e %a@%d '`), so `" 23505 "` finds a unique
//! violation. When a test panics, the drop of its [`TestDb`] prints that database's log
//! lines, and the drop of a dedicated [`PgServer`] the log's tail, with the log path;
//! libtest shows them under the failure.
//!
//! # Databases
//! [`TestDb`]: `name()`, `port()`, `url()` (`postgres://postgres[:pw]@127.0.0.1:PORT/NAME?
//! sslmode=disable`), `env()` (`PGHOST PGPORT PGUSER PGDATABASE PGSSLMODE=disable
//! [PGPASSWORD]`, for the binary), `url_as(user, pw)` / `env_as(user, pw)` (another role;
//! roles are cluster-wide, so name them with [`unique_name`]), `client()`,
//! `client_with_app(name)` (e.g. to play another runner holding the lock), `exec(sql)`,
//! `query_rows(sql)` (simple protocol: every value arrives as text, `NULL` is `None`),
//! `query_scalar(sql)`, `history(table)` / `history_in(schema, table)` → [`HistoryRow`]s by
//! rank, `table_exists(name)`, `advisory_locks_held()` (granted, this database),
//! `advisory_locks_waiting()`, `backends_with_app_prefix(prefix)`,
//! `backend_pids_with_app_prefix(prefix)`, `log_lines()`, `wait_for_log_line(text, limit)`.
//!
//! # Running the binary
//! [`Sg`]`::new(env!("CARGO_BIN_EXE_schemagate"))` with `.arg() .args() .env(k, v)
//! .envs(iter) .env_remove(k) .current_dir(d) .stdin(bytes) .timeout(d)
//! .no_termination_log()`, then `.run()` → [`Outcome`] or `.spawn()` → [`Running`]
//! (`pid()`, `signal(libc::SIGTERM)`, `wait_for_stderr(text, limit)`, `stderr_so_far()`,
//! `is_running()`, `wait()`).
//! - The child's environment is empty plus `PATH` (and `LLVM_PROFILE_FILE` under coverage)
//!   plus what the test passes, a later value for a name winning; the developer's own `PG*`
//!   or `DATABASE_URL` never leak in.
//! - Unless the test sets `SCHEMAGATE_TERMINATION_LOG` or calls `.no_termination_log()`, it
//!   points into a temporary directory and its text comes back as
//!   `Outcome::termination_log` (a test run as root never writes `/dev/termination-log`).
//! - The child leads its own process group. After the timeout (default 60 s) the group is
//!   killed and `run()` / `wait()` panic with the captured output; `run_allow_timeout()` /
//!   `wait_allow_timeout()` return it with `timed_out = true` instead.
//! - [`Outcome`]: `code`, `signal`, `stdout`, `stderr`, `elapsed`, `timed_out`,
//!   `termination_log`; `assert_code(n)`, `assert_success()`, `stderr_json_lines()`,
//!   `stdout_json()`; `Display` shows all of it.
//!
//! # Files, certificates, ports
//! [`migrations_dir`]`(&[(path, content)])` (paths may hold subdirectories),
//! [`write_file`]`(dir, name, content)`, [`free_port`]`()`, [`unique_name`]`(prefix)`,
//! [`TlsFiles`]`::generate(dir, &["localhost", "127.0.0.1"])` (CA, server and client
//! certificates; also `self_signed`, `expired`, `client_cert_for(user)`), [`psql`] and
//! [`psql_query`]`(conninfo, sql)` for checks that need libpq itself (TLS).
//!
//! # Metrics receivers
//! [`Pushgateway`]`::start()` (Debian's `prometheus-pushgateway`, memory only; `url()`,
//! `scrape()` → [`Scrape`] with `get(name, labels)`), [`promtool_check`]`(text)`, and
//! [`HttpRecorder`]`::start(`[`Answer`]`)`: a listener that records each request (method,
//! path, headers, body) and answers with a status, or never answers.
//!
//! # Running as root, and leaks
//! PostgreSQL refuses to run as root. When the tests run as root (CI, containers), `initdb`
//! and `postgres` run as the `postgres` user if it exists, else `nobody` (`SG_TEST_PG_USER`
//! overrides), and the server's directory belongs to that user; otherwise they run as the
//! current user.
//!
//! Every server and every binary the tests start is spawned by one harness thread that
//! lives as long as the test process, with `PR_SET_PDEATHSIG` (`SIGQUIT` for `postgres`: an
//! immediate shutdown that ends its backends and frees shared memory; `SIGKILL` for the
//! binary), so none outlives the test process, even after an abort or a `SIGKILL`. (Only
//! grandchildren of a started program are not covered; the binary has none.) At a normal
//! exit, panics included, an `atexit` handler stops the servers still running and removes
//! their directories; directories of a process that died otherwise are removed (and any
//! server in them stopped) when the next test process starts a server. `SG_TEST_KEEP=1`
//! keeps the directories for debugging. They live under `$TMPDIR/schemagate-pg-<uid>/`
//! (`/tmp` when `TMPDIR` is long: socket paths are limited), where a cluster made by
//! `initdb` once is kept as a template and copied for each server.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The cluster's superuser, made by `initdb -U`.
pub const SUPERUSER: &str = "postgres";
/// The superuser's password on every harness server (needed over TCP only with `password_auth`).
pub const SUPERUSER_PASSWORD: &str = "sg-harness-pw";
/// `application_name` of the harness's own connections.
pub const HARNESS_APP: &str = "sg-harness";
/// Bump when the template cluster's settings change, so old templates are not reused.
const TEMPLATE_GENERATION: u32 = 1;
/// Default time limit of one run of the binary.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Failing loudly
// ---------------------------------------------------------------------------------------

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Panics with `msg`: a test that cannot get its PostgreSQL fails, with `CI=true` or
/// without; it never skips.
fn fail_setup(msg: &str) -> ! {
    let why = if in_ci() {
        "CI=true: a missing PostgreSQL is a failure, never a skip"
    } else {
        "the integration tests fail rather than skip without one"
    };
    panic!(
        "cannot start PostgreSQL for the integration tests ({why}):\n{msg}\n\
         Settings: SG_TEST_PG_BINDIR (server binaries), SG_TEST_PG_USER (user to run them as \
         when root), SG_TEST_KEEP=1 (keep data directories); see tests/common/mod.rs."
    );
}

// ---------------------------------------------------------------------------------------
// Finding PostgreSQL and the user to run it as
// ---------------------------------------------------------------------------------------

const INSTALL_HINT: &str = "Install them with `apt-get install -y postgresql-15` (Debian 12; \
     the Makefile's test setup does this).";

struct PgInstall {
    bindir: PathBuf,
    major: String,
}

fn pg_install() -> Result<&'static PgInstall, String> {
    static INSTALL: OnceLock<Result<PgInstall, String>> = OnceLock::new();
    INSTALL
        .get_or_init(find_install)
        .as_ref()
        .map_err(Clone::clone)
}

fn find_install() -> Result<PgInstall, String> {
    let has_server = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    if let Some(dir) = std::env::var_os("SG_TEST_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        if !has_server(&dir) {
            return Err(format!(
                "SG_TEST_PG_BINDIR={} holds no `postgres` and `initdb`. {INSTALL_HINT}",
                dir.display()
            ));
        }
        let out = Command::new(dir.join("postgres"))
            .arg("--version")
            .output()
            .map_err(|e| format!("cannot run {}/postgres --version: {e}", dir.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let major = text
            .split_whitespace()
            .last()
            .and_then(|v| v.split('.').next())
            .unwrap_or("unknown")
            .to_string();
        return Ok(PgInstall { bindir: dir, major });
    }
    let base = Path::new("/usr/lib/postgresql");
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_server(&bin).then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((v, bindir)) => Ok(PgInstall {
            bindir,
            major: v.to_string(),
        }),
        None => Err(format!(
            "no PostgreSQL server binaries (initdb, postgres) under {}/*/bin. {INSTALL_HINT}",
            base.display()
        )),
    }
}

/// The path of the `psql` beside the server binaries (`/usr/lib/postgresql/N/bin/psql`).
pub fn psql() -> PathBuf {
    match pg_install() {
        Ok(i) => i.bindir.join("psql"),
        Err(e) => fail_setup(&e),
    }
}

struct ServerUser {
    uid: u32,
    gid: u32,
    name: String,
    /// Running as root: spawn `initdb`/`postgres` with this uid/gid.
    switch: bool,
}

fn server_user() -> Result<&'static ServerUser, String> {
    static USER: OnceLock<Result<ServerUser, String>> = OnceLock::new();
    USER.get_or_init(find_server_user)
        .as_ref()
        .map_err(Clone::clone)
}

fn find_server_user() -> Result<ServerUser, String> {
    // SAFETY: plain libc getters without arguments.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if euid != 0 {
        return Ok(ServerUser {
            uid: euid,
            gid: egid,
            name: format!("uid {euid}"),
            switch: false,
        });
    }
    let wanted: Vec<String> = match std::env::var("SG_TEST_PG_USER") {
        Ok(u) if !u.is_empty() => vec![u],
        _ => vec!["postgres".into(), "nobody".into()],
    };
    for name in &wanted {
        if let Some((uid, gid)) = lookup_user(name) {
            if uid != 0 {
                return Ok(ServerUser {
                    uid,
                    gid,
                    name: name.clone(),
                    switch: true,
                });
            }
        }
    }
    Err(format!(
        "the tests run as root and PostgreSQL refuses to run as root, but none of the users \
         {wanted:?} exists to run it as. Create one (`useradd --system postgres`, which \
         `apt-get install postgresql-15` also does) or set SG_TEST_PG_USER."
    ))
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `pwd` and `buf` outlive the call; getpwnam_r is the thread-safe variant.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some((pwd.pw_uid, pwd.pw_gid))
    }
}

// ---------------------------------------------------------------------------------------
// The spawner thread: every child is tied to the test process's lifetime
// ---------------------------------------------------------------------------------------

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` from the harness's spawner thread, which lives as long as the process, with
/// `PR_SET_PDEATHSIG = death_signal`. (The parent-death signal follows the *thread* that
/// forked, so spawning from a test's own thread would kill the child when that test ends.)
fn spawn_tied(mut cmd: Command, death_signal: libc::c_int) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let parent = std::process::id();
    // SAFETY: signal, prctl, getppid and _exit are async-signal-safe; nothing here allocates.
    unsafe {
        cmd.pre_exec(move || {
            // A shell's background job inherits SIGINT/SIGQUIT ignored, and an ignored SIGQUIT
            // would be lost by a postmaster that has not installed its handlers yet.
            for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP] {
                libc::signal(sig, libc::SIG_DFL);
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("sg-harness-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The sender lives in a static, so the loop never ends; should it, the
                // thread must still never exit.
                loop {
                    thread::park();
                }
            })
            .expect("cannot start the harness spawner thread");
        tx
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.send((cmd, reply_tx))
        .map_err(|_| io::Error::other("harness spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("harness spawner thread did not answer"))?
}

fn send_signal(pid: u32, sig: libc::c_int) -> bool {
    // SAFETY: kill(2) with a pid we started.
    unsafe { libc::kill(pid as libc::pid_t, sig) == 0 }
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks existence.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// Waits for `child` up to `limit`; `None` if it is still running.
fn wait_child(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => return None,
            Err(_) => return None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Directories, stale clean-up, exit clean-up
// ---------------------------------------------------------------------------------------

fn harness_root() -> PathBuf {
    // SAFETY: plain getter.
    let uid = unsafe { libc::geteuid() };
    let mut base = std::env::temp_dir();
    // Unix socket paths are limited to 107 bytes: fall back to /tmp for a long TMPDIR.
    if base.as_os_str().len() > 40 {
        base = PathBuf::from("/tmp");
    }
    base.join(format!("schemagate-pg-{uid}"))
}

fn keep_dirs() -> bool {
    std::env::var("SG_TEST_KEEP").is_ok_and(|v| !v.is_empty() && v != "0")
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Servers to stop at process exit: id → (postmaster pid or 0, server directory).
fn live_servers() -> &'static Mutex<HashMap<u64, (u32, PathBuf)>> {
    static LIVE: OnceLock<Mutex<HashMap<u64, (u32, PathBuf)>>> = OnceLock::new();
    LIVE.get_or_init(|| {
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(cleanup_at_exit);
        }
        Mutex::new(HashMap::new())
    })
}

extern "C" fn cleanup_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let Some(map) = live_servers().try_lock().ok() else {
            return; // PDEATHSIG and the next run's stale clean-up take over.
        };
        let servers: Vec<(u32, PathBuf)> = map.values().cloned().collect();
        drop(map);
        for (pid, _) in &servers {
            if *pid != 0 {
                send_signal(*pid, libc::SIGQUIT);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for (pid, dir) in servers {
            while pid != 0 && Instant::now() < deadline {
                let mut status = 0;
                // SAFETY: reaping our own child; -1 means someone else reaped it.
                let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
                if r != 0 {
                    break;
                }
                thread::sleep(Duration::from_millis(5));
            }
            remove_sysv_segment(&dir.join("data"));
            if !keep_dirs() {
                let _ = fs::remove_dir_all(&dir);
            }
        }
    });
}

/// Removes directories of test processes that are gone (once per process).
fn clean_stale_dirs(root: &Path) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if keep_dirs() {
            return;
        }
        let Ok(entries) = fs::read_dir(root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            // s<pid>-<n>: a server directory; t<pid>-<n>: a template being made.
            let Some(pid) = name
                .strip_prefix('s')
                .or_else(|| name.strip_prefix('t'))
                .and_then(|rest| rest.split('-').next())
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            let stale = if pid == std::process::id() as i32 {
                false
            } else if let Ok(lock) = File::open(path.join("owner.lock")) {
                // The owner holds an exclusive flock for its whole life.
                // SAFETY: flock on an fd we own.
                unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
            } else {
                !process_alive(pid)
            };
            if stale {
                // A postmaster that outlived its test process (it should not) goes first.
                let data = path.join("data");
                if let Some(p) = postmaster_pid_of(&data) {
                    let cmdline = fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                    if String::from_utf8_lossy(&cmdline).contains(&*path.to_string_lossy()) {
                        stop_foreign_postmaster(p);
                    }
                }
                remove_sysv_segment(&data);
                let _ = fs::remove_dir_all(&path);
            }
        }
    });
}

/// The pid in `<data>/postmaster.pid`, if the file is there.
fn postmaster_pid_of(data: &Path) -> Option<i32> {
    let text = fs::read_to_string(data.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// SIGQUIT (immediate shutdown, which releases shared memory), then SIGKILL after 5 s, for a
/// postmaster that is not our child.
fn stop_foreign_postmaster(pid: i32) {
    // SAFETY: kill(2) on a postgres of a dead test process, checked by the caller.
    unsafe { libc::kill(pid, libc::SIGQUIT) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    if process_alive(pid) {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// A postmaster killed with SIGKILL leaves its small System V segment behind (its id is in
/// line 7 of `postmaster.pid`); mark it for removal (the kernel frees it when the last
/// dying backend detaches). Call only when the postmaster is dead. Dynamic shared memory is
/// in the data directory (`dynamic_shared_memory_type = mmap`) and goes with it.
fn remove_sysv_segment(data: &Path) {
    let Ok(text) = fs::read_to_string(data.join("postmaster.pid")) else {
        return;
    };
    let Some(shmid) = text
        .lines()
        .nth(6)
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|id| id.parse::<libc::c_int>().ok())
    else {
        return;
    };
    let Ok(user) = server_user() else {
        return;
    };
    // SAFETY: IPC_STAT fills `ds`; IPC_RMID only on a segment of the server's user.
    unsafe {
        let mut ds: libc::shmid_ds = std::mem::zeroed();
        if libc::shmctl(shmid, libc::IPC_STAT, &mut ds) == 0 && ds.shm_perm.uid == user.uid {
            libc::shmctl(shmid, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

fn make_dir_for_server(dir: &Path, user: &ServerUser) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if user.switch {
        chown(dir, Some(user.uid), Some(user.gid))
            .map_err(|e| format!("cannot chown {} to {}: {e}", dir.display(), user.name))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("cannot chmod {}: {e}", dir.display()))
}

fn give_to_server_user(path: &Path, mode: u32) -> Result<(), String> {
    let user = server_user()?;
    if user.switch {
        chown(path, Some(user.uid), Some(user.gid))
            .map_err(|e| format!("cannot chown {} to {}: {e}", path.display(), user.name))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))
}

fn server_command(program: &Path) -> Result<Command, String> {
    let user = server_user()?;
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("LC_ALL", "C")
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null());
    if user.switch {
        // std drops supplementary groups (setgroups(0)) when switching from root.
        cmd.uid(user.uid).gid(user.gid);
    }
    Ok(cmd)
}

/// An initdb-made cluster kept under the harness root and copied for each server.
fn template_cluster(root: &Path) -> Result<PathBuf, String> {
    static TEMPLATE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let install = pg_install()?;
            let user = server_user()?;
            let path = root.join(format!(
                "template-g{TEMPLATE_GENERATION}-pg{}-uid{}",
                install.major, user.uid
            ));
            if path.join("PG_VERSION").is_file() {
                return Ok(path);
            }
            let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let tmp = root.join(format!("t{}-{n}", std::process::id()));
            make_dir_for_server(&tmp, user)?;
            let out = server_command(&install.bindir.join("initdb"))?
                .arg("-D")
                .arg(&tmp)
                .args(["-U", SUPERUSER, "--auth=trust", "--encoding=UTF8"])
                .args(["--locale=C", "--no-sync", "--no-instructions"])
                .output()
                .map_err(|e| format!("cannot run {}/initdb: {e}", install.bindir.display()))?;
            if !out.status.success() {
                let _ = fs::remove_dir_all(&tmp);
                return Err(format!(
                    "initdb (as {}) failed with {}:\n{}{}",
                    user.name,
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            // Another process may have won the race; its template is as good as ours.
            if fs::rename(&tmp, &path).is_err() {
                let _ = fs::remove_dir_all(&tmp);
                if !path.join("PG_VERSION").is_file() {
                    return Err(format!("cannot move the template to {}", path.display()));
                }
            }
            Ok(path)
        })
        .clone()
}

// ---------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------

/// How a dedicated server is set up. `Default` is a plain trust-authenticated server on a
/// free port.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Enables `ssl = on` with these files (copied into the data directory).
    pub tls: Option<TlsFiles>,
    /// Refuse TCP connections without TLS (`hostnossl … reject`).
    pub require_tls: bool,
    /// Require a client certificate signed by `tls.ca_cert` whose CN is the user
    /// (`hostssl … clientcert=verify-full`); implies `require_tls`.
    pub require_client_cert: bool,
    /// A fixed port (reserve one with [`free_port`]); else a free one is chosen.
    pub port: Option<u16>,
    /// An exact cap: `superuser_reserved_connections` is set to 0, and the harness's own
    /// connections count against it.
    pub max_connections: Option<u32>,
    /// `scram-sha-256` for TCP connections; the superuser's password is
    /// [`SUPERUSER_PASSWORD`]. Default: trust.
    pub password_auth: bool,
    /// Lines appended to `postgresql.conf`, e.g. `"log_connections = on"`.
    pub extra_conf: Vec<String>,
    /// Lines put into `pg_hba.conf` before the harness's own TCP lines.
    pub extra_hba: Vec<String>,
}

struct Inner {
    id: u64,
    shared: bool,
    dir: PathBuf,
    data: PathBuf,
    port: u16,
    opts: ServerOptions,
    child: Mutex<Option<Child>>,
    /// Held (flocked) for the server's life, so other processes know the dir is in use.
    _owner_lock: File,
}

/// A PostgreSQL server started by the harness. See the module docs.
pub struct PgServer {
    inner: Arc<Inner>,
}

/// How long the shared server took to start (set once it has), for reports.
pub static SHARED_START_TIME: OnceLock<Duration> = OnceLock::new();

impl PgServer {
    /// The server shared by every test of this test process, started on first use.
    pub fn shared() -> &'static PgServer {
        static SHARED: OnceLock<Result<PgServer, String>> = OnceLock::new();
        let server = SHARED.get_or_init(|| {
            let started = Instant::now();
            let r = PgServer::try_start(ServerOptions::default(), true);
            let _ = SHARED_START_TIME.set(started.elapsed());
            r
        });
        match server {
            Ok(s) => s,
            Err(e) => fail_setup(e),
        }
    }

    /// A server for this test alone, stopped and removed on drop.
    pub fn start(opts: ServerOptions) -> PgServer {
        match PgServer::try_start(opts, false) {
            Ok(s) => s,
            Err(e) => fail_setup(&e),
        }
    }

    fn try_start(opts: ServerOptions, shared: bool) -> Result<PgServer, String> {
        let install = pg_install()?;
        let user = server_user()?;
        let root = harness_root();
        fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        // The server user must be able to reach its directory inside the root.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("cannot chmod {}: {e}", root.display()))?;
        clean_stale_dirs(&root);
        let template = template_cluster(&root)?;

        let (id, dir, owner_lock) = new_server_dir(&root, user)?;
        let data = dir.join("data");
        let out = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&data)
            .output()
            .map_err(|e| format!("cannot run cp: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot copy the template cluster {} to {}: {}",
                template.display(),
                data.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        write_server_files(&dir, &data, &opts)?;

        let fixed_port = opts.port;
        let mut last_err = String::new();
        for _attempt in 0..8 {
            let port = fixed_port.unwrap_or_else(free_port);
            set_port(&data, port)?;
            let inner = Inner {
                id,
                shared,
                dir: dir.clone(),
                data: data.clone(),
                port,
                opts: opts.clone(),
                child: Mutex::new(None),
                _owner_lock: owner_lock.try_clone().map_err(|e| e.to_string())?,
            };
            match inner.spawn_postmaster(Duration::from_secs(60)) {
                Ok(()) => {
                    let server = PgServer {
                        inner: Arc::new(inner),
                    };
                    if opts.password_auth {
                        server.admin_exec(&format!(
                            "alter role {SUPERUSER} password '{SUPERUSER_PASSWORD}'"
                        ));
                    }
                    return Ok(server);
                }
                Err(e) if fixed_port.is_none() && e.contains("could not create any TCP/IP") => {
                    last_err = e; // Another process took the port meanwhile: try another.
                }
                Err(e) => {
                    last_err = format!(
                        "{e}\n(PostgreSQL {} from {}, run as {}; cluster copied from {}, \
                         which may be removed if damaged)",
                        install.major,
                        install.bindir.display(),
                        user.name,
                        template.display()
                    );
                    break;
                }
            }
        }
        if !keep_dirs() {
            let _ = fs::remove_dir_all(&dir);
        }
        Err(last_err)
    }
}

/// A new server's directory under the harness root, owned by the server user, with its
/// owner lock held (flocked) so that other test processes leave it alone.
fn new_server_dir(root: &Path, user: &ServerUser) -> Result<(u64, PathBuf, File), String> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let dir = root.join(format!("s{}-{id}", std::process::id()));
    make_dir_for_server(&dir, user)?;
    // Locked under another name, then renamed: an `owner.lock` that exists but is not yet
    // locked would look abandoned to another test process's stale clean-up, which would
    // delete this directory under us (seen with four test processes starting at once).
    let lock_path = dir.join("owner.lock");
    let locking = dir.join("owner.lock.new");
    let owner_lock =
        File::create(&locking).map_err(|e| format!("cannot create {}: {e}", locking.display()))?;
    // SAFETY: flock on an fd we own.
    unsafe { libc::flock(owner_lock.as_raw_fd(), libc::LOCK_EX) };
    fs::rename(&locking, &lock_path)
        .map_err(|e| format!("cannot rename {}: {e}", locking.display()))?;
    Ok((id, dir, owner_lock))
}

impl Inner {
    fn postmaster_running(&self) -> bool {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        matches!(guard.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    fn log_path(&self) -> PathBuf {
        self.data.join("server.log")
    }

    fn socket_client(&self, dbname: &str, app: &str) -> postgres::Client {
        // A server restarting after a crash (kill9_backend) resets or refuses connections for
        // a moment: retry while the postmaster runs. A stopped server fails at once.
        let deadline = Instant::now() + Duration::from_secs(15);
        let err = loop {
            match postgres::Config::new()
                .host_path(&self.dir)
                .port(self.port)
                .user(SUPERUSER)
                .dbname(dbname)
                .application_name(app)
                .options("-c statement_timeout=120s")
                .connect_timeout(Duration::from_secs(10))
                .connect(postgres::NoTls)
            {
                Ok(c) => return c,
                Err(e) => {
                    if Instant::now() > deadline || !self.postmaster_running() {
                        break e;
                    }
                    thread::sleep(Duration::from_millis(50));
                }
            }
        };
        panic!(
            "harness cannot connect to database {dbname} over the socket in {} (port {}): {:?}. \
             Server log: {}",
            self.dir.display(),
            self.port,
            err,
            self.log_path().display()
        )
    }

    /// Starts the postmaster on the existing data dir and waits until it accepts connections.
    fn spawn_postmaster(&self, limit: Duration) -> Result<(), String> {
        let install = pg_install()?;
        let log_path = self.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = server_command(&install.bindir.join("postgres"))?;
        cmd.arg("-D")
            .arg(&self.data)
            .stdout(log)
            .stderr(log2)
            .process_group(0);
        let mut child = spawn_tied(cmd, libc::SIGQUIT)
            .map_err(|e| format!("cannot start {}/postgres: {e}", install.bindir.display()))?;
        let pid = child.id();
        let deadline = Instant::now() + limit;
        let pid_file = self.data.join("postmaster.pid");
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log_text = read_from(&log_path, log_start);
                return Err(format!(
                    "postgres exited with {status} while starting on port {}. Its log ({}):\n{log_text}",
                    self.port,
                    log_path.display()
                ));
            }
            if let Ok(text) = fs::read_to_string(&pid_file) {
                let lines: Vec<&str> = text.lines().collect();
                // A hot standby that accepts connections says `standby` where a primary says `ready`.
                if lines.first().map(|l| l.trim()) == Some(&pid.to_string())
                    && matches!(lines.get(7).map(|l| l.trim()), Some("ready" | "standby"))
                {
                    break;
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "postgres did not become ready within {limit:?}. Its log ({}):\n{}",
                    log_path.display(),
                    read_from(&log_path, log_start)
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
        *self.child.lock().unwrap() = Some(child);
        live_servers()
            .lock()
            .unwrap()
            .insert(self.id, (pid, self.dir.clone()));
        Ok(())
    }
}

impl PgServer {
    /// TCP port (also the unix socket's number).
    pub fn port(&self) -> u16 {
        self.inner.port
    }
    /// `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }
    /// Directory of the unix socket (`host=<this>` in libpq terms).
    pub fn socket_dir(&self) -> &Path {
        &self.inner.dir
    }
    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data
    }
    /// `<data dir>/server.log`.
    pub fn log_path(&self) -> PathBuf {
        self.inner.log_path()
    }
    /// The whole server log so far.
    pub fn log_contents(&self) -> String {
        read_from(&self.log_path(), 0)
    }
    /// Waits up to `limit` for `needle` to appear in the server log (the server writes it
    /// a moment after the client sees the error); whether it did.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.log_contents().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether `password_auth` is on (TCP logins need [`SUPERUSER_PASSWORD`]).
    pub fn password_auth(&self) -> bool {
        self.inner.opts.password_auth
    }
    /// The options the server was started with.
    pub fn options(&self) -> &ServerOptions {
        &self.inner.opts
    }
    /// The postmaster's pid, if it is running.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let mut guard = self.inner.child.lock().unwrap();
        let child = guard.as_mut()?;
        match child.try_wait() {
            Ok(None) => Some(child.id()),
            _ => None,
        }
    }
    /// Whether the postmaster is running.
    pub fn is_running(&self) -> bool {
        self.postmaster_pid().is_some()
    }

    fn not_shared(&self, what: &str) {
        if self.inner.shared {
            panic!(
                "{what} on the shared server would break every other test of this file: \
                 start a dedicated one with PgServer::start(ServerOptions::default())"
            );
        }
    }

    fn stop_with(&self, sig: libc::c_int, what: &str) {
        self.not_shared(what);
        let mut guard = self.inner.child.lock().unwrap();
        let Some(mut child) = guard.take() else {
            panic!("{what}: the server is not running");
        };
        send_signal(child.id(), sig);
        if wait_child(&mut child, Duration::from_secs(60)).is_none() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: postgres did not stop within 60 s (killed). Log: {}",
                self.log_path().display()
            );
        }
        if let Some(e) = live_servers().lock().unwrap().get_mut(&self.inner.id) {
            e.0 = 0;
        }
    }

    /// Fast shutdown (`pg_ctl stop -m fast`: SIGINT): sessions are ended, transactions rolled
    /// back, a checkpoint written. What a Kubernetes node drain does to the database pod.
    pub fn stop_fast(&self) {
        self.stop_with(libc::SIGINT, "stop_fast");
    }
    /// Immediate shutdown (`pg_ctl stop -m immediate`: SIGQUIT); recovery runs on restart.
    pub fn stop_immediate(&self) {
        self.stop_with(libc::SIGQUIT, "stop_immediate");
    }
    /// SIGKILL to the postmaster (a crashed host, an OOM kill). Its backends notice and exit
    /// on their own; `start_again` waits for them.
    pub fn kill9_postmaster(&self) {
        self.stop_with(libc::SIGKILL, "kill9_postmaster");
    }

    /// Starts the server again on the same data directory and port.
    pub fn start_again(&self) {
        self.not_shared("start_again");
        if self.is_running() {
            panic!("start_again: the server is already running");
        }
        // After kill9_postmaster, orphaned backends may hold the shared memory a little longer.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.inner.spawn_postmaster(Duration::from_secs(60)) {
                Ok(()) => return,
                Err(e)
                    if Instant::now() < deadline
                        && (e.contains("pre-existing shared memory block")
                            || e.contains("lock file")) =>
                {
                    thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("start_again failed: {e}"),
            }
        }
    }

    /// `pg_terminate_backend(pid)`: the session ends with 57P01, the server goes on.
    pub fn terminate_backend(&self, pid: i32) -> bool {
        let v = self.admin_query_scalar(&format!("select pg_terminate_backend({pid})::text"));
        v.as_deref() == Some("true")
    }

    /// SIGKILL to one backend: PostgreSQL treats it as a crash, ends every session and
    /// restarts (recovery), as after a segfault. Returns once the server accepts connections
    /// again (so the harness's next query does not land in the restart).
    pub fn kill9_backend(&self, pid: i32) {
        self.not_shared("kill9_backend");
        let log_start = fs::metadata(self.log_path()).map(|m| m.len()).unwrap_or(0);
        // SAFETY: a backend of our own server.
        if unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
            panic!("kill9_backend({pid}): {}", io::Error::last_os_error());
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !read_from(&self.log_path(), log_start)
            .contains("database system is ready to accept connections")
        {
            if Instant::now() > deadline {
                panic!(
                    "kill9_backend({pid}): the server did not recover within 60 s. Log: {}",
                    self.log_path().display()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// A superuser client over the unix socket.
    pub fn admin_client(&self, dbname: &str) -> postgres::Client {
        self.inner.socket_client(dbname, HARNESS_APP)
    }

    /// Runs SQL as the superuser in database `postgres` (roles, `ALTER SYSTEM`, …).
    pub fn admin_exec(&self, sql: &str) {
        if let Err(e) = self.admin_client("postgres").batch_execute(sql) {
            panic!("admin_exec({sql}) failed: {e:?}");
        }
    }

    fn admin_query_scalar(&self, sql: &str) -> Option<String> {
        simple_rows(&mut self.admin_client("postgres"), sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .flatten()
    }

    /// A new, empty database with a unique name (test-safe across threads and processes).
    pub fn fresh_db(&self) -> TestDb {
        self.fresh_db_with("")
    }

    /// [`PgServer::fresh_db`] with `CREATE DATABASE` options after the name, e.g.
    /// `TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`.
    pub fn fresh_db_with(&self, options: &str) -> TestDb {
        let name = unique_name("t");
        let mut client = self.admin_client("postgres");
        if let Err(e) = client.batch_execute(&format!("create database \"{name}\" {options}")) {
            panic!(
                "create database {name} failed: {e:?}. Server log: {}",
                self.log_path().display()
            );
        }
        TestDb {
            server: Arc::clone(&self.inner),
            name,
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let inner = &self.inner;
        if inner.shared {
            return;
        }
        if thread::panicking() {
            eprintln!(
                "--- dedicated PostgreSQL server on port {}: last lines of {} ---\n{}",
                inner.port,
                self.log_path().display(),
                tail(&self.log_contents(), 60)
            );
        }
        if let Some(mut child) = inner.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            send_signal(child.id(), libc::SIGQUIT);
            if wait_child(&mut child, Duration::from_secs(10)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        live_servers()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&inner.id);
        // Only after a kill -9 that was not followed by start_again is there anything left.
        remove_sysv_segment(&inner.data);
        if !keep_dirs() {
            let _ = fs::remove_dir_all(&inner.dir);
        }
    }
}

fn write_server_files(dir: &Path, data: &Path, opts: &ServerOptions) -> Result<(), String> {
    let mut conf = vec![
        // IPv4 only: with '::1' too, a port taken on 127.0.0.1 would be only a warning and
        // the server would start without the address the tests use.
        "listen_addresses = '127.0.0.1'".to_string(),
        format!("unix_socket_directories = '{}'", dir.display()),
        // Fast but crash-safe for a *process* crash (kill -9 of the server, which tests do):
        // a commit still write()s its WAL; only the flush to disk is skipped.
        "fsync = off".into(),
        "full_page_writes = off".into(),
        "shared_buffers = 32MB".into(),
        // In the data dir, not /dev/shm: nothing outlives the directory after a kill -9.
        "dynamic_shared_memory_type = mmap".into(),
        "max_wal_size = 1GB".into(),
        "logging_collector = off".into(),
        "log_line_prefix = '%m [%p] %e %a@%d '".into(),
        "log_timezone = 'UTC'".into(),
        "timezone = 'UTC'".into(),
        "password_encryption = 'scram-sha-256'".into(),
    ];
    match opts.max_connections {
        Some(n) => {
            conf.push(format!("max_connections = {n}"));
            conf.push("superuser_reserved_connections = 0".into());
        }
        None => conf.push("max_connections = 200".into()),
    }
    let require_tls = opts.require_tls || opts.require_client_cert;
    if (require_tls || opts.require_client_cert) && opts.tls.is_none() {
        return Err("require_tls / require_client_cert need ServerOptions::tls".into());
    }
    if let Some(tls) = &opts.tls {
        copy_for_server(&tls.server_cert, &data.join("server.crt"), 0o644)?;
        copy_for_server(&tls.server_key, &data.join("server.key"), 0o600)?;
        copy_for_server(&tls.ca_cert, &data.join("root.crt"), 0o644)?;
        conf.push("ssl = on".into());
        conf.push("ssl_cert_file = 'server.crt'".into());
        conf.push("ssl_key_file = 'server.key'".into());
        if opts.require_client_cert {
            conf.push("ssl_ca_file = 'root.crt'".into());
        }
    }
    conf.extend(opts.extra_conf.iter().cloned());
    let mut text = fs::read_to_string(data.join("postgresql.conf")).unwrap_or_default();
    text.push_str("\n# --- schemagate test harness ---\n");
    for line in conf {
        text.push_str(&line);
        text.push('\n');
    }
    fs::write(data.join("postgresql.conf"), text).map_err(|e| e.to_string())?;

    let mut hba = vec!["local all all trust".to_string()];
    hba.extend(opts.extra_hba.iter().cloned());
    if require_tls {
        hba.push("hostnossl all all all reject".into());
    }
    let kind = if require_tls { "hostssl" } else { "host" };
    let method = if opts.password_auth {
        "scram-sha-256"
    } else {
        "trust"
    };
    let suffix = if opts.require_client_cert {
        " clientcert=verify-full"
    } else {
        ""
    };
    for net in ["127.0.0.1/32", "::1/128"] {
        hba.push(format!("{kind} all all {net} {method}{suffix}"));
    }
    fs::write(data.join("pg_hba.conf"), hba.join("\n") + "\n").map_err(|e| e.to_string())?;
    let log = data.join("server.log");
    File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    give_to_server_user(&log, 0o644)
}

fn set_port(data: &Path, port: u16) -> Result<(), String> {
    let path = data.join("postgresql.auto.conf");
    let text = format!("# written by the schemagate test harness\nport = {port}\n");
    fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn copy_for_server(from: &Path, to: &Path, mode: u32) -> Result<(), String> {
    fs::copy(from, to)
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
    give_to_server_user(to, mode)
}

fn read_from(path: &Path, offset: u64) -> String {
    let mut text = Vec::new();
    if let Ok(mut f) = File::open(path) {
        use std::io::Seek;
        let _ = f.seek(io::SeekFrom::Start(offset));
        let _ = f.read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A name unique across threads and processes: `<prefix>_<pid>_<n>_<test name>`, lower case,
/// at most 63 bytes (PostgreSQL's identifier limit).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let test: String = thread::current()
        .name()
        .unwrap_or("")
        .rsplit("::")
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut name = format!("{prefix}_{}_{n}_{test}", std::process::id());
    name.truncate(63);
    name.trim_end_matches('_').to_string()
}

/// Reserves a free TCP port on 127.0.0.1 (bind to port 0, read it, release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// A free TCP port below the kernel's ephemeral range, for a server that starts only later
/// (`free_port` hands out an ephemeral port, which any outgoing connection may take as its
/// source port in the meantime, and then the server cannot bind it).
pub fn free_port_for_later() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let span = u32::from(low.saturating_sub(10_000)).max(1);
    let seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ NEXT_PORT_SEED.fetch_add(7919, Ordering::Relaxed);
    for i in 0..span {
        let port = 10_000 + ((seed.wrapping_add(i)) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    free_port()
}

static NEXT_PORT_SEED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Runs `psql` (of the same installation) with a libpq connection string and one SQL
/// command, in an empty environment; `Ok(stdout)` (unaligned, tuples only) or
/// `Err(stderr)`. For checks that need libpq itself, e.g. TLS.
pub fn psql_query(conninfo: &str, sql: &str) -> Result<String, String> {
    let out = Command::new(psql())
        .env_clear()
        .env("PGCONNECT_TIMEOUT", "10")
        .args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            conninfo,
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", psql().display()));
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

// ---------------------------------------------------------------------------------------
// Databases
// ---------------------------------------------------------------------------------------

/// One row of a Flyway-layout history table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    pub installed_rank: i32,
    pub version: Option<String>,
    pub description: String,
    /// The `type` column (`SQL`, `BASELINE`, `SCHEMA`, …).
    pub type_: String,
    pub script: String,
    pub checksum: Option<i32>,
    pub installed_by: String,
    /// `installed_on` as PostgreSQL prints it.
    pub installed_on: String,
    pub execution_time: i32,
    pub success: bool,
}

/// A database of its own for one test, on a harness server.
pub struct TestDb {
    server: Arc<Inner>,
    name: String,
}

fn simple_rows(client: &mut postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let messages = match client.simple_query(sql) {
        Ok(m) => m,
        Err(e) => panic!("query failed: {e:?}\nSQL: {sql}"),
    };
    messages
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl TestDb {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The server's TCP port.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// `postgres://postgres[:pw]@127.0.0.1:PORT/NAME?sslmode=disable`.
    pub fn url(&self) -> String {
        let pw = self.server.opts.password_auth.then_some(SUPERUSER_PASSWORD);
        self.url_as(SUPERUSER, pw)
    }

    /// The URL for another role (see [`unique_name`] for naming it).
    pub fn url_as(&self, user: &str, password: Option<&str>) -> String {
        let auth = match password {
            Some(pw) => format!("{user}:{pw}"),
            None => user.to_string(),
        };
        format!(
            "postgres://{auth}@127.0.0.1:{}/{}?sslmode=disable",
            self.server.port, self.name
        )
    }

    /// `PGHOST PGPORT PGUSER PGDATABASE PGSSLMODE=disable [PGPASSWORD]` for the binary.
    pub fn env(&self) -> Vec<(String, String)> {
        let pw = self.server.opts.password_auth.then_some(SUPERUSER_PASSWORD);
        self.env_as(SUPERUSER, pw)
    }

    /// [`TestDb::env`] for another role.
    pub fn env_as(&self, user: &str, password: Option<&str>) -> Vec<(String, String)> {
        let mut env = vec![
            ("PGHOST".to_string(), "127.0.0.1".to_string()),
            ("PGPORT".to_string(), self.server.port.to_string()),
            ("PGUSER".to_string(), user.to_string()),
            ("PGDATABASE".to_string(), self.name.clone()),
            ("PGSSLMODE".to_string(), "disable".to_string()),
        ];
        if let Some(pw) = password {
            env.push(("PGPASSWORD".to_string(), pw.to_string()));
        }
        env
    }

    /// A superuser client on this database over the unix socket
    /// (`application_name = sg-harness`, `statement_timeout = 120s`).
    pub fn client(&self) -> postgres::Client {
        self.server.socket_client(&self.name, HARNESS_APP)
    }

    /// Like [`TestDb::client`] with another `application_name`, e.g. to play a second
    /// runner holding the lock (`client_with_app("schemagate/other-pod")`).
    pub fn client_with_app(&self, app: &str) -> postgres::Client {
        self.server.socket_client(&self.name, app)
    }

    /// Runs one or more statements; panics with the error.
    pub fn exec(&self, sql: &str) {
        if let Err(e) = self.client().batch_execute(sql) {
            panic!("exec failed on {}: {e:?}\nSQL: {sql}", self.name);
        }
    }

    /// Rows of `sql` (simple protocol: every value arrives as text; `NULL` is `None`).
    /// Several statements may be given; their rows are concatenated.
    pub fn query_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        simple_rows(&mut self.client(), sql)
    }

    /// The first column of the first row, or `None` (no row, or `NULL`).
    pub fn query_scalar(&self, sql: &str) -> Option<String> {
        self.query_rows(sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .flatten()
    }

    fn count(&self, sql: &str) -> i64 {
        self.query_scalar(sql)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("count query returned no number: {sql}"))
    }

    /// The rows of `public.<table>` ordered by `installed_rank`.
    pub fn history(&self, table: &str) -> Vec<HistoryRow> {
        self.history_in("public", table)
    }

    /// The rows of `<schema>.<table>` ordered by `installed_rank`.
    pub fn history_in(&self, schema: &str, table: &str) -> Vec<HistoryRow> {
        let sql = format!(
            "select installed_rank, version, description, type, script, checksum, \
             installed_by, installed_on, execution_time, success from {}.{} \
             order by installed_rank",
            quote_ident(schema),
            quote_ident(table)
        );
        let int = |v: &Option<String>, col: &str| -> i32 {
            v.as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("history column {col} is not an integer: {v:?}"))
        };
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        self.query_rows(&sql)
            .into_iter()
            .map(|r| HistoryRow {
                installed_rank: int(&r[0], "installed_rank"),
                version: r[1].clone(),
                description: text(&r[2]),
                type_: text(&r[3]),
                script: text(&r[4]),
                checksum: r[5].as_deref().map(|s| {
                    s.parse()
                        .unwrap_or_else(|_| panic!("checksum is not an integer: {s}"))
                }),
                installed_by: text(&r[6]),
                installed_on: text(&r[7]),
                execution_time: int(&r[8], "execution_time"),
                success: r[9].as_deref() == Some("t"),
            })
            .collect()
    }

    /// Whether `name` (`table` or `schema.table`, SQL identifier rules) exists as a
    /// relation in this database.
    pub fn table_exists(&self, name: &str) -> bool {
        self.query_scalar(&format!(
            "select (to_regclass({}) is not null)::text",
            quote_literal(name)
        ))
        .as_deref()
            == Some("true")
    }

    /// Granted advisory locks in this database (any session).
    pub fn advisory_locks_held(&self) -> i64 {
        self.count(
            "select count(*) from pg_locks where locktype = 'advisory' and granted \
             and database = (select oid from pg_database where datname = current_database())",
        )
    }

    /// Advisory lock requests in this database still waiting.
    pub fn advisory_locks_waiting(&self) -> i64 {
        self.count(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted \
             and database = (select oid from pg_database where datname = current_database())",
        )
    }

    /// Sessions on this database whose `application_name` starts with `prefix`.
    pub fn backends_with_app_prefix(&self, prefix: &str) -> i64 {
        self.backend_pids_with_app_prefix(prefix).len() as i64
    }

    /// Their backend pids (for `terminate_backend`, `kill9_backend`).
    pub fn backend_pids_with_app_prefix(&self, prefix: &str) -> Vec<i32> {
        self.query_rows(&format!(
            "select pid from pg_stat_activity where datname = current_database() \
             and left(application_name, length({p})) = {p} and pid <> pg_backend_pid() \
             order by pid",
            p = quote_literal(prefix)
        ))
        .into_iter()
        .filter_map(|r| r[0].as_deref().and_then(|s| s.parse().ok()))
        .collect()
    }

    /// The server log lines of this database (the `%d` field of the prefix).
    pub fn log_lines(&self) -> Vec<String> {
        let marker = format!("@{} ", self.name);
        read_from(&self.server.data.join("server.log"), 0)
            .lines()
            .filter(|l| l.contains(&marker))
            .map(str::to_string)
            .collect()
    }

    /// Waits up to `limit` for a log line of this database containing `needle`.
    pub fn wait_for_log_line(&self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.log_lines().iter().any(|l| l.contains(needle)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log path.
    pub fn log_path(&self) -> PathBuf {
        self.server.data.join("server.log")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if thread::panicking() {
            let lines = self.log_lines();
            eprintln!(
                "--- server log lines of database {} (whole log: {}) ---\n{}",
                self.name,
                self.log_path().display(),
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
        // The database lives until its server goes (so SG_TEST_KEEP=1 keeps a failed
        // test's data for a look); dropping it here would only cost time.
    }
}

// ---------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------

/// Writes `content` to `dir/name`, creating subdirectories; returns the path.
pub fn write_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    }
    fs::write(&path, content).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// A temporary scripts folder holding `files` (`("sub/V2__x.sql", "…")` makes `sub/`).
pub fn migrations_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("sg-migrations-")
        .tempdir()
        .expect("cannot create a temporary directory");
    for (name, content) in files {
        write_file(dir.path(), name, content);
    }
    dir
}

// ---------------------------------------------------------------------------------------
// TLS certificates
// ---------------------------------------------------------------------------------------

/// Certificates made at test time: a CA, a server certificate and a client certificate
/// (CN `postgres`) signed by it. Keys are mode 0600; the server key is owned by the server's
/// user. Paths are in the directory given to the constructor.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA clients trust (`sslrootcert`). For [`TlsFiles::self_signed`] it is a CA that did
    /// *not* sign the server certificate.
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate for user `postgres`, for mTLS (`sslcert`/`sslkey`).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    dir: PathBuf,
    ca_cn: String,
    ca_key_pem: String,
}

enum ServerCertKind {
    SignedByCa,
    SelfSigned,
    Expired,
}

impl TlsFiles {
    /// A CA and a server certificate for `hostnames` (DNS names or IP addresses) signed by it.
    pub fn generate(dir: &Path, hostnames: &[&str]) -> TlsFiles {
        Self::build(dir, hostnames, ServerCertKind::SignedByCa)
    }
    /// The server certificate signs itself; `ca_cert` is an unrelated CA.
    pub fn self_signed(dir: &Path, hostnames: &[&str]) -> TlsFiles {
        Self::build(dir, hostnames, ServerCertKind::SelfSigned)
    }
    /// The server certificate is signed by the CA but expired (valid 2020-01-01..2021-01-01).
    pub fn expired(dir: &Path, hostnames: &[&str]) -> TlsFiles {
        Self::build(dir, hostnames, ServerCertKind::Expired)
    }

    fn ca_params(cn: &str) -> rcgen::CertificateParams {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params
    }

    fn build(dir: &Path, hostnames: &[&str], kind: ServerCertKind) -> TlsFiles {
        let fail =
            |what: &str, e: rcgen::Error| -> ! { panic!("TLS test certificate: {what}: {e}") };
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let ca_cn = format!("schemagate test CA {}", unique_name("ca"));
        let ca_key = rcgen::KeyPair::generate().unwrap_or_else(|e| fail("CA key", e));
        let ca_cert = Self::ca_params(&ca_cn)
            .self_signed(&ca_key)
            .unwrap_or_else(|e| fail("CA certificate", e));

        let names: Vec<String> = hostnames.iter().map(|s| s.to_string()).collect();
        let mut params =
            rcgen::CertificateParams::new(names).unwrap_or_else(|e| fail("server names", e));
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            hostnames.first().copied().unwrap_or("localhost"),
        );
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        if matches!(kind, ServerCertKind::Expired) {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let server_key = rcgen::KeyPair::generate().unwrap_or_else(|e| fail("server key", e));
        let ca_params = Self::ca_params(&ca_cn);
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let server_cert = match kind {
            ServerCertKind::SelfSigned => {
                params.use_authority_key_identifier_extension = false;
                params.self_signed(&server_key)
            }
            _ => params.signed_by(&server_key, &issuer),
        }
        .unwrap_or_else(|e| fail("server certificate", e));

        let files = TlsFiles {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
            dir: dir.to_path_buf(),
            ca_cn,
            ca_key_pem: ca_key.serialize_pem(),
        };
        write_file(dir, "ca.crt", &ca_cert.pem());
        write_file(dir, "server.crt", &server_cert.pem());
        write_secret(&files.server_key, &server_key.serialize_pem());
        if let Ok(user) = server_user() {
            if user.switch {
                let _ = chown(&files.server_key, Some(user.uid), Some(user.gid));
            }
        }
        let (cert, key) = files.make_client_cert(SUPERUSER);
        write_file(dir, "client.crt", &cert);
        write_secret(&files.client_key, &key);
        files
    }

    fn make_client_cert(&self, user: &str) -> (String, String) {
        let fail =
            |what: &str, e: rcgen::Error| -> ! { panic!("TLS client certificate: {what}: {e}") };
        let ca_key =
            rcgen::KeyPair::from_pem(&self.ca_key_pem).unwrap_or_else(|e| fail("CA key", e));
        let ca_params = Self::ca_params(&self.ca_cn);
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, user);
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| fail("key", e));
        let cert = params
            .signed_by(&key, &issuer)
            .unwrap_or_else(|e| fail("certificate", e));
        (cert.pem(), key.serialize_pem())
    }

    /// A client certificate (CN = `user`) and key signed by the CA, written as
    /// `client-<user>.crt` / `.key`; returns (cert, key).
    pub fn client_cert_for(&self, user: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = self.make_client_cert(user);
        let cert_path = write_file(&self.dir, &format!("client-{user}.crt"), &cert);
        let key_path = self.dir.join(format!("client-{user}.key"));
        write_secret(&key_path, &key);
        (cert_path, key_path)
    }
}

fn write_secret(path: &Path, content: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    f.write_all(content.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
}

// ---------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------

/// A builder for one run of the binary (or any program). See the module docs.
#[derive(Clone, Debug)]
pub struct Sg {
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    termination_log: bool,
}

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Exit code, `None` when a signal ended the process.
    pub code: Option<i32>,
    /// The signal that ended the process.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The harness killed it after the timeout.
    pub timed_out: bool,
    /// Text of the termination log the harness pointed `SCHEMAGATE_TERMINATION_LOG` at, if
    /// the process wrote one.
    pub termination_log: Option<String>,
    /// The command line, for messages.
    pub command: String,
}

impl Sg {
    /// A run of `program` (tests pass `env!("CARGO_BIN_EXE_schemagate")`).
    pub fn new(program: impl AsRef<OsStr>) -> Sg {
        Sg {
            program: PathBuf::from(program.as_ref()),
            args: Vec::new(),
            envs: Vec::new(),
            cwd: None,
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            termination_log: true,
        }
    }
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Sg {
        self.args.push(arg.as_ref().to_os_string());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Sg
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }
    /// Sets a variable (a later call for the same name wins).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Sg {
        self.envs.push((
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        ));
        self
    }
    /// Sets several variables, e.g. `.envs(db.env())`.
    pub fn envs<I, K, V>(mut self, vars: I) -> Sg
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }
    /// Removes a variable set earlier (e.g. one of `db.env()`).
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Sg {
        self.envs.push((key.as_ref().to_os_string(), None));
        self
    }
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Sg {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }
    /// Bytes for standard input (default: empty, closed).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Sg {
        self.stdin = Some(bytes.into());
        self
    }
    /// Time limit from start to exit (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Sg {
        self.timeout = timeout;
        self
    }
    /// Do not set `SCHEMAGATE_TERMINATION_LOG` (to test the default path's handling).
    pub fn no_termination_log(mut self) -> Sg {
        self.termination_log = false;
        self
    }

    fn command_line(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Runs to the end; panics (with the output) if the timeout killed it.
    pub fn run(self) -> Outcome {
        self.spawn().wait()
    }
    /// Runs to the end; a timeout gives `timed_out = true` instead of a panic.
    pub fn run_allow_timeout(self) -> Outcome {
        self.spawn().wait_allow_timeout()
    }

    /// Starts the process and returns at once.
    pub fn spawn(self) -> Running {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).env_clear();
        for key in ["PATH", "LLVM_PROFILE_FILE"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        let mut final_env: Vec<(OsString, Option<OsString>)> = Vec::new();
        for (k, v) in &self.envs {
            final_env.retain(|(k2, _)| k2 != k);
            final_env.push((k.clone(), v.clone()));
        }
        let mut term_dir = None;
        let sets_term_log = final_env
            .iter()
            .any(|(k, _)| k == "SCHEMAGATE_TERMINATION_LOG");
        if self.termination_log && !sets_term_log {
            let dir = tempfile::Builder::new()
                .prefix("sg-termlog-")
                .tempdir()
                .expect("cannot create a temporary directory");
            cmd.env(
                "SCHEMAGATE_TERMINATION_LOG",
                dir.path().join("termination-log"),
            );
            term_dir = Some(dir);
        }
        for (k, v) in &final_env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(d) = &self.cwd {
            cmd.current_dir(d);
        }
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
        let command = self.command_line();
        let started = Instant::now();
        let mut child = spawn_tied(cmd, libc::SIGKILL)
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        if let Some(bytes) = self.stdin.clone() {
            let mut stdin = child.stdin.take().expect("stdin pipe");
            thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        let stdout = Captured::start(child.stdout.take().expect("stdout pipe"));
        let stderr = Captured::start(child.stderr.take().expect("stderr pipe"));
        Running {
            pid: child.id(),
            child: Some(child),
            started,
            timeout: self.timeout,
            stdout,
            stderr,
            term_dir,
            command,
        }
    }
}

struct Captured {
    buf: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Captured {
    fn start(mut pipe: impl Read + Send + 'static) -> Captured {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let b = Arc::clone(&buf);
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => b.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
            let _ = tx.send(());
        });
        Captured { buf, done: rx }
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
    /// Waits (bounded: a grandchild may hold the pipe) for the end of the stream.
    fn finish(&self, limit: Duration) -> String {
        let _ = self.done.recv_timeout(limit);
        self.text()
    }
}

/// A started process. Dropping it kills the process group if it still runs.
pub struct Running {
    pid: u32,
    child: Option<Child>,
    started: Instant,
    timeout: Duration,
    stdout: Captured,
    stderr: Captured,
    term_dir: Option<tempfile::TempDir>,
    command: String,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.pid
    }
    /// Sends `sig` (e.g. `libc::SIGTERM`) to the process (not its group). `false` if it
    /// could not be sent (the process has exited and been reaped by `is_running`).
    pub fn signal(&self, sig: i32) -> bool {
        send_signal(self.pid, sig)
    }
    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
    /// Standard error captured so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.text()
    }
    /// Standard output captured so far.
    pub fn stdout_so_far(&self) -> String {
        self.stdout.text()
    }
    /// Waits until standard error contains `text`; panics with the output if it does not
    /// within `limit` or the process exits first.
    pub fn wait_for_stderr(&mut self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.stderr.text().contains(text) {
                return;
            }
            if !self.is_running() {
                // It may have written the text just before exiting.
                let err = self.stderr.finish(Duration::from_secs(2));
                if err.contains(text) {
                    return;
                }
                panic!(
                    "`{}` exited before writing {text:?} to stderr.\n--- stdout ---\n{}\n--- stderr ---\n{err}",
                    self.command,
                    self.stdout.text()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "`{}` did not write {text:?} to stderr within {limit:?}.\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.command,
                    self.stdout.text(),
                    self.stderr.text()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the exit; panics with the captured output if the timeout had to kill it.
    pub fn wait(self) -> Outcome {
        let outcome = self.wait_allow_timeout();
        if outcome.timed_out {
            panic!(
                "timed out: the harness killed it after {:?}\n{outcome}",
                outcome.elapsed
            );
        }
        outcome
    }

    /// Waits for the exit; after the timeout the process group is killed and the outcome
    /// has `timed_out = true`.
    pub fn wait_allow_timeout(mut self) -> Outcome {
        let mut child = self.child.take().expect("child");
        let left = self.timeout.saturating_sub(self.started.elapsed());
        let (status, timed_out) = match wait_child(&mut child, left) {
            Some(s) => (s, false),
            None => {
                // SAFETY: the child leads its own process group.
                unsafe { libc::kill(-(self.pid as libc::pid_t), libc::SIGKILL) };
                (child.wait().expect("wait for killed child"), true)
            }
        };
        let elapsed = self.started.elapsed();
        let stdout = self.stdout.finish(Duration::from_secs(5));
        let stderr = self.stderr.finish(Duration::from_secs(5));
        let termination_log = self
            .term_dir
            .as_ref()
            .and_then(|d| fs::read_to_string(d.path().join("termination-log")).ok());
        Outcome {
            code: status.code(),
            signal: status.signal(),
            stdout,
            stderr,
            elapsed,
            timed_out,
            termination_log,
            command: self.command.clone(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(None) = child.try_wait() {
                // SAFETY: the child leads its own process group.
                unsafe { libc::kill(-(self.pid as libc::pid_t), libc::SIGKILL) };
                let _ = child.wait();
            }
        }
    }
}

impl Outcome {
    /// Panics, showing everything, unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        if self.code != Some(code) {
            panic!(
                "expected exit code {code}, got {}\n{self}",
                self.status_text()
            );
        }
        self
    }
    /// `assert_code(0)`.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }
    fn status_text(&self) -> String {
        match (self.code, self.signal, self.timed_out) {
            (_, _, true) => "a kill after the timeout".into(),
            (Some(c), _, _) => format!("exit code {c}"),
            (None, Some(s), _) => format!("signal {s}"),
            _ => "an unknown status".into(),
        }
    }
    /// Every stderr line that parses as JSON (non-JSON lines are skipped).
    pub fn stderr_json_lines(&self) -> Vec<serde_json::Value> {
        self.stderr
            .lines()
            .filter(|l| l.trim_start().starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
    /// Standard output parsed as one JSON document; panics with the output if it is not.
    #[track_caller]
    pub fn stdout_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        writeln!(
            f,
            "ended with: {} after {:?}",
            self.status_text(),
            self.elapsed
        )?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        writeln!(f, "--- stderr ---\n{}", self.stderr)?;
        if let Some(t) = &self.termination_log {
            writeln!(f, "--- termination log ---\n{t}")?;
        }
        Ok(())
    }
}

mod otlp;
mod pgbouncer;
mod pushgateway;
mod schemagate;
mod standby;
// A test file uses only some of these (harness_smoke runs no binary at all).
#[allow(unused_imports)]
pub use otlp::*;
#[allow(unused_imports)]
pub use pgbouncer::*;
#[allow(unused_imports)]
pub use pushgateway::*;
#[allow(unused_imports)]
pub use schemagate::*;
#[allow(unused_imports)]
pub use standby::*;
