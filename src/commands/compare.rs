//! `compare` (issue 17): this database (the source) against `SCHEMAGATE_COMPARE_URL` (the target), level by level — schema, history, counts, content — on two read-only pinned sessions, stopping at the first level that differs unless `--all`, with re-checks that tell a live source from a real difference.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::app::{db_failure, session_options, table};
use crate::cli::Format;
use crate::config::Settings;
use crate::config::compare::CompareSettings;
use crate::config::conn::ConnSettings;
use crate::core::compare::catalog;
use crate::core::compare::content::{
    HashFn, Method, Range, Settled, Table, Tally, bucket_bits, diff_rows, shown_ident,
};
use crate::core::compare::filter::Pattern;
use crate::core::compare::report::{LevelState, Summary, TableResult};
use crate::core::compare::verdicts::{self, Chunk, SequenceValue};
use crate::core::compare::{self as cmp, Difference, KeyDifference, Level};
use crate::core::outcome::{Failure, FailureKind};
use crate::pg::compare::{self as read, PINNED, SERVER, Server, SideTable};
use crate::pg::connect::{Session, connect_with_retry};
use crate::pg::history;
use crate::runtime::Stop;
use crate::telemetry::Recorder;

/// How far apart the looks at a difference are: long enough for a subscriber a little
/// behind to catch up, short enough that three of them stay in a hook's budget.
const RECHECK_PAUSE: Duration = Duration::from_secs(1);
/// How often a long comparison says how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Differing chunks whose rows are fetched to name keys, per table: enough to fill
/// [`crate::core::compare::MAX_KEYS`] many times over; the rest are counted.
const FETCHED_CHUNKS: usize = 8;
/// A differing key range with more rows than this many chunks' worth on a side is split
/// before its rows are fetched (a target with a million extra rows past the source's
/// last key would otherwise be fetched whole).
const FETCH_CHUNKS_AT_MOST: u64 = 4;

/// One side of the comparison.
struct Side {
    /// `source` or `target`.
    role: &'static str,
    url: String,
    session: Session,
    server: Server,
}

impl Side {
    fn client(&self) -> &Client {
        &self.session.client
    }

    fn failure(&self, doing: &str, e: &tokio_postgres::Error, stop: &Stop) -> Failure {
        let mut f = db_failure(
            &format!("{doing} on the {} ({})", self.role, self.url),
            e,
            stop,
        );
        // Waiting on a lock (a migration holds one) or a statement timeout: nothing is
        // wrong with the data, and a later run can get through.
        if stop.reason().is_none() && matches!(e.code().map(|c| c.code()), Some("55P03" | "57014"))
        {
            f.kind = FailureKind::Busy;
        }
        f
    }
}

/// Runs `compare`; prints the report on stdout (`--format json`: one document) and returns
/// the outcome whose exit code says it: 0 identical, 65 different, 75 still changing.
/// `compared` receives what was compared, for the summary line.
pub async fn compare_command(
    settings: &Settings,
    stop: &Stop,
    format: Format,
    all: bool,
    compared: &mut String,
) -> Result<(), Failure> {
    let Some(cs) = &settings.compare else {
        return Err(Failure::new(
            FailureKind::Config,
            "compare needs the other database: set SCHEMAGATE_COMPARE_URL (or SCHEMAGATE_COMPARE_URL_FILE) to its postgres:// URL or key=value string; fields it leaves out are taken from this connection",
        ));
    };
    let run = async {
        let (source, target) = tokio::try_join!(
            open(settings, stop, &settings.conn, "source"),
            open(settings, stop, &cs.conn, "target")
        )?;
        let _registrations = (
            stop.register(source.session.canceller()),
            stop.register(target.session.canceller()),
        );
        let progress = RefCell::new(Progress::default());
        let mut c = Comparison::new(settings, cs, stop, source, target, &progress);
        let result = tokio::select! {
            r = c.run(all) => r,
            () = report_progress(&progress) => unreachable!("reports until the run ends"),
        };
        let Comparison { source, target, .. } = c;
        let (report, counted) = result?;
        tokio::join!(source.session.close(), target.session.close());
        Ok::<_, Failure>((report, counted))
    };
    let (report, counted) = tokio::select! {
        r = run => r?,
        r = stop.stopped() => return Err(r.failure("comparing the databases")),
    };
    *compared = counted;
    print!(
        "{}",
        match format {
            Format::Json => report.json(),
            Format::Table => report.table(),
        }
    );
    cmp::outcome(&report.differences)
}

/// A session with the settings pinned, read-only, and what the comparison must know of
/// its server, in the round trip that opens it.
async fn open(
    settings: &Settings,
    stop: &Stop,
    conn: &ConnSettings,
    role: &'static str,
) -> Result<Side, Failure> {
    let mut conn = conn.clone();
    let timeouts = format!(
        "SET lock_timeout = {}; {}",
        settings.lock_timeout.as_millis(),
        settings
            .statement_timeout
            .map(|t| format!("SET statement_timeout = {}; ", t.as_millis()))
            .unwrap_or_default()
    );
    let early = format!("{PINNED}; {timeouts}{SERVER}");
    let url = conn.redacted_url();
    let connect = |conn: ConnSettings| {
        let early = early.clone();
        async move {
            connect_with_retry(&conn, settings.wait_timeout, Some(&early), &Recorder::off()).await
        }
    };
    let plain = conn.clone();
    conn.options = Some(session_options(
        conn.options.as_deref(),
        settings.lock_timeout,
    ));
    let mut session = match connect(conn).await {
        // A pooler that refuses the `options` startup parameter (PgBouncer without
        // ignore_startup_parameters): the timeouts are set per session anyway.
        Err(f) if f.message.contains("unsupported startup parameter") => connect(plain).await,
        other => other,
    }
    .map_err(|mut f| {
        f.message = format!("the {role} ({url}): {}", f.message);
        f
    })?;
    let server = match session.early.take() {
        Some(Ok(messages)) => read::server(&messages),
        Some(Err(e)) => {
            return Err(db_failure(
                &format!("pinning the session settings on the {role} ({url})"),
                &e,
                stop,
            ));
        }
        None => None,
    }
    .ok_or_else(|| {
        Failure::new(
            FailureKind::Internal,
            format!("the {role} ({url}) did not say its version and encoding"),
        )
    })?;
    Ok(Side {
        role,
        url,
        session,
        server,
    })
}

/// How far the comparison got, shared with the task that says so every
/// [`PROGRESS_EVERY`] — also while a query waits (on a lock, on a slow chunk).
#[derive(Default)]
struct Progress {
    level: Option<Level>,
    /// What the run is at: `reading the catalogs`, `counting public.orders`.
    doing: String,
    tables_done: usize,
    tables: usize,
    rows_done: i64,
    /// The source rows the content level hashes; 0 before it.
    rows: i64,
}

impl Progress {
    fn log(&self) {
        let level = self.level.map_or("connect", Level::as_str);
        let rows = if self.rows > 0 {
            format!("{}/{}", self.rows_done, self.rows)
        } else {
            self.rows_done.to_string()
        };
        tracing::info!(
            level,
            doing = %self.doing,
            tables_done = self.tables_done,
            tables = self.tables,
            rows_done = self.rows_done,
            rows = self.rows,
            "compare: {level}: {}; {}/{} tables, {rows} source rows done",
            self.doing,
            self.tables_done,
            self.tables,
        );
    }
}

/// Logs the progress every [`PROGRESS_EVERY`] until dropped.
async fn report_progress(progress: &RefCell<Progress>) {
    let mut every = tokio::time::interval(PROGRESS_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        progress.borrow().log();
    }
}

struct Comparison<'a> {
    settings: &'a Settings,
    cs: &'a CompareSettings,
    stop: &'a Stop,
    source: Side,
    target: Side,
    hash: HashFn,
    differences: Vec<Difference>,
    tables: Vec<TableResult>,
    notes: Vec<String>,
    /// The tables both sides have, with their counts, from the counts level.
    pairs: Vec<(Table, i64, i64)>,
    progress: &'a RefCell<Progress>,
}

impl<'a> Comparison<'a> {
    fn new(
        settings: &'a Settings,
        cs: &'a CompareSettings,
        stop: &'a Stop,
        source: Side,
        target: Side,
        progress: &'a RefCell<Progress>,
    ) -> Self {
        let hash = HashFn::choose(
            (source.server.version_num, &source.server.encoding),
            (target.server.version_num, &target.server.encoding),
        );
        let mut notes = Vec::new();
        if hash == HashFn::Sha256 {
            notes.push(format!(
                "the servers differ in version or encoding (source {} {}, target {} {}): rows are hashed with sha256, which is slower than hashtextextended but the same everywhere",
                source.server.version_num, source.server.encoding, target.server.version_num, target.server.encoding
            ));
        }
        if source.server.collation != target.server.collation {
            notes.push(format!(
                "the databases sort text differently (source {}, target {}): ORDER BY on text gives the app other orders there; content is compared by key ranges on integer and uuid keys and by key-hash buckets on the rest, which no collation changes",
                source.server.collation, target.server.collation
            ));
        }
        Comparison {
            settings,
            cs,
            stop,
            source,
            target,
            hash,
            differences: Vec::new(),
            tables: Vec::new(),
            notes,
            pairs: Vec::new(),
            progress,
        }
    }

    async fn run(&mut self, all: bool) -> Result<(Summary, String), Failure> {
        for n in &self.notes {
            tracing::warn!("compare: {n}");
        }
        tracing::info!(
            source = %self.source.url, target = %self.target.url, hash = self.hash.as_str(),
            "compare: {} against {}", self.source.url, self.target.url
        );
        let mut levels = Vec::new();
        let mut skip = false;
        for level in Level::ALL {
            if skip {
                levels.push((level, LevelState::Skipped));
                continue;
            }
            let before = self.differences.len();
            let started = Instant::now();
            {
                let mut p = self.progress.borrow_mut();
                p.level = Some(level);
                p.doing = match level {
                    Level::Schema => "reading the catalogs".into(),
                    Level::History => "reading the history table".into(),
                    Level::Counts => "listing the tables".into(),
                    Level::Content => String::new(),
                };
                (p.tables_done, p.rows_done) = (0, 0);
            }
            match level {
                Level::Schema => self.schema().await?,
                Level::History => self.history().await?,
                Level::Counts => self.counts().await?,
                Level::Content => self.content().await?,
            }
            let found = self.differences.len() - before;
            let ms = started.elapsed().as_millis() as u64;
            if found == 0 {
                tracing::info!(
                    level = level.as_str(),
                    duration_ms = ms,
                    "compare: {} identical",
                    level.as_str()
                );
                levels.push((level, LevelState::Identical));
            } else {
                for d in &self.differences[before..] {
                    tracing::warn!(level = level.as_str(), object = %d.object, certainty = ?d.certainty, "compare: {}", d.line());
                }
                levels.push((level, LevelState::Differs));
                skip = !all;
            }
        }
        let rows: i64 = self.pairs.iter().map(|p| p.1).sum();
        let counted = format!(
            "{} table{}, {rows} source rows",
            self.pairs.len(),
            if self.pairs.len() == 1 { "" } else { "s" }
        );
        Ok((
            Summary {
                source: self.source.url.clone(),
                target: self.target.url.clone(),
                hash: self.hash.as_str(),
                levels,
                tables: std::mem::take(&mut self.tables),
                differences: std::mem::take(&mut self.differences),
                notes: std::mem::take(&mut self.notes),
            },
            counted,
        ))
    }

    fn filter(&self) -> &[Pattern] {
        &self.cs.tables
    }

    fn src(&self) -> &Client {
        self.source.client()
    }

    fn tgt(&self) -> &Client {
        self.target.client()
    }

    /// Both sides' answers to the same read, or the first failure, naming its side.
    fn pair<T>(
        &self,
        doing: &str,
        (a, b): (
            Result<T, tokio_postgres::Error>,
            Result<T, tokio_postgres::Error>,
        ),
    ) -> Result<(T, T), Failure> {
        let a = a.map_err(|e| self.source.failure(doing, &e, self.stop))?;
        let b = b.map_err(|e| self.target.failure(doing, &e, self.stop))?;
        Ok((a, b))
    }

    fn doing(&self, what: String) {
        self.progress.borrow_mut().doing = what;
    }

    fn rows_done(&self, rows: i64) {
        self.progress.borrow_mut().rows_done += rows;
    }

    async fn schema(&mut self) -> Result<(), Failure> {
        let (s, t) = self.pair(
            "reading the catalog",
            tokio::join!(read::catalog(self.src()), read::catalog(self.tgt())),
        )?;
        let unmatched: Vec<&str> = self
            .filter()
            .iter()
            .filter(|p| {
                !s.iter().chain(&t).any(|o| {
                    o.owner.is_none() && o.table.as_ref().is_some_and(|(sc, tb)| p.matches(sc, tb))
                })
            })
            .map(|p| p.text.as_str())
            .collect();
        if !unmatched.is_empty() {
            return Err(Failure::new(
                FailureKind::Config,
                format!(
                    "SCHEMAGATE_COMPARE_TABLES: {} matches no table on either database (names are matched as the catalogs spell them, case-sensitive; `schema.table`, `table`, `*` for any run of characters)",
                    unmatched
                        .iter()
                        .map(|u| format!("`{u}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let (s, t) = (
            catalog::keep(s, self.filter()),
            catalog::keep(t, self.filter()),
        );
        tracing::debug!(
            source_objects = s.len(),
            target_objects = t.len(),
            "compare: catalogs read"
        );
        self.differences.extend(catalog::diff(&s, &t));
        Ok(())
    }

    async fn history(&mut self) -> Result<(), Failure> {
        let table = table(self.settings);
        let (s, t) = self.pair(
            "reading the history table",
            tokio::join!(
                history::read(self.src(), &table),
                history::read(self.tgt(), &table)
            ),
        )?;
        self.differences.extend(cmp::history(
            s.as_deref(),
            t.as_deref(),
            &format!(
                "{}.{}",
                shown_ident(&table.schema),
                shown_ident(&table.name)
            ),
        ));
        Ok(())
    }

    /// The tables both sides have (filtered, without the history table, which the history
    /// level compares by its own rules), as the content level reads them.
    fn pairs_of(&self, source: Vec<SideTable>, target: Vec<SideTable>) -> Vec<Table> {
        let history = table(self.settings);
        let target: BTreeMap<(String, String), SideTable> = target
            .into_iter()
            .map(|t| ((t.schema.clone(), t.name.clone()), t))
            .collect();
        source
            .into_iter()
            .filter(|s| !(s.schema == history.schema && s.name == history.name))
            .filter(|s| {
                self.filter().is_empty()
                    || self.filter().iter().any(|p| p.matches(&s.schema, &s.name))
            })
            .filter_map(|s| {
                let t = target.get(&(s.schema.clone(), s.name.clone()))?;
                let theirs: BTreeSet<&String> = t.columns.iter().collect();
                let columns: Vec<String> = s
                    .columns
                    .iter()
                    .filter(|c| theirs.contains(c))
                    .cloned()
                    .collect();
                let key_ok = !s.key.is_empty() && s.key.iter().all(|k| theirs.contains(k));
                Some(Table {
                    ranged: key_ok && s.ranged && s.key == t.key,
                    key: if key_ok { s.key.clone() } else { Vec::new() },
                    schema: s.schema,
                    name: s.name,
                    columns,
                })
            })
            .collect()
    }

    async fn count(&self, table: &Table) -> Result<(i64, i64), Failure> {
        self.pair(
            &format!("counting the rows of {}", table.display()),
            tokio::join!(
                read::count(self.src(), table),
                read::count(self.tgt(), table)
            ),
        )
    }

    async fn counts(&mut self) -> Result<(), Failure> {
        let (s, t) = self.pair(
            "listing the tables",
            tokio::join!(read::tables(self.src()), read::tables(self.tgt())),
        )?;
        let tables = self.pairs_of(s, t);
        let mut open: Vec<Chunk<usize>> = Vec::new();
        self.progress.borrow_mut().tables = tables.len();
        for (i, table) in tables.iter().enumerate() {
            self.doing(format!("counting {}", table.display()));
            let (a, b) = self.count(table).await?;
            self.pairs.push((table.clone(), a, b));
            self.progress.borrow_mut().tables_done += 1;
            self.rows_done(a);
            if a != b {
                open.push(Chunk {
                    at: i,
                    looks: vec![(verdicts::rows(a), verdicts::rows(b))],
                });
            }
        }
        self.recheck(&mut open, "re-checking row counts", async |&i| {
            let (a, b) = self.count(&self.pairs[i].0).await?;
            Ok((verdicts::rows(a), verdicts::rows(b)))
        })
        .await?;
        for c in &open {
            let Some(certainty) = verdicts::certainty(c.settled()) else {
                continue;
            };
            let (a, b) = c
                .looks
                .last()
                .map(|(a, b)| (a.rows, b.rows))
                .unwrap_or_default();
            self.differences.push(Difference {
                certainty,
                ..Difference::stable(
                    Level::Counts,
                    format!("table {}", self.pairs[c.at].0.display()),
                    format!("{a} rows on the source, {b} on the target"),
                )
            });
        }
        self.sequences().await
    }

    /// A sequence the target has not advanced as far as the source would hand out ids
    /// the source already gave: the classic cutover loss after logical replication, which
    /// copies rows but not sequences. A target ahead is fine (cutover scripts leave a gap).
    async fn sequences(&mut self) -> Result<(), Failure> {
        let keep = |v: &SequenceValue| {
            self.filter().is_empty()
                || self
                    .filter()
                    .iter()
                    .any(|p| p.matches(&v.table.0, &v.table.1))
        };
        let (s, t) = self.sequence_values().await?;
        let mut looks: BTreeMap<String, Vec<verdicts::Values>> = verdicts::behind(&s, &t, keep)
            .into_iter()
            .map(|(q, v)| (q, vec![v]))
            .collect();
        for _ in 0..self.cs.rechecks {
            if looks.is_empty() {
                break;
            }
            self.stop
                .sleep(RECHECK_PAUSE, "re-checking sequences")
                .await?;
            let (s, t) = self.sequence_values().await?;
            let now = verdicts::behind(&s, &t, keep);
            looks.retain(|q, l| match now.get(q) {
                Some(v) => {
                    l.push(*v);
                    true
                }
                None => false,
            });
        }
        self.differences
            .extend(looks.iter().map(|(q, l)| verdicts::sequence(q, l)));
        Ok(())
    }

    /// Looks again at each chunk that is not yet equal, up to `SCHEMAGATE_COMPARE_RECHECKS`
    /// times, [`RECHECK_PAUSE`] apart, until all are equal.
    async fn recheck<K>(
        &self,
        open: &mut [Chunk<K>],
        doing: &str,
        look: impl AsyncFn(&K) -> Result<(Tally, Tally), Failure>,
    ) -> Result<(), Failure> {
        for _ in 0..self.cs.rechecks {
            if open.iter().all(|c| c.settled() == Settled::Equal) {
                break;
            }
            self.stop.sleep(RECHECK_PAUSE, doing).await?;
            for c in open.iter_mut().filter(|c| c.settled() != Settled::Equal) {
                c.looks.push(look(&c.at).await?);
            }
        }
        Ok(())
    }

    async fn sequence_values(&self) -> Result<(Vec<SequenceValue>, Vec<SequenceValue>), Failure> {
        self.pair(
            "reading the sequences",
            tokio::join!(read::sequences(self.src()), read::sequences(self.tgt())),
        )
    }

    async fn content(&mut self) -> Result<(), Failure> {
        let pairs = self.pairs.clone();
        self.progress.borrow_mut().rows = pairs.iter().map(|p| p.1).sum();
        for (t, a, b) in &pairs {
            self.doing(format!("hashing {}", t.display()));
            let started = Instant::now();
            let (result, difference) = match t.method() {
                Method::KeyRange => self.ranged(t).await?,
                Method::KeyHash => self.hashed(t, (*a).max(*b)).await?,
                Method::WholeTable => self.whole(t).await?,
            };
            tracing::debug!(table = %t.display(), method = ?t.method(), chunks = result.chunks, duration_ms = started.elapsed().as_millis() as u64, "compare: table done");
            self.tables.push(TableResult {
                rows_source: *a,
                rows_target: *b,
                ..result
            });
            self.differences.extend(difference);
            self.progress.borrow_mut().tables_done += 1;
        }
        Ok(())
    }

    fn result(t: &Table) -> TableResult {
        TableResult {
            table: t.display(),
            method: t.method(),
            rows_source: 0,
            rows_target: 0,
            chunks: 0,
            chunks_differing: 0,
            chunks_settled: 0,
        }
    }

    async fn tally_range(&self, t: &Table, r: &Range) -> Result<(Tally, Tally), Failure> {
        self.pair(
            &format!("hashing rows of {}", t.display()),
            tokio::join!(
                read::tally(self.src(), t, self.hash, r),
                read::tally(self.tgt(), t, self.hash, r)
            ),
        )
    }

    async fn ranged(&mut self, t: &Table) -> Result<(TableResult, Option<Difference>), Failure> {
        let mut result = Self::result(t);
        let chunk = self.cs.chunk_rows;
        let doing = format!("reading chunk bounds of {}", t.display());
        let hashing = format!("hashing rows of {}", t.display());
        let mut from: Option<String> = None;
        let mut next = read::next_bound(self.src(), t, &Range::default(), chunk)
            .await
            .map_err(|e| self.source.failure(&doing, &e, self.stop))?;
        let mut open = Vec::new();
        loop {
            let range = Range {
                from: from.clone(),
                to: next.clone(),
            };
            // The next bound is read while this chunk is hashed: one round trip a chunk.
            let after = async {
                match &next {
                    Some(k) => {
                        let rest = Range {
                            from: Some(k.clone()),
                            to: None,
                        };
                        read::next_bound(self.src(), t, &rest, chunk).await
                    }
                    None => Ok(None),
                }
            };
            let (s, tt, after) = tokio::join!(
                read::tally(self.src(), t, self.hash, &range),
                read::tally(self.tgt(), t, self.hash, &range),
                after
            );
            let (s, tt) = self.pair(&hashing, (s, tt))?;
            let after = after.map_err(|e| self.source.failure(&hashing, &e, self.stop))?;
            result.chunks += 1;
            self.rows_done(s.rows);
            tracing::trace!(table = %t.display(), from = ?range.from, to = ?range.to, rows = s.rows, "compare: chunk");
            if s != tt {
                open.push(Chunk {
                    at: range,
                    looks: vec![(s, tt)],
                });
            }
            if next.is_none() {
                break;
            }
            from = next;
            next = after;
        }
        result.chunks_differing = open.len() as u64;
        self.recheck(&mut open, "re-checking differing chunks", async |r| {
            self.tally_range(t, r).await
        })
        .await?;
        let (open, settled) = verdicts::split_settled(open);
        result.chunks_settled = settled;
        let mut keys = Vec::new();
        for c in open.iter().take(FETCHED_CHUNKS) {
            for r in self.narrow(t, c.at.clone()).await? {
                keys.extend(self.keys_in(t, &t.rows_sql(self.hash, &r)).await?);
            }
        }
        Ok((
            result,
            verdicts::keyed(&t.display(), &open, FETCHED_CHUNKS, keys),
        ))
    }

    /// A differing range split until each part holds few enough rows to fetch; parts that
    /// turn out equal are dropped.
    async fn narrow(&self, t: &Table, range: Range) -> Result<Vec<Range>, Failure> {
        const MAX_SPLITS: usize = 64;
        let limit = self.cs.chunk_rows.saturating_mul(FETCH_CHUNKS_AT_MOST);
        let mut queue = vec![range];
        let mut parts = Vec::new();
        let mut splits = 0;
        while let Some(r) = queue.pop() {
            let (s, tt) = self.tally_range(t, &r).await?;
            if s == tt && splits > 0 {
                continue;
            }
            let (side, rows) = if s.rows >= tt.rows {
                (&self.source, s.rows)
            } else {
                (&self.target, tt.rows)
            };
            if (rows.max(0) as u64) <= limit || splits >= MAX_SPLITS {
                parts.push(r);
                continue;
            }
            let mid = read::next_bound(side.client(), t, &r, (rows / 2) as u64)
                .await
                .map_err(|e| side.failure("splitting a differing chunk", &e, self.stop))?;
            match mid {
                Some(m) if r.from.as_ref() != Some(&m) => {
                    splits += 1;
                    queue.push(Range {
                        from: Some(m.clone()),
                        to: r.to.clone(),
                    });
                    queue.push(Range {
                        from: r.from.clone(),
                        to: Some(m),
                    });
                }
                _ => parts.push(r),
            }
        }
        Ok(parts)
    }

    async fn keys_in(&self, t: &Table, sql: &str) -> Result<Vec<KeyDifference>, Failure> {
        let (s, tt) = self.pair(
            &format!("reading the differing rows of {}", t.display()),
            tokio::join!(
                read::keyed_hashes(self.src(), sql),
                read::keyed_hashes(self.tgt(), sql)
            ),
        )?;
        Ok(diff_rows(&s, &tt))
    }

    async fn buckets(
        &self,
        t: &Table,
        bits: u32,
        only: Option<&[u64]>,
    ) -> Result<(BTreeMap<u64, Tally>, BTreeMap<u64, Tally>), Failure> {
        let sql = t.buckets_sql(self.hash, bits, only);
        self.pair(
            &format!("hashing rows of {}", t.display()),
            tokio::join!(
                read::buckets(self.src(), &sql),
                read::buckets(self.tgt(), &sql)
            ),
        )
    }

    async fn hashed(
        &mut self,
        t: &Table,
        rows: i64,
    ) -> Result<(TableResult, Option<Difference>), Failure> {
        let mut result = Self::result(t);
        let bits = bucket_bits(rows, self.cs.chunk_rows);
        let (s, tt) = self.buckets(t, bits, None).await?;
        result.chunks = 1 << bits;
        self.rows_done(s.values().map(|v| v.rows).sum::<i64>());
        let look = |s: &BTreeMap<u64, Tally>, tt: &BTreeMap<u64, Tally>, b: u64| {
            (
                s.get(&b).cloned().unwrap_or_default(),
                tt.get(&b).cloned().unwrap_or_default(),
            )
        };
        let mut open: Vec<Chunk<u64>> = s
            .keys()
            .chain(tt.keys())
            .copied()
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .map(|b| Chunk {
                at: b,
                looks: vec![look(&s, &tt, b)],
            })
            .filter(|c| c.settled() != Settled::Equal)
            .collect();
        result.chunks_differing = open.len() as u64;
        for _ in 0..self.cs.rechecks {
            let unsettled: Vec<u64> = open
                .iter()
                .filter(|c| c.settled() != Settled::Equal)
                .map(|c| c.at)
                .collect();
            if unsettled.is_empty() {
                break;
            }
            self.stop
                .sleep(RECHECK_PAUSE, "re-checking differing buckets")
                .await?;
            let (s, tt) = self.buckets(t, bits, Some(&unsettled)).await?;
            for c in open.iter_mut().filter(|c| unsettled.contains(&c.at)) {
                c.looks.push(look(&s, &tt, c.at));
            }
        }
        let (open, settled) = verdicts::split_settled(open);
        result.chunks_settled = settled;
        let fetch: Vec<u64> = open.iter().take(FETCHED_CHUNKS).map(|c| c.at).collect();
        let keys = if fetch.is_empty() {
            Vec::new()
        } else {
            self.keys_in(t, &t.bucket_rows_sql(self.hash, bits, &fetch))
                .await?
        };
        Ok((
            result,
            verdicts::keyed(&t.display(), &open, FETCHED_CHUNKS, keys),
        ))
    }

    async fn whole(&mut self, t: &Table) -> Result<(TableResult, Option<Difference>), Failure> {
        let mut result = Self::result(t);
        result.chunks = 1;
        self.notes.push(format!(
            "{} has no primary key: compared by its row count and one hash of all its rows, so a difference is found but its rows cannot be named",
            t.display()
        ));
        let mut c = Chunk {
            at: (),
            looks: vec![self.tally_range(t, &Range::default()).await?],
        };
        self.rows_done(c.looks[0].0.rows);
        if c.settled() != Settled::Equal {
            result.chunks_differing = 1;
            let mut open = [c];
            self.recheck(&mut open, "re-checking a table", async |()| {
                self.tally_range(t, &Range::default()).await
            })
            .await?;
            [c] = open;
            result.chunks_settled = u64::from(c.settled() == Settled::Equal);
        }
        let difference = verdicts::certainty(c.settled()).map(|certainty| Difference {
            certainty,
            ..Difference::stable(
                Level::Content,
                format!("table {}", t.display()),
                "the rows differ (no primary key: compared as a whole, so the rows cannot be named)",
            )
        });
        Ok((result, difference))
    }
}
