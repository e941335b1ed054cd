//! Fault (issue 5 #9, issue 15): the connection dropped with a COMMIT in flight. A proxy between
//! the runner and PostgreSQL reads the protocol, forwards the N-th query message that ends in
//! `COMMIT` (a whole migration sent as one message, or a COMMIT of its own when a script runs
//! statement by statement), waits a random moment (before or after the server answers) and closes
//! both sides; or it forwards only part of that message, which the server never runs. Whatever
//! the commit's fate, the history decides: no version is applied twice, none is lost, and the
//! runner says the outcome is unknown only when it may be.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

const T: &str = "schemagate_history";

/// A tiny deterministic generator, so a failing cut point can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Where the proxy cuts: after the `at`-th COMMIT-bearing message, `delay` after forwarding
/// it whole, or after forwarding only its first `partial` bytes.
#[derive(Clone, Copy, Debug)]
struct Cut {
    at: usize,
    delay: Duration,
    partial: Option<usize>,
}

/// What the cut message was, for the test to check that it exercised the path it names.
#[derive(Default)]
struct Seen {
    cut: bool,
    message: String,
    /// Messages that wait for the server's answer (a simple query, or the Sync that ends an
    /// extended-protocol exchange): the run's round trips.
    round_trips: usize,
}

/// The text of a simple-query message (`Q`, length, text, NUL).
fn query_text(msg: &[u8]) -> Option<&str> {
    (msg.first() == Some(&b'Q'))
        .then(|| std::str::from_utf8(&msg[5..msg.len() - 1]).ok())
        .flatten()
}

/// A COMMIT alone, or a whole migration with its history row (the history table's own
/// creation is one message too, but no migration).
fn commits_a_migration(text: &str) -> bool {
    let text = text.trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    text == "COMMIT"
        || (text.ends_with("COMMIT") && text.contains("COALESCE(MAX(installed_rank), 0) + 1"))
}

/// Forwards one client connection, cutting it as `cut` says when its COMMIT comes.
fn forward(
    client: TcpStream,
    server_port: u16,
    commits: Arc<AtomicUsize>,
    cut: Cut,
    seen: Arc<Mutex<Seen>>,
) {
    let server = TcpStream::connect(("127.0.0.1", server_port)).unwrap();
    // Without these, Nagle and delayed ACKs add ~40 ms to every round trip through the proxy.
    server.set_nodelay(true).unwrap();
    client.set_nodelay(true).unwrap();
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut s_read, mut c_write) = (server.try_clone().unwrap(), client.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = s_read.read(&mut buf) {
            if n == 0 || c_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(Shutdown::Both);
    });
    // Client to server: the startup message has no type byte; every later one does.
    let mut pending: Vec<u8> = Vec::new();
    let mut started = false;
    let mut buf = [0u8; 16384];
    loop {
        let n = match c_read.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        loop {
            let (header, len_at) = if started { (5, 1) } else { (4, 0) };
            if pending.len() < header {
                break;
            }
            let len = u32::from_be_bytes(pending[len_at..len_at + 4].try_into().unwrap()) as usize;
            let total = len + len_at;
            if pending.len() < total {
                break;
            }
            let msg: Vec<u8> = pending.drain(..total).collect();
            let text = if started { query_text(&msg) } else { None };
            if started && matches!(msg[0], b'Q' | b'S') {
                seen.lock().unwrap().round_trips += 1;
            }
            started = true;
            let is_cut = text.is_some_and(commits_a_migration)
                && commits.fetch_add(1, Ordering::SeqCst) + 1 == cut.at;
            if !is_cut {
                if s_write.write_all(&msg).is_err() {
                    return;
                }
                continue;
            }
            let sent = cut.partial.map_or(msg.len(), |p| p.min(msg.len() - 1));
            let _ = s_write.write_all(&msg[..sent]);
            std::thread::sleep(cut.delay);
            {
                let mut seen = seen.lock().unwrap();
                seen.cut = true;
                seen.message = text.unwrap_or_default().to_string();
            }
            let _ = server.shutdown(Shutdown::Both);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
}

/// How the migrations travel, and so which message carries their COMMIT.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Path {
    /// BEGIN, statements, history row and COMMIT in one message.
    OneMessage,
    /// Statement by statement (a `COPY … FROM STDIN` with its data), COMMIT alone.
    StatementByStatement,
}

#[test]
fn a_connection_cut_with_a_whole_migration_in_flight_never_applies_twice_or_loses_one() {
    let files = [
        (
            "V1__a.sql",
            "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);",
        ),
        ("V2__b.sql", "CREATE TABLE b (id int);"),
        (
            "V3__c.sql",
            "CREATE TABLE c (id int); CREATE INDEX ON c (id);",
        ),
        ("V4__d.sql", "CREATE TABLE d (id int);"),
        ("R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT id FROM d;"),
    ];
    cut_thirty_times(&files, Path::OneMessage);
}

#[test]
fn a_connection_cut_right_after_a_lone_commit_never_applies_twice() {
    let copy =
        |t: &str| format!("CREATE TABLE {t} (id int);\nCOPY {t} (id) FROM STDIN;\n1\n2\n\\.\n");
    let (a, b, c, d) = (copy("a"), copy("b"), copy("c"), copy("d"));
    let files = [
        ("V1__a.sql", a.as_str()),
        ("V2__b.sql", b.as_str()),
        ("V3__c.sql", c.as_str()),
        ("V4__d.sql", d.as_str()),
        ("R__v.sql", "COPY d (id) FROM STDIN;\n3\n\\.\n"),
    ];
    cut_thirty_times(&files, Path::StatementByStatement);
}

/// Through the same proxy, never cutting: ten more migrations cost ten more round trips, so
/// each one is a single message and its answer (issue 15), whatever the run does around them.
#[test]
fn each_migration_costs_one_round_trip() {
    let server = PgServer::shared();
    let round_trips = |n: usize| {
        let db = server.fresh_db();
        let files: Vec<(String, String)> = (1..=n)
            .map(|i| {
                (
                    format!("V{i}__t{i}.sql"),
                    format!("CREATE TABLE t{i} (id int);\nCREATE INDEX ON t{i} (id);\nINSERT INTO t{i} VALUES (1), (2);"),
                )
            })
            .collect();
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let dir = migrations_dir(&files);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        {
            let (seen, server_port) = (seen.clone(), server.port());
            let never = Cut {
                at: usize::MAX,
                delay: Duration::ZERO,
                partial: None,
            };
            std::thread::spawn(move || {
                for client in listener.incoming().flatten() {
                    let (commits, seen) = (Arc::new(AtomicUsize::new(0)), seen.clone());
                    std::thread::spawn(move || forward(client, server_port, commits, never, seen));
                }
            });
        }
        sg(&db, dir.path())
            .env("PGPORT", proxy_port.to_string())
            .run()
            .assert_success();
        assert_eq!(versions(&db, T).len(), n);
        seen.lock().unwrap().round_trips
    };
    let (ten, twenty) = (round_trips(10), round_trips(20));
    println!("round trips: 10 migrations {ten}, 20 migrations {twenty}");
    assert_eq!(
        twenty - ten,
        10,
        "10 more migrations cost {} more round trips",
        twenty - ten
    );
}

fn cut_thirty_times(files: &[(&str, &str)], path: Path) {
    let server = PgServer::shared();
    let dir = migrations_dir(files);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("seed {seed}");
    let mut rng = Lcg(seed);
    let mut unknown_reported = 0;
    for round in 0..30 {
        let db = server.fresh_db();
        // A third of the cuts come at once (the answer to COMMIT still on its way), a third a
        // little later (it may have arrived, and the next message is hit), a third inside the
        // message itself, which the server then never runs.
        let cut = Cut {
            at: 1 + rng.next(5) as usize,
            delay: match round % 3 {
                1 => Duration::from_micros(rng.next(3000)),
                _ => Duration::ZERO,
            },
            partial: (round % 3 == 2).then(|| 1 + rng.next(200) as usize),
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_port = listener.local_addr().unwrap().port();
        let commits = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Seen::default()));
        {
            let (commits, seen, server_port) = (commits.clone(), seen.clone(), server.port());
            std::thread::spawn(move || {
                for client in listener.incoming().flatten() {
                    let (commits, seen) = (commits.clone(), seen.clone());
                    std::thread::spawn(move || forward(client, server_port, commits, cut, seen));
                }
            });
        }
        let out = sg(&db, dir.path())
            .env("PGPORT", proxy_port.to_string())
            .env("SCHEMAGATE_WAIT_TIMEOUT", "5s")
            .run();
        let context = format!("round {round} (seed {seed}, {cut:?}, {path:?})\n{out}");
        {
            let seen = seen.lock().unwrap();
            assert!(seen.cut, "the cut never happened: {context}");
            let whole = seen.message.trim_start().starts_with("BEGIN");
            match path {
                Path::OneMessage => assert!(
                    whole,
                    "the COMMIT did not travel with its migration: {:?}; {context}",
                    seen.message
                ),
                Path::StatementByStatement => assert_eq!(
                    seen.message, "COMMIT",
                    "the COMMIT did not travel alone: {context}"
                ),
            }
        }
        // The runner reconnects and the history decides; if it gave up, a plain rerun finishes.
        if out.code != Some(0) {
            assert_eq!(out.code, Some(69), "{context}");
            sg(&db, dir.path()).run().assert_success();
        }
        println!(
            "round {round}: {cut:?}: exit {:?} in {} ms",
            out.code,
            out.elapsed.as_millis()
        );
        let unknown = out.stderr.contains("the outcome is unknown")
            && out.stderr.contains("history table is authoritative");
        if unknown {
            unknown_reported += 1;
        }
        // Cut inside its message, a migration never reached the server: the runner may say
        // that it lost the connection, never that the migration failed.
        assert!(
            !out.stderr.contains("migration failed"),
            "a lost connection was reported as a failed migration: {context}"
        );
        let expected: Vec<(Option<String>, bool)> = (1..=4)
            .map(|v| (Some(v.to_string()), true))
            .chain([(None, true)])
            .collect();
        assert_eq!(versions(&db, T), expected, "{context}");
        assert_eq!(db.advisory_locks_held(), 0, "{context}");
    }
    println!(
        "30 cuts on the {path:?} path; {unknown_reported} runs lost the connection with COMMIT in flight and said so"
    );
    assert!(unknown_reported > 0, "no run said the outcome was unknown");
}
