//! Fault (issue 5 #9): the connection dropped right after COMMIT is sent. A proxy between
//! the runner and PostgreSQL reads the protocol, forwards the N-th `COMMIT`, waits a random
//! moment (before or after the server answers) and closes both sides. Whatever the commit's
//! fate, the history decides: no version is applied twice, none is lost.

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

/// Forwards one client connection; on the `cut_at`-th COMMIT it forwards the message, sleeps
/// `delay`, and closes both sockets.
fn forward(
    client: TcpStream,
    server_port: u16,
    commits: Arc<AtomicUsize>,
    cut_at: usize,
    delay: Duration,
    cut_done: Arc<Mutex<bool>>,
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
            let is_commit = started && msg[0] == b'Q' && msg[5..].starts_with(b"COMMIT\0");
            started = true;
            if s_write.write_all(&msg).is_err() {
                return;
            }
            if is_commit && commits.fetch_add(1, Ordering::SeqCst) + 1 == cut_at {
                std::thread::sleep(delay);
                *cut_done.lock().unwrap() = true;
                let _ = server.shutdown(Shutdown::Both);
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
        }
    }
    let _ = server.shutdown(Shutdown::Both);
}

#[test]
fn a_connection_cut_right_after_commit_never_applies_twice() {
    let server = PgServer::shared();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V2__b.sql", "CREATE TABLE b (id int);"),
        ("V3__c.sql", "CREATE TABLE c (id int);"),
        ("V4__d.sql", "CREATE TABLE d (id int);"),
        ("R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT id FROM d;"),
    ]);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("seed {seed}");
    let mut rng = Lcg(seed);
    let mut unknown_reported = 0;
    for round in 0..30 {
        let db = server.fresh_db();
        // Half the cuts come at once (the answer to COMMIT still on its way), half a little
        // later (it may have arrived, and the next statement is hit).
        let cut_at = 1 + rng.next(5) as usize;
        let delay = if round % 2 == 0 {
            Duration::ZERO
        } else {
            Duration::from_micros(rng.next(3000))
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_port = listener.local_addr().unwrap().port();
        let commits = Arc::new(AtomicUsize::new(0));
        let cut_done = Arc::new(Mutex::new(false));
        {
            let (commits, cut_done, server_port) =
                (commits.clone(), cut_done.clone(), server.port());
            std::thread::spawn(move || {
                for client in listener.incoming().flatten() {
                    let (commits, cut_done) = (commits.clone(), cut_done.clone());
                    std::thread::spawn(move || {
                        forward(client, server_port, commits, cut_at, delay, cut_done)
                    });
                }
            });
        }
        let out = sg(&db, dir.path())
            .env("PGPORT", proxy_port.to_string())
            .env("SCHEMAGATE_WAIT_TIMEOUT", "5s")
            .run();
        assert!(
            *cut_done.lock().unwrap(),
            "round {round}: the cut never happened\n{out}"
        );
        // The runner reconnects and the history decides; if it gave up, a plain rerun finishes.
        if out.code != Some(0) {
            assert_eq!(
                out.code,
                Some(69),
                "round {round} (seed {seed}, COMMIT #{cut_at}, {delay:?})\n{out}"
            );
            sg(&db, dir.path()).run().assert_success();
        }
        println!(
            "round {round}: COMMIT #{cut_at} after {delay:?}: exit {:?} in {} ms",
            out.code,
            out.elapsed.as_millis()
        );
        if out.stderr.contains("the outcome is unknown")
            && out.stderr.contains("history table is authoritative")
        {
            unknown_reported += 1;
        }
        let expected: Vec<(Option<String>, bool)> = (1..=4)
            .map(|v| (Some(v.to_string()), true))
            .chain([(None, true)])
            .collect();
        assert_eq!(
            versions(&db, T),
            expected,
            "round {round} (seed {seed}, COMMIT #{cut_at}, {delay:?})\n{out}"
        );
        assert_eq!(db.advisory_locks_held(), 0);
    }
    println!(
        "30 cuts; {unknown_reported} runs lost the connection with COMMIT in flight and said so"
    );
    assert!(unknown_reported > 0, "no run said the outcome was unknown");
}
