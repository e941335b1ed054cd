//! `compare`'s pure part (issue 17): what two databases' catalogs, histories, counts and chunk hashes say, turned into named differences, a verdict and a report; and the SQL it sends, built from values.
//!
//! The main connection is the *source* (blue, the database the app used until now), the
//! `SCHEMAGATE_COMPARE_URL` one the *target* (green, the copy). Chunk bounds are read from
//! the source; "missing" means on the source only, "extra" on the target only.

pub mod catalog;
pub mod content;
pub mod filter;
pub mod report;
pub mod verdicts;

use serde::Serialize;

use crate::core::outcome::{Failure, FailureKind};
use crate::core::plan::Applied;

/// The levels, in the order they are compared: a level that differs stops the run unless
/// `--all`, since the levels after it would mostly repeat it (a missing table's rows are
/// all missing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Schema,
    History,
    Counts,
    Content,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Schema, Level::History, Level::Counts, Level::Content];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Schema => "schema",
            Level::History => "history",
            Level::Counts => "counts",
            Level::Content => "content",
        }
    }
}

/// How a difference held up when it was looked at again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Certainty {
    /// The same at every look: a real difference; a retry will not help.
    Stable,
    /// Still different at the last look, but one side kept changing between looks: a live
    /// source, or a replica still catching up. Compare again once writes stop.
    Changing,
}

/// A row's part in a content difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// On the source only.
    Missing,
    /// On the target only.
    Extra,
    /// On both, with different contents.
    Changed,
}

impl Change {
    pub fn describe(self) -> &'static str {
        match self {
            Change::Missing => "missing on the target",
            Change::Extra => "only on the target",
            Change::Changed => "changed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyDifference {
    /// The primary key as PostgreSQL prints it (`42`, `(7,a)` for a composite key).
    pub key: String,
    pub change: Change,
}

/// At most this many keys are named per table: enough to find the cause, few enough to read.
pub const MAX_KEYS: usize = 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub level: Level,
    /// `table public.orders`, `column public.orders.total`, `sequence public.orders_id_seq`.
    pub object: String,
    /// What differs, in a phrase.
    pub detail: String,
    /// The differing rows' keys, at most [`MAX_KEYS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyDifference>,
    /// How many differing keys were found in all; more than `keys` holds when cut.
    #[serde(skip_serializing_if = "is_zero")]
    pub keys_found: u64,
    pub certainty: Certainty,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Difference {
    pub fn stable(level: Level, object: impl Into<String>, detail: impl Into<String>) -> Self {
        Difference {
            level,
            object: object.into(),
            detail: detail.into(),
            keys: Vec::new(),
            keys_found: 0,
            certainty: Certainty::Stable,
        }
    }

    /// One line for people: `content of table public.t: 2 rows differ (id 5 changed, …)`.
    pub fn line(&self) -> String {
        let mut line = format!("{} {}: {}", self.level.as_str(), self.object, self.detail);
        if !self.keys.is_empty() {
            let keys: Vec<String> = self
                .keys
                .iter()
                .map(|k| format!("{} {}", k.key, k.change.describe()))
                .collect();
            let more = self.keys_found.saturating_sub(self.keys.len() as u64);
            line.push_str(&format!(" ({}", keys.join(", ")));
            if more > 0 {
                line.push_str(&format!(", and {more} more"));
            }
            line.push(')');
        }
        if self.certainty == Certainty::Changing {
            line.push_str(" [kept changing across the re-checks]");
        }
        line
    }
}

/// What a compare found, as the exit code says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Identical,
    /// At least one difference held still: exit 65.
    Differs,
    /// Every difference kept changing between looks: exit 75, a retry once writes stop
    /// can help.
    StillChanging,
}

pub fn verdict(differences: &[Difference]) -> Verdict {
    if differences.is_empty() {
        Verdict::Identical
    } else if differences.iter().any(|d| d.certainty == Certainty::Stable) {
        Verdict::Differs
    } else {
        Verdict::StillChanging
    }
}

/// The run's outcome: `Ok` when identical, else the failure whose message names the first
/// differences (the termination message shows it in `kubectl describe`).
pub fn outcome(differences: &[Difference]) -> Result<(), Failure> {
    const SHOWN: usize = 3;
    let kind = match verdict(differences) {
        Verdict::Identical => return Ok(()),
        Verdict::Differs => FailureKind::InvalidMigrations,
        Verdict::StillChanging => FailureKind::Busy,
    };
    let n = differences.len();
    let mut message = format!(
        "{n} difference{}: {}",
        if n == 1 { "" } else { "s" },
        differences
            .iter()
            .take(SHOWN)
            .map(Difference::line)
            .collect::<Vec<_>>()
            .join("; ")
    );
    if n > SHOWN {
        message.push_str(&format!("; and {} more", n - SHOWN));
    }
    if kind == FailureKind::Busy {
        message.push_str(
            "; every one kept changing between looks (a live source, or a replica catching up): compare again once writes to the source have stopped",
        );
    }
    Err(Failure::new(kind, message))
}

/// The history level: rank by rank, what a migration run decides by (version,
/// description, type, script, checksum, success); when and by whom a row was written differ
/// between a copy and a database migrated on its own, and say nothing about the schema.
pub fn history(
    source: Option<&[Applied]>,
    target: Option<&[Applied]>,
    table: &str,
) -> Vec<Difference> {
    let object = format!("table {table}");
    let (source, target) = match (source, target) {
        (None, None) => return Vec::new(),
        (Some(_), None) => {
            return vec![Difference::stable(
                Level::History,
                object,
                "missing on the target",
            )];
        }
        (None, Some(_)) => {
            return vec![Difference::stable(
                Level::History,
                object,
                "only on the target",
            )];
        }
        (Some(s), Some(t)) => (s, t),
    };
    let shown = |a: &Applied| {
        format!(
            "{} {:?} {} {} checksum {} {}",
            a.version.as_deref().unwrap_or("(repeatable)"),
            a.description,
            a.kind,
            a.script,
            a.checksum.map_or_else(|| "none".into(), |c| c.to_string()),
            if a.success { "success" } else { "failed" }
        )
    };
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < source.len() || j < target.len() {
        let (rank, detail) = match (source.get(i), target.get(j)) {
            (Some(a), Some(b)) if a.installed_rank == b.installed_rank => {
                (i, j) = (i + 1, j + 1);
                if shown(a) == shown(b) {
                    continue;
                }
                (
                    a.installed_rank,
                    format!("source {} but target {}", shown(a), shown(b)),
                )
            }
            (Some(a), b) if b.is_none_or(|b| a.installed_rank < b.installed_rank) => {
                i += 1;
                (
                    a.installed_rank,
                    format!("{} missing on the target", shown(a)),
                )
            }
            (_, Some(b)) => {
                j += 1;
                (b.installed_rank, format!("{} only on the target", shown(b)))
            }
            (Some(_), None) | (None, None) => unreachable!("covered by the arms above"),
        };
        out.push(Difference::stable(
            Level::History,
            format!("{table} rank {rank}"),
            detail,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(rank: i32, version: &str, checksum: i32) -> Applied {
        Applied {
            installed_rank: rank,
            version: Some(version.into()),
            description: "d".into(),
            kind: "SQL".into(),
            script: format!("V{version}__d.sql"),
            checksum: Some(checksum),
            installed_by: "blue".into(),
            installed_on: "2026-01-01".into(),
            execution_time: rank,
            success: true,
        }
    }

    #[test]
    fn a_stable_difference_is_65_and_only_changing_ones_are_75() {
        let mut d = Difference::stable(Level::Counts, "table public.t", "10 rows vs 9");
        assert_eq!(outcome(&[]), Ok(()));
        assert_eq!(outcome(&[d.clone()]).unwrap_err().kind.exit_code(), 65);
        let stable = d.clone();
        d.certainty = Certainty::Changing;
        let f = outcome(&[d.clone()]).unwrap_err();
        assert_eq!(f.kind.exit_code(), 75);
        assert!(f.message.contains("compare again once writes"), "{f}");
        assert_eq!(
            outcome(&[d, stable]).unwrap_err().kind.exit_code(),
            65,
            "a real difference beside a changing one is still real"
        );
    }

    #[test]
    fn the_message_names_the_first_differences_and_counts_the_rest() {
        let ds: Vec<Difference> = (0..5)
            .map(|i| {
                Difference::stable(
                    Level::Schema,
                    format!("index public.i{i}"),
                    "missing on the target",
                )
            })
            .collect();
        let m = outcome(&ds).unwrap_err().message;
        assert!(
            m.starts_with("5 differences: schema index public.i0: missing on the target;"),
            "{m}"
        );
        assert!(m.ends_with("; and 2 more"), "{m}");
    }

    #[test]
    fn a_line_names_keys_and_how_many_more_there_were() {
        let mut d = Difference::stable(Level::Content, "table public.t", "3 rows differ");
        d.keys = vec![
            KeyDifference {
                key: "5".into(),
                change: Change::Changed,
            },
            KeyDifference {
                key: "9".into(),
                change: Change::Missing,
            },
        ];
        d.keys_found = 3;
        assert_eq!(
            d.line(),
            "content table public.t: 3 rows differ (5 changed, 9 missing on the target, and 1 more)"
        );
    }

    #[test]
    fn history_ignores_when_and_by_whom_but_not_checksums_or_gaps() {
        let s = vec![
            applied(1, "1", 10),
            applied(2, "2", 20),
            applied(3, "3", 30),
        ];
        let mut t = s.clone();
        for r in &mut t {
            r.installed_by = "green".into();
            r.installed_on = "2026-02-02".into();
            r.execution_time += 100;
        }
        assert!(history(Some(&s), Some(&t), "public.h").is_empty());

        t[1].checksum = Some(21);
        t.remove(2);
        t.push(applied(4, "4", 40));
        let d = history(Some(&s), Some(&t), "public.h");
        let lines: Vec<String> = d.iter().map(Difference::line).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].contains("rank 2")
                && lines[0].contains("checksum 20")
                && lines[0].contains("checksum 21"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains("rank 3") && lines[1].ends_with("missing on the target"),
            "{lines:?}"
        );
        assert!(
            lines[2].contains("rank 4") && lines[2].ends_with("only on the target"),
            "{lines:?}"
        );

        assert!(history(None, None, "public.h").is_empty());
        assert_eq!(
            history(Some(&s), None, "public.h")[0].detail,
            "missing on the target"
        );
    }
}
