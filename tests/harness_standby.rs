//! The harness's streaming standby: a real `pg_basebackup` replica that follows its primary, pauses and resumes replay, and shows up in `pg_stat_replication`.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn count(server: &PgServer, db: &str) -> i64 {
    server
        .admin_client(db)
        .query_one("SELECT count(*) FROM t", &[])
        .unwrap()
        .get(0)
}

#[test]
fn a_standby_follows_its_primary_and_pauses_replay_on_request() {
    let primary = PgServer::start(ServerOptions::primary());
    let db = primary.fresh_db();
    db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let started = Instant::now();
    let standby = primary.start_standby("replica1");
    println!(
        "standby streaming {:.2} s after the base backup began",
        started.elapsed().as_secs_f64()
    );
    standby.wait_until_caught_up(&primary, Duration::from_secs(30));
    assert_eq!(count(&standby, db.name()), 1);

    standby.pause_replay();
    db.exec("INSERT INTO t SELECT generate_series(2, 1000);");
    std::thread::sleep(Duration::from_secs(2));
    db.exec("INSERT INTO t VALUES (1001);");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(&standby, db.name()), 1, "replay is paused");
    let rows = primary.replication_rows();
    println!("while paused: {rows:?}");
    let r = rows
        .iter()
        .find(|r| r.application_name == "replica1")
        .expect("listed");
    assert_eq!(r.state, "streaming");
    assert!(r.bytes_behind.unwrap_or(0) > 0, "{r:?}");

    let resumed = Instant::now();
    standby.resume_replay();
    standby.wait_until_caught_up(&primary, Duration::from_secs(30));
    assert_eq!(count(&standby, db.name()), 1001);
    let until = Instant::now() + Duration::from_secs(15);
    while primary.replication_rows()[0].bytes_behind.unwrap_or(1) > 0 {
        assert!(Instant::now() < until, "{:?}", primary.replication_rows());
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "after resume: caught up and reported to the primary in {:.2} s: {:?}",
        resumed.elapsed().as_secs_f64(),
        primary.replication_rows()
    );

    let dir = standby.data_dir().to_path_buf();
    drop(standby);
    assert!(!dir.exists(), "the standby's files are removed");
    let until = Instant::now() + Duration::from_secs(10);
    while !primary.replication_rows().is_empty() {
        assert!(
            Instant::now() < until,
            "the primary still lists the dropped standby"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
