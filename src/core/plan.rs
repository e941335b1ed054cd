//! The planner: local migrations + history rows + policy → every migration's state, what to apply, and what is wrong.
//!
//! `migrate`, `info`, `validate`, `wait` and `plan` all read the same `Plan`, so that what
//! `info` shows is exactly what `migrate` would do.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::directives::Phase;
use super::script::{Kind, ScriptName, Version};

/// One row of the history table, as read.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub installed_rank: i32,
    pub version: Option<String>,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub script: String,
    pub checksum: Option<i32>,
    pub installed_by: String,
    pub installed_on: String,
    pub execution_time: i32,
    pub success: bool,
}

/// What the planner needs of a local migration (versioned or repeatable).
#[derive(Clone, Debug)]
pub struct Local {
    pub name: ScriptName,
    pub path: String,
    /// The checksum a new row records.
    pub checksum: i32,
    /// Also accepted when comparing with a row (a repeatable's raw-file checksum).
    pub raw_checksum: i32,
    pub phase: Phase,
}

#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub target: Option<Version>,
    pub out_of_order: bool,
    pub ignore_missing: bool,
}

/// Flyway's `info` states (reference §7), by their display names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    AboveTarget,
    BelowBaseline,
    Baseline,
    Ignored,
    Missing,
    Success,
    Failed,
    OutOfOrder,
    Future,
    Outdated,
    Superseded,
    Deleted,
    /// A backfill that started and has batches left (its row says success=false): the next
    /// `migrate` resumes it. Not a failure.
    InProgress,
    /// Pending, but held back: a contract script whose guard does not hold, or a script
    /// after one (SPEC §11).
    Deferred,
    /// Applied, then undone by a later `UNDO_SQL` row (SPEC §12): not applied any more.
    Undone,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Pending => "Pending",
            State::AboveTarget => "Above Target",
            State::BelowBaseline => "Below Baseline",
            State::Baseline => "Baseline",
            State::Ignored => "Ignored",
            State::Missing => "Missing",
            State::Success => "Success",
            State::Failed => "Failed",
            State::OutOfOrder => "Out of Order",
            State::Future => "Future",
            State::Outdated => "Outdated",
            State::Superseded => "Superseded",
            State::Deleted => "Deleted",
            State::InProgress => "In Progress",
            State::Deferred => "Deferred",
            State::Undone => "Undone",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One line of `info`.
#[derive(Clone, Debug)]
pub struct Entry {
    pub category: &'static str,
    pub version: Option<String>,
    pub description: String,
    pub kind: String,
    pub script: String,
    pub checksum: Option<i32>,
    pub installed_rank: Option<i32>,
    pub installed_on: Option<String>,
    pub installed_by: Option<String>,
    pub execution_time: Option<i32>,
    pub state: State,
    /// Index into the local migrations, when there is a file.
    pub local: Option<usize>,
    /// A versioned migration's phase: from its file, or for a row without one, as the phase
    /// table recorded it ([`Plan::recorded_phases`]).
    pub phase: Option<Phase>,
    /// For an applied versioned row that `undo` could undo now: whether an undo is stored or
    /// in this image ([`Plan::mark_undoable`]); `None` where the question does not apply.
    pub undoable: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    ChecksumMismatch,
    DescriptionMismatch,
    TypeMismatch,
    Missing,
    Failed,
    OutOfOrder,
    BadHistoryRow,
}

/// Something that stops `migrate`: the message says what and what to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub entries: Vec<Entry>,
    /// Local indices to apply, in order: versioned by version, then repeatables by description.
    pub pending: Vec<usize>,
    pub problems: Vec<Problem>,
    /// Tolerated oddities, logged: future versions, ignored missing ones.
    pub warnings: Vec<String>,
    /// Highest successfully applied version: the schema version.
    pub current: Option<String>,
}

impl Plan {
    /// Where in `pending` the first contract script is: it, and everything after it, waits
    /// for the contract guard (SPEC §11).
    pub fn first_pending_contract(&self, local: &[Local]) -> Option<usize> {
        self.pending
            .iter()
            .position(|&i| local[i].phase == Phase::Contract)
    }

    /// Marks `pending[from..]` as deferred, in the entries `info` shows.
    pub fn defer_from(&mut self, from: usize) {
        let deferred = &self.pending[from.min(self.pending.len())..];
        for e in &mut self.entries {
            if e.installed_rank.is_none() && e.local.is_some_and(|li| deferred.contains(&li)) {
                e.state = State::Deferred;
            }
        }
    }

    /// Gives the rows that have no local file the phase the phase table recorded for them
    /// (`(version, phase)` pairs), so that an older image still knows a contract it lacks.
    pub fn record_phases(&mut self, recorded: &[(String, Phase)]) {
        let recorded: Vec<(Version, Phase)> = recorded
            .iter()
            .filter_map(|(v, p)| Some((Version::parse(v).ok()?, *p)))
            .collect();
        for e in self.entries.iter_mut().filter(|e| e.local.is_none()) {
            let Some(v) = e.version.as_deref().and_then(|v| Version::parse(v).ok()) else {
                continue;
            };
            if let Some((_, p)) = recorded.iter().find(|(r, _)| *r == v) {
                e.phase = Some(*p);
            }
        }
    }

    /// Says of every applied versioned row whether an undo exists for it: `with_undo` are
    /// the versions that have one, stored or as a file (Flyway's `Undoable` column).
    pub fn mark_undoable(&mut self, with_undo: &[&Version]) {
        for e in &mut self.entries {
            let applied = e.category == "Versioned"
                && e.installed_rank.is_some()
                && matches!(
                    e.state,
                    State::Success
                        | State::Future
                        | State::OutOfOrder
                        | State::Missing
                        | State::InProgress
                );
            if !applied {
                continue;
            }
            let v = e.version.as_deref().and_then(|v| Version::parse(v).ok());
            e.undoable = Some(v.is_some_and(|v| with_undo.contains(&&v)));
        }
    }

    /// Applied contract scripts newer than every local script, as `V<version>` labels: the
    /// schema was contracted past this image, which may read what they dropped.
    pub fn contracted_past(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.state == State::Future && e.phase == Some(Phase::Contract))
            .map(|e| version_label(e.version.as_deref().unwrap_or_default(), &e.description))
            .collect()
    }

    /// Versioned migrations still to apply that an app of this image needs: those before the
    /// first pending contract script (what `wait` waits for). A pending contract never
    /// holds an app's pods back: it waits for the old ones to go (SPEC §11).
    pub fn needed_by_app<'a>(&'a self, local: &'a [Local]) -> impl Iterator<Item = &'a Local> + 'a {
        let end = self
            .first_pending_contract(local)
            .unwrap_or(self.pending.len());
        self.pending[..end]
            .iter()
            .map(|&i| &local[i])
            .filter(|l| matches!(l.name.kind, Kind::Versioned(_)))
    }
}

/// Flyway cuts a description to 200 characters before storing or comparing it.
pub fn abbreviate_description(d: &str) -> String {
    if d.chars().count() <= 200 {
        d.to_string()
    } else {
        d.chars().take(197).collect::<String>() + "..."
    }
}

/// Flyway keeps the end of an over-long script path, marking the cut with `...`.
pub fn abbreviate_script(s: &str) -> String {
    let n = s.chars().count();
    if n <= 1000 {
        s.to_string()
    } else {
        "...".to_string() + &s.chars().skip(3).take(997).collect::<String>()
    }
}

fn is_synthetic(kind: &str) -> bool {
    matches!(kind, "SCHEMA" | "DELETE")
}

fn is_baseline(kind: &str) -> bool {
    matches!(kind, "BASELINE" | "SQL_BASELINE" | "JDBC_BASELINE")
}

/// Flyway's undo row types (reference flyway-config §7); schemagate writes `UNDO_SQL`.
pub fn is_undo(kind: &str) -> bool {
    matches!(
        kind,
        "UNDO_SQL" | "UNDO_JDBC" | "UNDO_SPRING_JDBC" | "UNDO_CUSTOM"
    )
}

fn entry_from_row(
    row: &Applied,
    state: State,
    local: Option<usize>,
    category: &'static str,
) -> Entry {
    Entry {
        category,
        version: row.version.clone(),
        description: row.description.clone(),
        kind: row.kind.clone(),
        script: row.script.clone(),
        checksum: row.checksum,
        installed_rank: Some(row.installed_rank),
        installed_on: Some(row.installed_on.clone()),
        installed_by: Some(row.installed_by.clone()),
        execution_time: Some(row.execution_time),
        state,
        local,
        phase: None,
        undoable: None,
    }
}

fn entry_from_local(l: &Local, state: State, index: usize) -> Entry {
    let versioned = matches!(l.name.kind, Kind::Versioned(_));
    Entry {
        category: if versioned { "Versioned" } else { "Repeatable" },
        version: l.name.version().map(|v| v.to_string()),
        description: l.name.description.clone(),
        kind: "SQL".into(),
        script: l.path.clone(),
        checksum: Some(l.checksum),
        installed_rank: None,
        installed_on: None,
        installed_by: None,
        execution_time: None,
        state,
        local: Some(index),
        phase: versioned.then_some(l.phase),
        undoable: None,
    }
}

fn version_label(v: &str, description: &str) -> String {
    if description.is_empty() {
        format!("V{v}")
    } else {
        format!("V{v} ({description})")
    }
}

/// Decides everything. Pure: the same inputs always give the same plan.
pub fn plan(local: &[Local], applied: &[Applied], policy: &Policy) -> Plan {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();

    // A successful DELETE row (from `repair`) hides the latest earlier row of the same migration.
    let mut hidden = vec![false; applied.len()];
    for (i, row) in applied.iter().enumerate() {
        if row.kind == "DELETE" && row.success {
            let same = |r: &Applied| match (&row.version, &r.version) {
                (Some(a), Some(b)) => Version::parse(a).ok() == Version::parse(b).ok(),
                (None, None) => r.description == row.description,
                _ => false,
            };
            if let Some(j) = (0..i)
                .rev()
                .find(|&j| !hidden[j] && applied[j].kind != "DELETE" && same(&applied[j]))
            {
                hidden[j] = true;
            }
        }
    }

    // Versions are keyed by reference: a `Version` owns its text and (for long versions) a
    // key, and cloning one per file and per row was most of the planner's allocations.
    let mut local_versions: BTreeMap<&Version, usize> = BTreeMap::new();
    let mut local_repeatables: HashMap<&str, usize> = HashMap::new();
    for (i, l) in local.iter().enumerate() {
        match &l.name.kind {
            Kind::Versioned(v) => {
                local_versions.insert(v, i);
            }
            Kind::Repeatable => {
                local_repeatables.insert(l.name.description.as_str(), i);
            }
            _ => {}
        }
    }
    let max_local = local_versions.keys().next_back().copied();

    // Parse every versioned row once; the latest row per version is the one that counts.
    let mut row_versions: Vec<Option<Version>> = Vec::with_capacity(applied.len());
    for row in applied {
        let parsed = match &row.version {
            Some(text) if !is_synthetic(&row.kind) => match Version::parse(text) {
                Ok(v) => Some(v),
                Err(e) => {
                    problems.push(Problem {
                        kind: ProblemKind::BadHistoryRow,
                        message: format!(
                            "history row {} has version `{text}`: {e}",
                            row.installed_rank
                        ),
                    });
                    None
                }
            },
            _ => None,
        };
        row_versions.push(parsed);
    }
    // A successful undo row undoes the latest earlier row of its version that is not undone
    // yet: that version counts as not applied, and its file (if any) is pending again.
    let mut undone = vec![false; applied.len()];
    for (i, row) in applied.iter().enumerate() {
        let Some(v) = row_versions[i].as_ref() else {
            continue;
        };
        if hidden[i] || !is_undo(&row.kind) || !row.success {
            continue;
        }
        if let Some(j) = (0..i).rev().find(|&j| {
            !hidden[j]
                && !undone[j]
                && !is_undo(&applied[j].kind)
                && row_versions[j].as_ref() == Some(v)
        }) {
            undone[j] = true;
        }
    }
    let mut latest_by_version: BTreeMap<&Version, usize> = BTreeMap::new();
    let mut latest_by_description: HashMap<&str, usize> = HashMap::new();
    for (i, row) in applied.iter().enumerate() {
        if hidden[i] || undone[i] || is_synthetic(&row.kind) || is_undo(&row.kind) {
            continue;
        }
        match &row_versions[i] {
            Some(v) => {
                latest_by_version.insert(v, i);
            }
            None if row.version.is_none() => {
                latest_by_description.insert(row.description.as_str(), i);
            }
            None => {}
        }
    }
    let baseline: Option<&Version> = latest_by_version
        .iter()
        .filter(|(_, i)| is_baseline(&applied[**i].kind) && applied[**i].success)
        .map(|(v, _)| *v)
        .next_back();
    let max_applied: Option<&Version> = latest_by_version
        .iter()
        .filter(|(_, i)| applied[**i].success)
        .map(|(v, _)| *v)
        .next_back();

    // Backfills that started and are not done, by local index.
    let mut in_progress: Vec<usize> = Vec::new();
    // Applied rows, in rank order.
    let mut highest_so_far: Option<&Version> = None;
    for (i, row) in applied.iter().enumerate() {
        if hidden[i] {
            entries.push(entry_from_row(row, State::Deleted, None, "Versioned"));
            continue;
        }
        if is_synthetic(&row.kind) {
            entries.push(entry_from_row(
                row,
                State::Success,
                None,
                if row.kind == "SCHEMA" {
                    "Schema"
                } else {
                    "Delete"
                },
            ));
            continue;
        }
        if undone[i] {
            entries.push(entry_from_row(row, State::Undone, None, "Versioned"));
            continue;
        }
        if is_undo(&row.kind) {
            let state = if row.success {
                State::Success
            } else {
                problems.push(Problem {
                    kind: ProblemKind::Failed,
                    message: format!(
                        "the undo of {} failed part-way outside a transaction in an earlier run (history row {}, success=false): the statements before the failure are committed. Put back by hand what it undid, run `schemagate repair` to remove the failed row, then `schemagate undo` again",
                        version_label(row.version.as_deref().unwrap_or_default(), &row.description),
                        row.installed_rank,
                    ),
                });
                State::Failed
            };
            entries.push(entry_from_row(row, state, None, "Undo"));
            continue;
        }
        match &row_versions[i] {
            Some(v) => {
                let is_latest = latest_by_version.get(v) == Some(&i);
                let local_index = local_versions.get(v).copied();
                // Only a problem or a warning needs the label: not made for every row.
                let label =
                    || version_label(row.version.as_deref().unwrap_or_default(), &row.description);
                let resumable =
                    local_index.filter(|&li| local[li].phase == Phase::Backfill && !row.success);
                let state = if !is_latest {
                    State::Superseded
                } else if let Some(li) = resumable {
                    // Every finished batch is committed and a re-run converges: carry on.
                    in_progress.push(li);
                    State::InProgress
                } else if !row.success {
                    problems.push(Problem {
                        kind: ProblemKind::Failed,
                        message: format!(
                            "{label} failed part-way in an earlier run (history row {}, success=false); fix the database by hand if needed, then run `schemagate repair` to remove the failed row",
                            row.installed_rank,
                            label = label()
                        ),
                    });
                    State::Failed
                } else if is_baseline(&row.kind) {
                    State::Baseline
                } else if let Some(li) = local_index {
                    let l = &local[li];
                    let checks_apply = baseline.is_none_or(|b| v > b);
                    if checks_apply {
                        if row.kind != "SQL" {
                            problems.push(Problem {
                                kind: ProblemKind::TypeMismatch,
                                message: format!(
                                    "{label} was applied as type {} but {} is an SQL migration; run `schemagate repair` if the file replaced it on purpose",
                                    row.kind,
                                    l.path,
                                    label = label()
                                ),
                            });
                        } else if let Some(stored) = row.checksum
                            && stored != l.checksum
                            && stored != l.raw_checksum
                        {
                            problems.push(Problem {
                                kind: ProblemKind::ChecksumMismatch,
                                message: format!(
                                    "{label} was applied with checksum {stored} but {} now hashes to {}; restore the file as it was applied, or run `schemagate repair` if the change is intended",
                                    l.path,
                                    l.checksum,
                                    label = label()
                                ),
                            });
                        } else if abbreviate_description(&l.name.description) != row.description {
                            problems.push(Problem {
                                kind: ProblemKind::DescriptionMismatch,
                                message: format!(
                                    "{label} was applied with description \"{}\" but the file {} says \"{}\"; rename the file back, or run `schemagate repair`",
                                    row.description,
                                    l.path,
                                    l.name.description,
                                    label = label()
                                ),
                            });
                        }
                    }
                    if highest_so_far.is_some_and(|h| v < h) {
                        State::OutOfOrder
                    } else {
                        State::Success
                    }
                } else if max_local.is_none_or(|m| v > m) {
                    warnings.push(format!(
                        "{label} is applied but no local file has it: the database is newer than these scripts (a rollback?); `schemagate undo` undoes it with the undo stored when it was applied",
                        label = label()
                    ));
                    State::Future
                } else {
                    let message = format!(
                        "{label} is applied (history row {}) but no local file has it; restore {}, or set SCHEMAGATE_IGNORE_MISSING=true if it was removed on purpose",
                        row.installed_rank,
                        row.script,
                        label = label()
                    );
                    if policy.ignore_missing {
                        warnings.push(message);
                    } else {
                        problems.push(Problem {
                            kind: ProblemKind::Missing,
                            message,
                        });
                    }
                    State::Missing
                };
                if row.success && highest_so_far.is_none_or(|h| v > h) {
                    highest_so_far = Some(v);
                }
                entries.push(entry_from_row(
                    row,
                    state,
                    local_index.filter(|_| is_latest),
                    "Versioned",
                ));
            }
            None if row.version.is_none() => {
                let is_latest = latest_by_description.get(row.description.as_str()) == Some(&i);
                let local_index = local_repeatables.get(row.description.as_str()).copied();
                let state = if !is_latest {
                    State::Superseded
                } else if !row.success {
                    problems.push(Problem {
                        kind: ProblemKind::Failed,
                        message: format!(
                            "repeatable \"{}\" failed part-way in an earlier run (history row {}); run `schemagate repair` after checking the database",
                            row.description, row.installed_rank
                        ),
                    });
                    State::Failed
                } else if let Some(li) = local_index {
                    let l = &local[li];
                    if row
                        .checksum
                        .is_some_and(|c| c != l.checksum && c != l.raw_checksum)
                    {
                        State::Outdated
                    } else {
                        State::Success
                    }
                } else {
                    // Rolling back to an image without this repeatable must not be blocked;
                    // its object stays as it was.
                    warnings.push(format!(
                        "repeatable \"{}\" is applied but no local file has it; its objects are left as they are",
                        row.description
                    ));
                    State::Missing
                };
                entries.push(entry_from_row(
                    row,
                    state,
                    local_index.filter(|_| is_latest),
                    "Repeatable",
                ));
            }
            None => entries.push(entry_from_row(row, State::Failed, None, "Versioned")),
        }
    }

    // Local migrations that the history does not hold yet.
    let mut pending = Vec::new();
    let mut pending_repeatables = Vec::new();
    for (i, l) in local.iter().enumerate() {
        match &l.name.kind {
            Kind::Versioned(v) => {
                if latest_by_version.contains_key(v) {
                    if in_progress.contains(&i) {
                        pending.push(i);
                    }
                    continue;
                }
                let state = if baseline.is_some_and(|b| v <= b) {
                    State::BelowBaseline
                } else if policy.target.as_ref().is_some_and(|t| v > t) {
                    State::AboveTarget
                } else if max_applied.is_some_and(|m| v < m) {
                    if policy.out_of_order {
                        pending.push(i);
                        State::Pending
                    } else {
                        problems.push(Problem {
                            kind: ProblemKind::OutOfOrder,
                            message: format!(
                                "{} ({}) is not applied but V{max} already is; set SCHEMAGATE_OUT_OF_ORDER=true to apply it anyway (a hotfix merged back), or give it a version above V{max}",
                                version_label(v.as_str(), &l.name.description),
                                l.path,
                                max = max_applied.map(Version::as_str).unwrap_or_default(),
                            ),
                        });
                        State::Ignored
                    }
                } else {
                    pending.push(i);
                    State::Pending
                };
                entries.push(entry_from_local(l, state, i));
            }
            Kind::Repeatable => match latest_by_description.get(l.name.description.as_str()) {
                None => {
                    pending_repeatables.push(i);
                    entries.push(entry_from_local(l, State::Pending, i));
                }
                Some(&ri) => {
                    let row = &applied[ri];
                    if row.success
                        && row
                            .checksum
                            .is_some_and(|c| c != l.checksum && c != l.raw_checksum)
                    {
                        pending_repeatables.push(i);
                    }
                }
            },
            _ => {}
        }
    }
    pending.extend(pending_repeatables);
    for e in &mut entries {
        if let Some(l) = e.local.map(|li| &local[li])
            && matches!(l.name.kind, Kind::Versioned(_))
        {
            e.phase = Some(l.phase);
        }
    }

    Plan {
        entries,
        pending,
        problems,
        warnings,
        current: max_applied.map(|v| {
            let i = latest_by_version[v];
            applied[i].version.clone().unwrap_or_default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::script::parse_name;

    fn local(file: &str, checksum: i32) -> Local {
        Local {
            name: parse_name(file).unwrap().unwrap(),
            path: file.into(),
            checksum,
            raw_checksum: checksum,
            phase: Phase::Expand,
        }
    }

    fn phased(file: &str, phase: Phase) -> Local {
        Local {
            phase,
            ..local(file, 1)
        }
    }

    fn row(
        rank: i32,
        version: Option<&str>,
        description: &str,
        checksum: Option<i32>,
        success: bool,
    ) -> Applied {
        Applied {
            installed_rank: rank,
            version: version.map(String::from),
            description: description.into(),
            kind: "SQL".into(),
            script: format!("V{}__{description}.sql", version.unwrap_or("R")),
            checksum,
            installed_by: "app".into(),
            installed_on: "2026-01-01 00:00:00".into(),
            execution_time: 3,
            success,
        }
    }

    fn files() -> Vec<Local> {
        vec![
            local("V1__a.sql", 10),
            local("V1.1__b.sql", 11),
            local("V2__c.sql", 20),
            local("R__v.sql", 99),
        ]
    }

    fn pending_paths(p: &Plan, l: &[Local]) -> Vec<String> {
        p.pending.iter().map(|&i| l[i].path.clone()).collect()
    }

    fn kinds(p: &Plan) -> Vec<ProblemKind> {
        p.problems.iter().map(|x| x.kind).collect()
    }

    #[test]
    fn fresh_database_applies_everything_in_order() {
        let l = files();
        let p = plan(&l, &[], &Policy::default());
        assert_eq!(
            pending_paths(&p, &l),
            ["V1__a.sql", "V1.1__b.sql", "V2__c.sql", "R__v.sql"]
        );
        assert!(p.problems.is_empty());
        assert_eq!(p.current, None);
    }

    #[test]
    fn up_to_date_has_nothing_pending() {
        let l = files();
        let rows = [
            row(1, Some("1"), "a", Some(10), true),
            row(2, Some("1.1"), "b", Some(11), true),
            row(3, Some("2"), "c", Some(20), true),
            row(4, None, "v", Some(99), true),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert!(
            p.pending.is_empty() && p.problems.is_empty() && p.warnings.is_empty(),
            "{p:?}"
        );
        assert_eq!(p.current.as_deref(), Some("2"));
    }

    #[test]
    fn checksum_and_description_drift_are_problems_null_checksum_is_not() {
        let l = files();
        let rows = [
            row(1, Some("1"), "a", Some(5), true),
            row(2, Some("1.1"), "other", Some(11), true),
            row(3, Some("2"), "c", None, true),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert_eq!(
            kinds(&p),
            [
                ProblemKind::ChecksumMismatch,
                ProblemKind::DescriptionMismatch
            ]
        );
        assert!(
            p.problems[0]
                .message
                .contains("V1 (a) was applied with checksum 5 but V1__a.sql now hashes to 10")
        );
    }

    #[test]
    fn versions_compare_numerically_with_the_history() {
        let l = vec![local("V1.0__a.sql", 10)];
        let p = plan(
            &l,
            &[row(1, Some("1"), "a", Some(10), true)],
            &Policy::default(),
        );
        assert!(p.pending.is_empty() && p.problems.is_empty());
    }

    #[test]
    fn out_of_order_is_refused_unless_allowed() {
        let l = files();
        let rows = [
            row(1, Some("1"), "a", Some(10), true),
            row(2, Some("2"), "c", Some(20), true),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert_eq!(kinds(&p), [ProblemKind::OutOfOrder]);
        assert!(p.problems[0].message.contains("SCHEMAGATE_OUT_OF_ORDER"));
        let p = plan(
            &l,
            &rows,
            &Policy {
                out_of_order: true,
                ..Policy::default()
            },
        );
        assert!(p.problems.is_empty());
        assert_eq!(pending_paths(&p, &l), ["V1.1__b.sql", "R__v.sql"]);
    }

    #[test]
    fn future_versions_are_tolerated_and_missing_ones_refused_unless_ignored() {
        let l = vec![local("V1__a.sql", 10), local("V3__c.sql", 30)];
        let rows = [
            row(1, Some("1"), "a", Some(10), true),
            row(2, Some("2"), "b", Some(20), true),
            row(3, Some("3"), "c", Some(30), true),
            row(4, Some("4"), "d", Some(40), true),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert_eq!(kinds(&p), [ProblemKind::Missing]);
        assert!(p.problems[0].message.contains("V2 (b)"));
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("V4 (d)"));
        let p = plan(
            &l,
            &rows,
            &Policy {
                ignore_missing: true,
                ..Policy::default()
            },
        );
        assert!(p.problems.is_empty());
        assert_eq!(p.warnings.len(), 2);
        assert_eq!(p.current.as_deref(), Some("4"));
    }

    #[test]
    fn a_failed_row_blocks_and_a_repair_delete_row_hides_it() {
        let l = files();
        let mut rows = vec![
            row(1, Some("1"), "a", Some(10), true),
            row(2, Some("1.1"), "b", Some(11), false),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert_eq!(kinds(&p), [ProblemKind::Failed]);
        let mut del = row(3, Some("1.1"), "b", Some(11), true);
        del.kind = "DELETE".into();
        rows.push(del);
        let p = plan(&l, &rows, &Policy::default());
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(
            pending_paths(&p, &l),
            ["V1.1__b.sql", "V2__c.sql", "R__v.sql"]
        );
    }

    #[test]
    fn repeatables_reapply_when_their_checksum_changes_and_accept_the_raw_one() {
        let mut l = files();
        let rows = [
            row(1, Some("1"), "a", Some(10), true),
            row(2, Some("1.1"), "b", Some(11), true),
            row(3, Some("2"), "c", Some(20), true),
            row(4, None, "v", Some(98), true),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert_eq!(pending_paths(&p, &l), ["R__v.sql"]);
        assert_eq!(
            p.entries
                .iter()
                .find(|e| e.version.is_none())
                .unwrap()
                .state,
            State::Outdated
        );
        l[3].raw_checksum = 98;
        assert!(plan(&l, &rows, &Policy::default()).pending.is_empty());
    }

    #[test]
    fn target_and_baseline_limit_what_is_pending() {
        let l = files();
        let p = plan(
            &l,
            &[],
            &Policy {
                target: Some(Version::parse("1.1").unwrap()),
                ..Policy::default()
            },
        );
        assert_eq!(
            pending_paths(&p, &l),
            ["V1__a.sql", "V1.1__b.sql", "R__v.sql"]
        );
        let mut b = row(1, Some("1.1"), "<< Flyway Baseline >>", None, true);
        b.kind = "BASELINE".into();
        let p = plan(&l, &[b], &Policy::default());
        assert_eq!(pending_paths(&p, &l), ["V2__c.sql", "R__v.sql"]);
        assert!(p.problems.is_empty());
        assert!(p.entries.iter().any(|e| e.state == State::BelowBaseline));
    }

    #[test]
    fn schema_marker_rows_are_neither_pending_nor_problems() {
        let l = vec![local("V1__a.sql", 10)];
        let mut s = row(0, None, "<< Flyway Schema Creation >>", None, true);
        s.kind = "SCHEMA".into();
        let p = plan(
            &l,
            &[s, row(1, Some("1"), "a", Some(10), true)],
            &Policy::default(),
        );
        assert!(p.pending.is_empty() && p.problems.is_empty());
    }

    #[test]
    fn a_started_backfill_is_resumed_not_a_failure() {
        let l = vec![
            local("V1__a.sql", 1),
            phased("V2__fill.sql", Phase::Backfill),
            local("V3__c.sql", 1),
        ];
        let rows = [
            row(1, Some("1"), "a", Some(1), true),
            row(2, Some("2"), "fill", Some(1), false),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(pending_paths(&p, &l), ["V2__fill.sql", "V3__c.sql"]);
        let e = p
            .entries
            .iter()
            .find(|e| e.version.as_deref() == Some("2"))
            .unwrap();
        assert_eq!(
            (e.state, e.phase),
            (State::InProgress, Some(Phase::Backfill))
        );
        assert_eq!(p.current.as_deref(), Some("1"));
        // The same row for an expand script is a script that stopped part-way.
        let l2 = vec![local("V1__a.sql", 1), local("V2__fill.sql", 1)];
        let p2 = plan(&l2, &rows, &Policy::default());
        assert_eq!(p2.problems[0].kind, ProblemKind::Failed);
    }

    #[test]
    fn a_pending_contract_defers_itself_and_everything_after_it() {
        let l = vec![
            local("V1__a.sql", 1),
            phased("V2__b.sql", Phase::Expand),
            phased("V3__drop.sql", Phase::Contract),
            local("V4__d.sql", 1),
            local("R__v.sql", 1),
        ];
        let mut p = plan(
            &l,
            &[row(1, Some("1"), "a", Some(1), true)],
            &Policy::default(),
        );
        assert_eq!(p.first_pending_contract(&l), Some(1));
        let needed: Vec<&str> = p.needed_by_app(&l).map(|l| l.path.as_str()).collect();
        assert_eq!(needed, ["V2__b.sql"]);
        p.defer_from(1);
        let states: Vec<(Option<String>, State, Option<Phase>)> = p
            .entries
            .iter()
            .map(|e| (e.version.clone(), e.state, e.phase))
            .collect();
        assert_eq!(
            states,
            [
                (Some("1".into()), State::Success, Some(Phase::Expand)),
                (Some("2".into()), State::Pending, Some(Phase::Expand)),
                (Some("3".into()), State::Deferred, Some(Phase::Contract)),
                (Some("4".into()), State::Deferred, Some(Phase::Expand)),
                (None, State::Deferred, None),
            ]
        );
        assert_eq!(
            plan(&l[..2], &[], &Policy::default()).first_pending_contract(&l),
            None
        );
    }

    #[test]
    fn a_contract_newer_than_every_local_script_is_named() {
        let l = vec![local("V1__a.sql", 1)];
        let rows = [
            row(1, Some("1"), "a", Some(1), true),
            row(2, Some("2"), "add", Some(5), true),
            row(3, Some("3"), "drop phone", Some(6), true),
        ];
        let mut p = plan(&l, &rows, &Policy::default());
        assert!(p.contracted_past().is_empty(), "no phase known yet");
        p.record_phases(&[
            ("3".into(), Phase::Contract),
            ("2.0".into(), Phase::Backfill),
        ]);
        assert_eq!(p.contracted_past(), ["V3 (drop phone)"]);
        let phases: Vec<Option<Phase>> = p.entries.iter().map(|e| e.phase).collect();
        assert_eq!(
            phases,
            [
                Some(Phase::Expand),
                Some(Phase::Backfill),
                Some(Phase::Contract)
            ]
        );
    }

    fn undo_row(rank: i32, version: &str, description: &str, success: bool) -> Applied {
        Applied {
            kind: "UNDO_SQL".into(),
            script: format!("U{version}__{description}.sql"),
            ..row(rank, Some(version), description, Some(7), success)
        }
    }

    fn states(p: &Plan) -> Vec<(&'static str, Option<&str>, State)> {
        p.entries
            .iter()
            .map(|e| (e.category, e.version.as_deref(), e.state))
            .collect()
    }

    #[test]
    fn an_undone_version_is_not_applied_and_its_file_is_pending_again() {
        let l = vec![
            local("V1__a.sql", 10),
            local("V2__b.sql", 20),
            local("V3__c.sql", 30),
        ];
        let rows = [
            row(1, Some("1"), "a", Some(10), true),
            row(2, Some("2"), "b", Some(20), true),
            row(3, Some("3"), "c", Some(30), true),
            undo_row(4, "3", "c", true),
            undo_row(5, "2", "b", true),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert!(p.problems.is_empty() && p.warnings.is_empty(), "{p:?}");
        assert_eq!(p.current.as_deref(), Some("1"));
        assert_eq!(pending_paths(&p, &l), ["V2__b.sql", "V3__c.sql"]);
        assert_eq!(
            states(&p),
            [
                ("Versioned", Some("1"), State::Success),
                ("Versioned", Some("2"), State::Undone),
                ("Versioned", Some("3"), State::Undone),
                ("Undo", Some("3"), State::Success),
                ("Undo", Some("2"), State::Success),
                ("Versioned", Some("2"), State::Pending),
                ("Versioned", Some("3"), State::Pending),
            ]
        );
        // An older image that has only V1: the undone rows are neither missing nor future.
        let p = plan(&l[..1], &rows, &Policy::default());
        assert!(p.problems.is_empty() && p.warnings.is_empty(), "{p:?}");
        assert!(p.pending.is_empty());
        // A changed file of an undone version is no drift: it is simply pending.
        let mut changed = l.clone();
        changed[2].checksum = 31;
        assert!(
            plan(&changed, &rows, &Policy::default())
                .problems
                .is_empty()
        );
    }

    #[test]
    fn a_version_applied_again_after_its_undo_is_applied_once_more() {
        let l = vec![local("V1__a.sql", 10), local("V2__b.sql", 20)];
        let rows = [
            row(1, Some("1"), "a", Some(10), true),
            row(2, Some("2"), "b", Some(20), true),
            undo_row(3, "2", "b", true),
            row(4, Some("2"), "b", Some(20), true),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert!(p.pending.is_empty() && p.problems.is_empty(), "{p:?}");
        assert_eq!(p.current.as_deref(), Some("2"));
        assert_eq!(
            states(&p)[1..],
            [
                ("Versioned", Some("2"), State::Undone),
                ("Undo", Some("2"), State::Success),
                ("Versioned", Some("2"), State::Success),
            ]
        );
        // Undone a second time: the latest row is the one undone, not the first again.
        let mut again = rows.to_vec();
        again.push(undo_row(5, "2", "b", true));
        let p = plan(&l, &again, &Policy::default());
        assert_eq!(pending_paths(&p, &l), ["V2__b.sql"]);
        assert_eq!(p.current.as_deref(), Some("1"));
    }

    #[test]
    fn a_failed_undo_row_stops_everything_until_repair() {
        let l = vec![local("V1__a.sql", 10), local("V2__b.sql", 20)];
        let rows = [
            row(1, Some("1"), "a", Some(10), true),
            row(2, Some("2"), "b", Some(20), true),
            undo_row(3, "2", "b", false),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert_eq!(kinds(&p), [ProblemKind::Failed]);
        assert!(
            p.problems[0]
                .message
                .contains("the undo of V2 (b) failed part-way"),
            "{:?}",
            p.problems
        );
        // Nothing was undone: V2 still counts.
        assert_eq!(p.current.as_deref(), Some("2"));
        assert!(p.pending.is_empty());
    }

    #[test]
    fn an_undone_backfill_in_progress_starts_afresh() {
        let l = vec![
            local("V1__a.sql", 1),
            phased("V2__fill.sql", Phase::Backfill),
        ];
        let rows = [
            row(1, Some("1"), "a", Some(1), true),
            row(2, Some("2"), "fill", Some(1), false),
            undo_row(3, "2", "fill", true),
        ];
        let p = plan(&l, &rows, &Policy::default());
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(pending_paths(&p, &l), ["V2__fill.sql"]);
        assert!(!p.entries.iter().any(|e| e.state == State::InProgress));
    }

    #[test]
    fn abbreviations_follow_flyway() {
        assert_eq!(abbreviate_description(&"x".repeat(201)).len(), 200);
        assert!(abbreviate_description(&"x".repeat(201)).ends_with("..."));
        let s = abbreviate_script(&"y".repeat(1200));
        assert!(s.starts_with("...") && s.chars().count() == 1000);
    }
}
