//! Shortcuts for running the real schemagate binary against a test database.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Outcome, Sg, TestDb};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_schemagate");

/// `schemagate` with the database's PG* variables, the scripts folder, and JSON logs.
pub fn sg(db: &TestDb, dir: &Path) -> Sg {
    Sg::new(BIN)
        .envs(db.env())
        .env("SCHEMAGATE_LOCATIONS", dir)
        .env("SCHEMAGATE_LOG_FORMAT", "json")
}

/// `(version, success)` of every row of `public.<table>`, in rank order.
pub fn versions(db: &TestDb, table: &str) -> Vec<(Option<String>, bool)> {
    db.history(table)
        .into_iter()
        .map(|r| (r.version, r.success))
        .collect()
}

/// The last JSON log line: the run's summary.
pub fn summary(out: &Outcome) -> serde_json::Value {
    out.stderr_json_lines()
        .into_iter()
        .rev()
        .find(|l| l.get("exit_code").is_some())
        .unwrap_or_else(|| panic!("no summary line\n{out}"))
}

pub fn some(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// Waits (up to 30 s) until a schemagate session of `db` is running a statement that contains
/// `fragment`, and returns that backend's pid.
pub fn wait_for_statement(db: &TestDb, fragment: &str) -> i32 {
    let sql = format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name LIKE 'schemagate%' AND state = 'active' AND query LIKE '%{fragment}%'"
    );
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(pid) = db.query_scalar(&sql) {
            return pid.parse().unwrap();
        }
        assert!(
            Instant::now() < until,
            "no schemagate session ever ran `{fragment}`"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Waits up to `limit` for every schemagate session of `db` to end (a cancelled or orphaned
/// backend takes a moment to go); whether none is left.
pub fn no_sessions_left(db: &TestDb, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while db.backends_with_app_prefix("schemagate") > 0 {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The default history table.
pub const HISTORY: &str = "schemagate_history";

/// The invariants every fault and bad-input case ends with: every version applied at most
/// once more than it was undone (its rows alternate applied, undone), each row with its
/// file's checksum; no advisory lock of ours; no INVALID index unless the case expects some;
/// no schemagate session left.
pub fn invariants(db: &TestDb, dir: &Path, invalid_indexes_expected: usize) {
    let rows = if db.table_exists(HISTORY) {
        db.history(HISTORY)
    } else {
        Vec::new()
    };
    let mut last_kind: std::collections::HashMap<Option<String>, bool> = Default::default();
    for r in rows.iter().filter(|r| r.version.is_some()) {
        let undo = r.type_ == "UNDO_SQL";
        let previous = last_kind.insert(r.version.clone(), undo);
        assert!(
            previous != Some(undo) && (previous.is_some() || !undo),
            "version {:?} {} twice in a row (or undone before it was applied): {rows:?}",
            r.version,
            if undo { "undone" } else { "applied" }
        );
        let text = std::fs::read_to_string(dir.join(&r.script))
            .unwrap_or_else(|e| panic!("no file for {}: {e}", r.script));
        assert_eq!(
            r.checksum,
            Some(schemagate::core::checksum::checksum(&text)),
            "{} checksum",
            r.script
        );
    }
    assert_eq!(db.advisory_locks_held(), 0, "a lock of ours is left");
    let invalid = db
        .query_scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
        .unwrap();
    assert_eq!(
        invalid,
        invalid_indexes_expected.to_string(),
        "INVALID indexes"
    );
    assert!(
        no_sessions_left(db, Duration::from_secs(10)),
        "a schemagate session is left"
    );
}

/// After a stop mid-run of a folder whose `V1` is quick and `V2` creates `slow` and then
/// sleeps: only V1 is recorded, V2 was rolled back, and no lock or session of ours is left.
pub fn stopped_cleanly(db: &TestDb) {
    assert_eq!(
        versions(db, HISTORY),
        [(some("1"), true)],
        "only the finished script may be recorded"
    );
    assert!(
        !db.table_exists("slow"),
        "the interrupted script must be rolled back"
    );
    assert_eq!(db.advisory_locks_held(), 0);
    assert!(
        no_sessions_left(db, Duration::from_secs(5)),
        "no backend of ours may be left running"
    );
}

/// V1 makes a table `t` of `rows` rows; V2 backfills it at 70 ms a row, so that with
/// `SCHEMAGATE_BATCH_SIZE=10` each batch takes 0.7 s (inside the 0.5-2 s the batch size keeps)
/// and the backfill lasts about `rows` × 75 ms.
pub fn slow_backfill_dir(rows: u64) -> tempfile::TempDir {
    super::migrations_dir(&[
        (
            "V1__t.sql",
            &format!(
                "CREATE TABLE t (id int PRIMARY KEY, done bool NOT NULL DEFAULT false);\n\
                 INSERT INTO t (id) SELECT g FROM generate_series(1, {rows}) g;"
            ),
        ),
        (
            "V2__fill.sql",
            "-- schemagate:backfill\n\
             UPDATE t SET done = (pg_sleep(0.07) IS NOT NULL) WHERE id IN (SELECT id FROM t WHERE NOT done\n\
               ORDER BY id LIMIT ${schemagate:batch_size});",
        ),
    ])
}
