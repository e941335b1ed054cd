//! The executor: runs one prepared script on the migration session — in a transaction with its history row, or statement by statement when PostgreSQL requires it.

use std::borrow::Cow;
use std::cell::RefCell;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use futures_util::{SinkExt, TryStreamExt};
use tokio::time::Instant;
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::core::directives::Phase;
use crate::core::discover::Script;
use crate::core::flight::{Flight, changes_parsing};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::placeholders::Resolved;
use crate::core::plan::{abbreviate_description, abbreviate_script};
use crate::core::script::Kind;
use crate::core::split::{
    self, Statement, line_col, non_transactional_reason, statement_char_offset,
};
use crate::core::undo::StoredUndo;
use crate::pg::companions::Companions;
use crate::pg::connect::classify;
use crate::pg::history::{self, NewRow, Table};
use crate::runtime::Stop;
use crate::telemetry::Recorder;

/// A script split and ready to run.
#[derive(Debug)]
pub struct Ready<'a> {
    pub script: &'a Script,
    pub sql: Cow<'a, str>,
    pub checksum: i32,
    pub statements: Vec<Statement>,
    /// Why it runs outside a transaction, if it does.
    pub no_transaction: Option<&'static str>,
    /// A versioned script's undo, stored with its history row (SPEC §12).
    pub undo: Option<StoredUndo>,
}

/// Splits a resolved script and decides its transaction mode (SPEC §6).
pub fn prepare<'a>(script: &'a Script, resolved: Resolved<'a>) -> Result<Ready<'a>, String> {
    let statements = split::split(&resolved.sql).map_err(|e| format!("{}: {e}", script.display))?;
    let detected = statements
        .iter()
        .find_map(|s| non_transactional_reason(s.text(&resolved.sql)));
    let no_transaction = match script.conf.execute_in_transaction {
        Some(false) => Some("executeInTransaction=false"),
        Some(true) => None,
        None => detected,
    };
    Ok(Ready {
        script,
        sql: resolved.sql,
        checksum: resolved.checksum,
        statements,
        no_transaction,
        undo: None,
    })
}

/// How a person names a script in a log line: `V7.1 (add email)`, `repeatable "views"`.
pub fn label(script: &Script) -> String {
    match &script.name.kind {
        Kind::Versioned(v) if script.name.description.is_empty() => format!("V{v}"),
        Kind::Versioned(v) => format!("V{v} ({})", script.name.description),
        Kind::Undo(v) if script.name.description.is_empty() => format!("the undo of V{v}"),
        Kind::Undo(v) => format!("the undo of V{v} ({})", script.name.description),
        Kind::Repeatable => format!("repeatable \"{}\"", script.name.description),
        Kind::Callback(c) => format!(
            "callback {}",
            script.display.rsplit('/').next().unwrap_or(c.name())
        ),
    }
}

/// A second, idle session of the same run, from which a statement that is taking long can be
/// looked at: who is it waiting for?
pub struct Watch<'a> {
    pub observer: &'a Client,
    /// The migration session's backend.
    pub backend_pid: i32,
}

pub struct Ctx<'a> {
    pub client: &'a Client,
    pub watch: Option<Watch<'a>>,
    /// The sessions that last blocked a statement of this run, for the messages.
    pub blockers: RefCell<Option<String>>,
    /// The history insert, prepared once for the session and reused by every migration.
    pub inserter: history::Inserter,
    pub table: &'a Table,
    /// Where a contract or backfill script's phase is recorded with its row; `None` when
    /// no pending script needs it.
    pub companions: Option<&'a Companions>,
    pub installed_by: &'a str,
    pub lock_timeout: Duration,
    pub statement_timeout: Option<Duration>,
    pub lock_retries: u32,
    pub stop: &'a Stop,
    /// Where a backfill's progress goes as its batches commit.
    pub metrics: &'a Recorder,
    pub before_each: &'a [Ready<'a>],
    pub after_each: &'a [Ready<'a>],
}

/// What one applied script took.
#[derive(Clone, Copy, Debug)]
pub struct Done {
    /// Statements, or for a backfill its batches that changed rows.
    pub statements: usize,
    pub millis: u64,
    pub retries: u32,
    /// For a backfill, the rows its batches changed in this run.
    pub rows: Option<u64>,
}

/// A statement that failed, located in its file; `err` is `None` when a stop arrived
/// before the next statement started.
struct StmtError {
    err: Option<tokio_postgres::Error>,
    at: String,
    /// The error came from the COMMIT itself: if the connection died, nobody knows whether
    /// the server committed.
    committing: bool,
    /// A transaction is left to roll back: not so when a message was refused before its
    /// BEGIN ran (a syntax error anywhere in a migration sent as one message).
    open: bool,
}

impl StmtError {
    /// A stop arrived before the next statement started; `open` as in [`StmtError::open`].
    fn stopped(at: String, open: bool) -> Self {
        StmtError {
            err: None,
            at,
            committing: false,
            open,
        }
    }

    fn is_lock_conflict(&self) -> bool {
        self.err.as_ref().is_some_and(|e| {
            matches!(
                e.code().map(|c| c.code()),
                Some("55P03" | "40P01" | "40001")
            )
        })
    }

    fn cause(&self) -> String {
        self.err
            .as_ref()
            .map_or_else(|| "stopped".to_string(), describe_error)
    }
}

/// The position PostgreSQL gave for an error in the text it received, if any.
fn original_position(err: &tokio_postgres::Error) -> Option<usize> {
    match err.as_db_error().and_then(|d| d.position()) {
        Some(ErrorPosition::Original(p)) => Some(*p as usize),
        _ => None,
    }
}

/// `file:line:column` of an error at `position` (1-based, in characters) of `stmt`; its
/// start without one.
fn locate(ready: &Ready<'_>, stmt: &Statement, position: Option<usize>) -> String {
    let offset = position.map_or(stmt.start, |p| statement_char_offset(&ready.sql, stmt, p));
    let (line, col) = line_col(&ready.sql, offset);
    format!("{}:{line}:{col}", ready.script.display)
}

/// What a piece of a migration's flight is, to say where an error came from.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// BEGIN and its SET LOCALs.
    Begin,
    Statement {
        of: Of,
        index: usize,
    },
    History,
    Phase,
    Undo,
    Commit,
}

/// Which script of a migration's transaction a statement is from.
#[derive(Clone, Copy, Debug)]
enum Of {
    Before(usize),
    Script,
    After(usize),
}

/// The one-paragraph description of a database error: SQLSTATE, message, detail, hint.
pub fn describe_error(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut s = format!("ERROR {}: {}", db.code().code(), db.message());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; DETAIL: {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; HINT: {h}"));
            }
            if let Some(w) = db.where_() {
                s.push_str(&format!("; WHERE: {w}"));
            }
            s
        }
        None => format!("{err}"),
    }
}

async fn run_statement(
    client: &Client,
    ready: &Ready<'_>,
    stmt: &Statement,
) -> Result<(), StmtError> {
    let text = stmt.text(&ready.sql);
    let result = match stmt.copy_data {
        None => client.batch_execute(text).await,
        Some((a, b)) => copy_in(client, text, &ready.sql[a..b]).await,
    };
    result.map_err(|err| StmtError {
        at: locate(ready, stmt, original_position(&err)),
        err: Some(err),
        committing: false,
        open: true,
    })
}

async fn copy_in(
    client: &Client,
    statement: &str,
    data: &str,
) -> Result<(), tokio_postgres::Error> {
    let sink = client.copy_in(statement).await?;
    futures_util::pin_mut!(sink);
    sink.send(Bytes::copy_from_slice(data.as_bytes())).await?;
    sink.finish().await.map(|_| ())
}

/// The sessions `pid` is waiting for, as a person reads them in a log line.
async fn blockers(observer: &Client, pid: i32) -> Option<String> {
    let rows = observer
        .query(
            "SELECT a.pid, COALESCE(a.application_name, ''), COALESCE(a.state, ''), \
             COALESCE(to_char(now() - a.xact_start, 'HH24:MI:SS'), '-'), left(COALESCE(a.query, ''), 200) \
             FROM pg_catalog.pg_stat_activity a WHERE a.pid = ANY (pg_catalog.pg_blocking_pids($1))",
            &[&pid],
        )
        .await
        .ok()?;
    let described: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "pid {} (application_name \"{}\", {}, transaction open {}, last query: {})",
                r.get::<_, i32>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                r.get::<_, String>(3),
                r.get::<_, String>(4).trim()
            )
        })
        .collect();
    (!described.is_empty()).then(|| described.join("; "))
}

pub(crate) fn lock_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

/// Milliseconds as PostgreSQL's integer setting value. Built from our own `Duration`, never
/// from text a user typed, so it is safe inside a simple-protocol batch.
fn ms(d: Duration) -> u128 {
    d.as_millis()
}

impl Ctx<'_> {
    async fn run_all(&self, ready: &Ready<'_>) -> Result<usize, StmtError> {
        for stmt in &ready.statements {
            if self.stop.reason().is_some() {
                return Err(StmtError::stopped(
                    format!("{}:{}", ready.script.display, stmt.line),
                    true,
                ));
            }
            self.run_watched(ready, stmt).await?;
        }
        Ok(ready.statements.len())
    }

    /// Runs a statement; if it is still running after half its lock_timeout, asks from the
    /// idle session whom it waits for, so that the log names the blocking session while it
    /// matters, and the final message can too.
    async fn run_watched(&self, ready: &Ready<'_>, stmt: &Statement) -> Result<(), StmtError> {
        self.watched(ready, run_statement(self.client, ready, stmt))
            .await
    }

    /// Awaits `fut`, work of `ready` on the migration session, looking from the idle session
    /// whom it waits for once it has taken half its lock_timeout.
    async fn watched<T>(&self, ready: &Ready<'_>, fut: impl Future<Output = T>) -> T {
        let Some(watch) = &self.watch else {
            return fut.await;
        };
        tokio::pin!(fut);
        let first_look =
            (self.lock_timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(2));
        tokio::select! {
            r = &mut fut => return r,
            _ = tokio::time::sleep(first_look) => {}
        }
        let mut logged = false;
        loop {
            if let Some(b) = blockers(watch.observer, watch.backend_pid).await {
                if !logged {
                    tracing::warn!(migration = %label(ready.script), blocked_by = %b, "waiting for a lock held by {b}");
                    logged = true;
                }
                *self.blockers.borrow_mut() = Some(b);
            }
            tokio::select! {
                r = &mut fut => return r,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    pub(crate) fn row<'r>(
        &'r self,
        ready: &'r Ready<'_>,
        description: &'r str,
        script: &'r str,
        ms: i32,
        success: bool,
    ) -> NewRow<'r> {
        NewRow {
            version: ready.script.name.version().map(|v| v.as_str()),
            description,
            kind: match ready.script.name.kind {
                Kind::Undo(_) => "UNDO_SQL",
                _ => "SQL",
            },
            script,
            checksum: Some(ready.checksum),
            installed_by: self.installed_by,
            execution_time: ms,
            success,
        }
    }

    /// Records a contract or backfill script's phase beside its history row, so that an
    /// image without the file still knows it (SPEC §11).
    pub(crate) async fn record_phase(
        &self,
        ready: &Ready<'_>,
    ) -> Result<(), tokio_postgres::Error> {
        match self.phase_text(ready) {
            Some(sql) => self.client.batch_execute(&sql).await,
            None => Ok(()),
        }
    }

    /// The statement [`Ctx::record_phase`] runs, if the script needs one.
    fn phase_text(&self, ready: &Ready<'_>) -> Option<String> {
        let (c, v) = (self.companions?, ready.script.name.version()?);
        match ready.script.phase {
            Phase::Expand => None,
            p => Some(c.record_phase_text(v.as_str(), p)),
        }
    }

    /// Keeps `<table>_undo` in step with the history row being written: a versioned script
    /// stores its undo, an undo removes the one it ran.
    pub(crate) async fn keep_undo(&self, ready: &Ready<'_>) -> Result<(), tokio_postgres::Error> {
        match self.undo_text(ready) {
            Some(sql) => self.client.batch_execute(&sql).await,
            None => Ok(()),
        }
    }

    /// The statement [`Ctx::keep_undo`] runs, if the script needs one.
    fn undo_text(&self, ready: &Ready<'_>) -> Option<String> {
        let c = self.companions?;
        match (&ready.script.name.kind, &ready.undo) {
            (Kind::Versioned(_), Some(u)) => Some(c.store_undo_text(u)),
            (Kind::Undo(v), _) => Some(c.forget_undo_text(v.as_str())),
            _ => None,
        }
    }

    fn failure_for(&self, ready: &Ready<'_>, e: &StmtError, rolled_back: bool) -> Failure {
        let what = label(ready.script);
        let tail = if rolled_back {
            format!("; the transaction was rolled back, the database is as before {what}")
        } else {
            String::new()
        };
        if let Some(reason) = self.stop.reason() {
            return Failure::new(
                reason.failure_kind(),
                format!(
                    "{} while {} {what} at {}{tail}",
                    reason.describe(),
                    doing(ready),
                    e.at
                ),
            );
        }
        let Some(err) = &e.err else {
            return Failure::new(
                FailureKind::Internal,
                format!(
                    "{what} stopped at {} without a stop or an error; this is a bug",
                    e.at
                ),
            );
        };
        // A server shutting down (57P01/57P02), a lost connection: the script was rolled back
        // or its commit's fate is in the history table; a retry can help, so not exit 1.
        let (retryable, kind) = classify(err);
        let kind = match kind {
            _ if retryable => FailureKind::Unavailable,
            FailureKind::Denied => FailureKind::Denied,
            _ => FailureKind::MigrationFailed,
        };
        let msg = if kind == FailureKind::Unavailable && e.committing {
            format!(
                "lost the database while COMMIT of {what} was in flight ({}): the outcome is unknown; the history table is authoritative, and the next run applies {what} only if its row is absent",
                describe_error(err)
            )
        } else if kind == FailureKind::Unavailable {
            format!(
                "lost the database while {} {what} at {} ({}); the server rolls back the unfinished transaction",
                doing(ready),
                e.at,
                describe_error(err)
            )
        } else {
            format!("{what} failed at {}: {}{tail}", e.at, describe_error(err))
        };
        if let Some(db) = err.as_db_error() {
            tracing::error!(
                migration = %what, at = %e.at, sqlstate = db.code().code(), message = db.message(),
                detail = db.detail().unwrap_or(""), hint = db.hint().unwrap_or(""), "migration failed"
            );
        }
        Failure::new(kind, msg)
    }

    /// Applies a versioned or repeatable migration and records it.
    pub async fn apply(&self, ready: &Ready<'_>) -> Result<Done, Failure> {
        match ready.no_transaction {
            None => self.apply_in_transaction(ready).await,
            Some(why) => self.apply_without_transaction(ready, why).await,
        }
    }

    async fn apply_in_transaction(&self, ready: &Ready<'_>) -> Result<Done, Failure> {
        let description = abbreviate_description(&ready.script.name.description);
        let script = abbreviate_script(&ready.script.path);
        let mut delays = lock_backoff();
        let mut retries = 0;
        loop {
            self.stop
                .check(&format!("about to apply {}", label(ready.script)))?;
            let start = Instant::now();
            match self
                .try_transaction(ready, &description, &script, start)
                .await
            {
                Ok(statements) => {
                    return Ok(Done {
                        statements,
                        millis: start.elapsed().as_millis() as u64,
                        retries,
                        rows: None,
                    });
                }
                Err(e) => {
                    if e.open {
                        let _ = self.client.batch_execute("ROLLBACK").await;
                    }
                    if e.is_lock_conflict() && self.stop.reason().is_none() {
                        if retries < self.lock_retries {
                            retries += 1;
                            let delay = delays.next().unwrap_or(Duration::from_secs(10));
                            tracing::warn!(
                                migration = %label(ready.script), at = %e.at, error = %e.cause(),
                                retry = retries, of = self.lock_retries, retry_in_ms = delay.as_millis() as u64,
                                blocked_by = self.blockers.borrow().as_deref().unwrap_or("unknown"),
                                "rolled back on a lock conflict; retrying so that application queries do not queue behind us"
                            );
                            self.stop
                                .sleep(
                                    delay,
                                    &format!("backing off before retrying {}", label(ready.script)),
                                )
                                .await?;
                            continue;
                        }
                        return Err(Failure::new(
                            FailureKind::Busy,
                            format!(
                                "{} could not get its locks after {} attempts (lock_timeout {} ms each; last: {} at {}); rolled back. {}",
                                label(ready.script),
                                retries + 1,
                                ms(self.lock_timeout),
                                e.cause(),
                                e.at,
                                match self.blockers.borrow().as_deref() {
                                    Some(b) => format!("The conflicting lock is held by {b}: end that transaction, or retry later"),
                                    None => "A long transaction is holding a conflicting lock: find it in pg_stat_activity, then retry".to_string(),
                                }
                            ),
                        ));
                    }
                    return Err(self.failure_for(ready, &e, true));
                }
            }
        }
    }

    async fn try_transaction(
        &self,
        ready: &Ready<'_>,
        description: &str,
        script: &str,
        start: Instant,
    ) -> Result<usize, StmtError> {
        if let Some(flight) = self.flight(ready, description, script) {
            return self.try_flight(ready, &flight).await;
        }
        let to_err = |err: tokio_postgres::Error, at: &str| StmtError {
            committing: false,
            open: true,
            err: Some(err),
            at: at.to_string(),
        };
        let mut begin = format!("BEGIN; SET LOCAL lock_timeout = {}", ms(self.lock_timeout));
        if let Some(st) = self.statement_timeout {
            begin.push_str(&format!("; SET LOCAL statement_timeout = {}", ms(st)));
        }
        self.client
            .batch_execute(&begin)
            .await
            .map_err(|e| to_err(e, "BEGIN"))?;
        for cb in self.before_each {
            self.run_all(cb).await?;
        }
        let n = self.run_all(ready).await?;
        for cb in self.after_each {
            self.run_all(cb).await?;
        }
        if self.stop.reason().is_some() {
            return Err(StmtError::stopped(ready.script.display.clone(), true));
        }
        let elapsed = start.elapsed().as_millis().min(i32::MAX as u128) as i32;
        self.inserter
            .insert(
                self.client,
                self.table,
                &self.row(ready, description, script, elapsed, true),
            )
            .await
            .map_err(|e| to_err(e, &format!("{} (history insert)", ready.script.display)))?;
        self.record_phase(ready)
            .await
            .map_err(|e| to_err(e, &format!("{} (phase record)", ready.script.display)))?;
        self.keep_undo(ready)
            .await
            .map_err(|e| to_err(e, &format!("{} (undo record)", ready.script.display)))?;
        self.client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| StmtError {
                committing: true,
                ..to_err(e, &format!("{} (COMMIT)", ready.script.display))
            })?;
        Ok(n)
    }

    /// A migration's scripts (its before- and after-each callbacks around it), in order.
    fn sources<'r>(&'r self, ready: &'r Ready<'r>) -> impl Iterator<Item = (Of, &'r Ready<'r>)> {
        let before = self.before_each.iter().enumerate();
        let after = self.after_each.iter().enumerate();
        before
            .map(|(i, r)| (Of::Before(i), r))
            .chain([(Of::Script, ready)])
            .chain(after.map(|(i, r)| (Of::After(i), r)))
    }

    fn source<'r>(&'r self, ready: &'r Ready<'r>, of: Of) -> &'r Ready<'r> {
        match of {
            Of::Before(i) => &self.before_each[i],
            Of::Script => ready,
            Of::After(i) => &self.after_each[i],
        }
    }

    /// The whole transaction as one message ([`crate::core::flight`]), when it can travel as
    /// one: `COPY … FROM STDIN` sends its data in messages of its own, and a setting that
    /// changes how text is read would not reach the statements parsed with it.
    fn flight(&self, ready: &Ready<'_>, description: &str, script: &str) -> Option<Flight<Part>> {
        let flies = |r: &Ready<'_>| {
            r.statements
                .iter()
                .all(|s| s.copy_data.is_none() && !changes_parsing(s.text(&r.sql)))
        };
        if !self.sources(ready).all(|(_, r)| flies(r)) {
            return None;
        }
        let mut f = Flight::default();
        f.push("BEGIN", Part::Begin);
        f.push(
            &format!("SET LOCAL lock_timeout = {}", ms(self.lock_timeout)),
            Part::Begin,
        );
        if let Some(st) = self.statement_timeout {
            f.push(
                &format!("SET LOCAL statement_timeout = {}", ms(st)),
                Part::Begin,
            );
        }
        for (of, r) in self.sources(ready) {
            for (index, stmt) in r.statements.iter().enumerate() {
                f.push(stmt.text(&r.sql), Part::Statement { of, index });
            }
        }
        let row = self.row(ready, description, script, 0, true);
        f.push(&history::insert_text(self.table, &row), Part::History);
        if let Some(sql) = self.phase_text(ready) {
            f.push(&sql, Part::Phase);
        }
        if let Some(sql) = self.undo_text(ready) {
            f.push(&sql, Part::Undo);
        }
        f.push("COMMIT", Part::Commit);
        Some(f)
    }

    /// Sends the flight and reads its answers: one round trip for the whole migration.
    async fn try_flight(
        &self,
        ready: &Ready<'_>,
        flight: &Flight<Part>,
    ) -> Result<usize, StmtError> {
        if self.stop.reason().is_some() {
            return Err(StmtError::stopped(ready.script.display.clone(), false));
        }
        let completed = std::cell::Cell::new(0usize);
        let sent = std::cell::Cell::new(false);
        let answers = async {
            let stream = self.client.simple_query_raw(flight.text()).await?;
            sent.set(true);
            futures_util::pin_mut!(stream);
            while let Some(message) = stream.try_next().await? {
                if let SimpleQueryMessage::CommandComplete(_) = message {
                    completed.set(completed.get() + 1);
                }
            }
            Ok::<(), tokio_postgres::Error>(())
        };
        match self.watched(ready, answers).await {
            Ok(()) => Ok(ready.statements.len()),
            Err(err) => Err(self.blamed(ready, flight, (sent.get(), completed.get()), err)),
        }
    }

    /// Where in its file an error of a flight came from, and what it leaves behind.
    fn blamed(
        &self,
        ready: &Ready<'_>,
        flight: &Flight<Part>,
        (sent, completed): (bool, usize),
        err: tokio_postgres::Error,
    ) -> StmtError {
        let blame = flight.blame(original_position(&err), completed);
        let display = &ready.script.display;
        let at = match blame.as_ref().map(|b| (*b.tag, b.position)) {
            Some((Part::Statement { of, index }, position)) => {
                let r = self.source(ready, of);
                locate(r, &r.statements[index], position)
            }
            Some((Part::Begin, _)) => "BEGIN".to_string(),
            Some((Part::History, _)) => format!("{display} (history insert)"),
            Some((Part::Phase, _)) => format!("{display} (phase record)"),
            Some((Part::Undo, _)) => format!("{display} (undo record)"),
            Some((Part::Commit, _)) | None => format!("{display} (COMMIT)"),
        };
        // A connection lost after the message left is the one case where the server may have
        // run all of it, COMMIT included, without our hearing it: the COMMIT was in flight
        // from the moment the message was sent.
        let lost = sent && err.as_db_error().is_none();
        let commit = matches!(blame.map(|b| *b.tag), Some(Part::Commit) | None);
        StmtError {
            committing: lost || commit,
            // A refused message ran nothing, its BEGIN included.
            open: completed > 0,
            err: Some(err),
            at,
        }
    }

    async fn apply_without_transaction(
        &self,
        ready: &Ready<'_>,
        why: &str,
    ) -> Result<Done, Failure> {
        let what = label(ready.script);
        tracing::info!(migration = %what, reason = why, "running outside a transaction, statement by statement");
        let description = abbreviate_description(&ready.script.name.description);
        let script = abbreviate_script(&ready.script.path);
        let start = Instant::now();
        let invalid_before = invalid_indexes(self.client).await.unwrap_or_default();
        // Recorded as failed before the first statement, and marked successful after the
        // last: a crash in between leaves a row that makes the next run stop and say so.
        let rank = history::insert(
            self.client,
            self.table,
            &self.row(ready, &description, &script, 0, false),
        )
        .await
        .map_err(|e| {
            Failure::new(
                FailureKind::Unavailable,
                format!("recording {what} before running it: {}", describe_error(&e)),
            )
        })?;
        self.record_phase(ready).await.map_err(|e| {
            Failure::new(
                FailureKind::Unavailable,
                format!(
                    "recording the phase of {what} before running it: {}",
                    describe_error(&e)
                ),
            )
        })?;
        // A versioned script's undo is stored before it runs, with its failed row: an image
        // without the file can undo it once it is repaired and finished. An undo's stored
        // text is removed only once it has run to its end.
        if matches!(ready.script.name.kind, Kind::Versioned(_)) {
            self.keep_undo(ready).await.map_err(|e| {
                Failure::new(
                    FailureKind::Unavailable,
                    format!(
                        "storing the undo of {what} before running it: {}",
                        describe_error(&e)
                    ),
                )
            })?;
        }
        let mut retries = 0;
        for (i, stmt) in ready.statements.iter().enumerate() {
            let result = self.run_non_transactional(ready, stmt, &mut retries).await;
            if let Err(e) = result {
                return Err(self.partial(ready, rank, i, &e, &invalid_before).await);
            }
        }
        let elapsed = start.elapsed().as_millis().min(i32::MAX as u128) as i32;
        history::mark_success(self.client, self.table, rank, elapsed).await.map_err(|e| {
            Failure::new(
                FailureKind::Partial,
                format!("{what} ran completely but marking history row {rank} as successful failed ({}); check the database, then run `schemagate repair`", describe_error(&e)),
            )
        })?;
        if matches!(ready.script.name.kind, Kind::Undo(_))
            && let Err(e) = self.keep_undo(ready).await
        {
            // The undo row already says it is undone; a stale stored undo is overwritten
            // when the version applies again.
            tracing::warn!(migration = %what, error = %describe_error(&e), "removing the stored undo after it ran failed; it is replaced when the version applies again");
        }
        Ok(Done {
            statements: ready.statements.len(),
            millis: start.elapsed().as_millis() as u64,
            retries,
            rows: None,
        })
    }

    async fn run_non_transactional(
        &self,
        ready: &Ready<'_>,
        stmt: &Statement,
        retries: &mut u32,
    ) -> Result<(), StmtError> {
        let text = stmt.text(&ready.sql);
        // CONCURRENTLY waits for older transactions without blocking anyone, so a short
        // lock_timeout would only make it fail; every other statement keeps it. The deadline
        // bounds both; statement_timeout does not apply outside transactions.
        let lock_timeout =
            if non_transactional_reason(text).is_some_and(|r| r.contains("CONCURRENTLY")) {
                0
            } else {
                ms(self.lock_timeout)
            };
        let mut delays = lock_backoff();
        loop {
            if self.stop.reason().is_some() {
                return Err(StmtError::stopped(
                    format!("{}:{}", ready.script.display, stmt.line),
                    true,
                ));
            }
            self.client
                .batch_execute(&format!(
                    "SET lock_timeout = {lock_timeout}; SET statement_timeout = 0"
                ))
                .await
                .map_err(|err| StmtError {
                    committing: false,
                    open: true,
                    err: Some(err),
                    at: ready.script.display.clone(),
                })?;
            match self.run_watched(ready, stmt).await {
                Err(e)
                    if e.is_lock_conflict()
                        && *retries < self.lock_retries
                        && self.stop.reason().is_none() =>
                {
                    *retries += 1;
                    let delay = delays.next().unwrap_or(Duration::from_secs(10));
                    tracing::warn!(at = %e.at, error = %e.cause(), retry = *retries, retry_in_ms = delay.as_millis() as u64, "lock conflict; retrying the statement");
                    if self.stop.sleep(delay, "backing off").await.is_err() {
                        return Err(e);
                    }
                }
                other => return other,
            }
        }
    }

    async fn partial(
        &self,
        ready: &Ready<'_>,
        rank: i32,
        index: usize,
        e: &StmtError,
        invalid_before: &[InvalidIndex],
    ) -> Failure {
        let what = label(ready.script);
        let mut dropped = Vec::new();
        let mut left = Vec::new();
        if self.stop.reason().is_none() && !self.client.is_closed() {
            for idx in invalid_indexes(self.client).await.unwrap_or_default() {
                if invalid_before.contains(&idx) {
                    continue;
                }
                match drop_index(self.client, &idx).await {
                    Ok(()) => dropped.push(idx.qualified),
                    Err(_) => left.push(idx.qualified),
                }
            }
        }
        let cause = match self.stop.reason() {
            Some(r) => r.describe().to_string(),
            None => e.cause(),
        };
        let mut msg = format!(
            "{what} stopped part-way outside a transaction at statement {} of {} ({}): {cause}. Statements before it are committed; history row {rank} records {what} as failed",
            index + 1,
            ready.statements.len(),
            e.at
        );
        if !dropped.is_empty() {
            msg.push_str(&format!(
                "; dropped the INVALID index it left: {}",
                dropped.join(", ")
            ));
        }
        if !left.is_empty() {
            msg.push_str(&format!(
                "; it left INVALID index {}, drop it by hand",
                left.join(", ")
            ));
        }
        msg.push_str(match ready.script.name.kind {
            Kind::Undo(_) => ". Fix the cause, make the database match, then run `schemagate repair` and undo again",
            _ => ". Fix the cause, make the database match, then run `schemagate repair` and migrate again",
        });
        tracing::error!(migration = %what, at = %e.at, statement = index + 1, history_rank = rank, "partial migration");
        Failure::new(FailureKind::Partial, msg)
    }

    /// Runs a callback (beforeMigrate, afterMigrate, afterMigrateError) in its own transaction.
    pub async fn callback(&self, ready: &Ready<'_>) -> Result<(), Failure> {
        let in_tx = ready.no_transaction.is_none();
        if in_tx {
            self.client
                .batch_execute("BEGIN")
                .await
                .map_err(|e| Failure::new(FailureKind::Unavailable, e.to_string()))?;
        }
        match self.run_all(ready).await {
            Ok(_) => {
                if in_tx {
                    self.client.batch_execute("COMMIT").await.map_err(|e| {
                        Failure::new(FailureKind::MigrationFailed, describe_error(&e))
                    })?;
                }
                Ok(())
            }
            Err(e) => {
                if in_tx {
                    let _ = self.client.batch_execute("ROLLBACK").await;
                }
                Err(self.failure_for(ready, &e, in_tx))
            }
        }
    }
}

/// What a log line says the run was doing to a script.
fn doing(ready: &Ready<'_>) -> &'static str {
    match ready.script.name.kind {
        Kind::Undo(_) => "running",
        _ => "applying",
    }
}

/// Drops an INVALID index without blocking writes to its table.
pub async fn drop_index(client: &Client, idx: &InvalidIndex) -> Result<(), tokio_postgres::Error> {
    // `qualified` was quoted by the server's format('%I.%I').
    client
        .batch_execute(&format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}",
            idx.qualified
        ))
        .await
}

/// An index PostgreSQL marks INVALID (left by a failed or interrupted CONCURRENTLY build).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidIndex {
    /// Schema-qualified and quoted by the server (`format('%I.%I')`): safe to splice.
    pub qualified: String,
    pub name: String,
}

pub async fn invalid_indexes(client: &Client) -> Result<Vec<InvalidIndex>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), c.relname::text FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT i.indisvalid ORDER BY 1",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| InvalidIndex {
            qualified: r.get(0),
            name: r.get(1),
        })
        .collect())
}

/// The statement of `sql` that builds `index` CONCURRENTLY, if any: `(number, line, text)`.
pub fn statement_building(sql: &str, index: &InvalidIndex) -> Option<(usize, usize, String)> {
    let statements = split::split(sql).ok()?;
    let name = index.name.to_lowercase();
    statements.iter().enumerate().find_map(|(i, st)| {
        let text = st.text(sql);
        let builds = non_transactional_reason(text).is_some_and(|r| r.contains("CONCURRENTLY"));
        (builds && text.to_lowercase().contains(&name))
            .then(|| (i + 1, st.line, text.chars().take(160).collect()))
    })
}
