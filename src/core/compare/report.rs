//! What `compare` prints on stdout: per level and per table what was compared and found, as a table for people or one JSON document for a pipeline.

use std::fmt::Write as _;

use serde::Serialize;

use super::content::Method;
use super::{Difference, Level, Verdict, verdict};

/// How a level ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LevelState {
    Identical,
    Differs,
    /// Not compared: an earlier level differed (without `--all`).
    Skipped,
}

#[derive(Clone, Debug, Serialize)]
pub struct TableResult {
    /// `public.orders`.
    pub table: String,
    pub method: Method,
    pub rows_source: i64,
    pub rows_target: i64,
    /// Chunks compared (buckets for [`Method::KeyHash`]); 0 when content was skipped.
    pub chunks: u64,
    /// Chunks that differed at the first look.
    pub chunks_differing: u64,
    /// Chunks that differed at the first look and were equal at a re-check.
    pub chunks_settled: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Both connections, redacted.
    pub source: String,
    pub target: String,
    /// The row hash both servers computed.
    pub hash: &'static str,
    pub levels: Vec<(Level, LevelState)>,
    pub tables: Vec<TableResult>,
    pub differences: Vec<Difference>,
    /// What was compared less strictly than the rest, and why.
    pub notes: Vec<String>,
}

impl Summary {
    pub fn verdict(&self) -> Verdict {
        verdict(&self.differences)
    }

    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct LevelOut {
            level: Level,
            state: LevelState,
            differences: usize,
        }
        #[derive(Serialize)]
        struct Out<'a> {
            verdict: Verdict,
            source: &'a str,
            target: &'a str,
            hash: &'a str,
            levels: Vec<LevelOut>,
            tables: &'a [TableResult],
            differences: &'a [Difference],
            notes: &'a [String],
        }
        let out = Out {
            verdict: self.verdict(),
            source: &self.source,
            target: &self.target,
            hash: self.hash,
            levels: self
                .levels
                .iter()
                .map(|&(level, state)| LevelOut {
                    level,
                    state,
                    differences: self.differences.iter().filter(|d| d.level == level).count(),
                })
                .collect(),
            tables: &self.tables,
            differences: &self.differences,
            notes: &self.notes,
        };
        let mut text = serde_json::to_string_pretty(&out).unwrap_or_default();
        text.push('\n');
        text
    }

    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "source  {}", self.source);
        let _ = writeln!(s, "target  {}", self.target);
        for &(level, state) in &self.levels {
            let n = self.differences.iter().filter(|d| d.level == level).count();
            let state = match state {
                LevelState::Identical => "identical".to_string(),
                LevelState::Skipped => {
                    "skipped (an earlier level differs; --all compares it anyway)".to_string()
                }
                LevelState::Differs => format!("{n} difference{}", if n == 1 { "" } else { "s" }),
            };
            let _ = writeln!(s, "{:<8}{state}", level.as_str());
            for d in self.differences.iter().filter(|d| d.level == level) {
                let _ = writeln!(s, "  {}: {}", d.object, d.line_detail());
            }
        }
        if !self.tables.is_empty() {
            let _ = writeln!(s);
            let width = self
                .tables
                .iter()
                .map(|t| t.table.len())
                .max()
                .unwrap_or(5)
                .max(5);
            let _ = writeln!(
                s,
                "{:<width$}  {:>12}  {:>12}  {:>7}  {:>9}  method",
                "table", "source rows", "target rows", "chunks", "differing"
            );
            for t in &self.tables {
                let _ = writeln!(
                    s,
                    "{:<width$}  {:>12}  {:>12}  {:>7}  {:>9}  {}",
                    t.table,
                    t.rows_source,
                    t.rows_target,
                    t.chunks,
                    t.chunks_differing - t.chunks_settled,
                    t.method.describe()
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let _ = writeln!(
            s,
            "{}",
            match self.verdict() {
                Verdict::Identical => "identical",
                Verdict::Differs => "DIFFERENT",
                Verdict::StillChanging =>
                    "STILL CHANGING (compare again once writes to the source stop)",
            }
        );
        s
    }
}

impl Difference {
    /// The line without its level and object, for the table under its level.
    fn line_detail(&self) -> String {
        let full = self.line();
        let prefix = format!("{} {}: ", self.level.as_str(), self.object);
        full.strip_prefix(&prefix).unwrap_or(&full).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::compare::{Certainty, Change, KeyDifference};

    fn summary() -> Summary {
        let mut d = Difference::stable(Level::Content, "table public.t", "2 rows differ");
        d.keys = vec![
            KeyDifference {
                key: "5".into(),
                change: Change::Changed,
            },
            KeyDifference {
                key: "7".into(),
                change: Change::Extra,
            },
        ];
        d.keys_found = 2;
        Summary {
            source: "postgres://app:***@blue:5432/app".into(),
            target: "postgres://app:***@green:5432/app".into(),
            hash: "hashtextextended",
            levels: vec![
                (Level::Schema, LevelState::Identical),
                (Level::History, LevelState::Identical),
                (Level::Counts, LevelState::Identical),
                (Level::Content, LevelState::Differs),
            ],
            tables: vec![TableResult {
                table: "public.t".into(),
                method: Method::KeyRange,
                rows_source: 10,
                rows_target: 10,
                chunks: 1,
                chunks_differing: 1,
                chunks_settled: 0,
            }],
            differences: vec![d],
            notes: vec![],
        }
    }

    #[test]
    fn the_table_lists_levels_their_differences_and_each_table() {
        let t = summary().table();
        assert!(t.contains("content 1 difference\n  table public.t: 2 rows differ (5 changed, 7 only on the target)\n"), "{t}");
        assert!(
            t.contains("public.t            10            10        1          1  key ranges"),
            "{t}"
        );
        assert!(t.ends_with("DIFFERENT\n"), "{t}");
    }

    #[test]
    fn json_says_the_verdict_and_every_key() {
        let mut s = summary();
        s.differences[0].certainty = Certainty::Changing;
        let v: serde_json::Value = serde_json::from_str(&s.json()).unwrap();
        assert_eq!(v["verdict"], "still-changing");
        assert_eq!(v["levels"][3]["state"], "differs");
        assert_eq!(v["levels"][3]["differences"], 1);
        assert_eq!(v["differences"][0]["keys"][1]["change"], "extra");
        assert_eq!(v["differences"][0]["certainty"], "changing");
        assert_eq!(v["tables"][0]["method"], "key-range");
    }
}
