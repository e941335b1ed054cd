//! The undo planner (SPEC §12): which applied versions lie above the target, newest first, each paired with the undo that will run — or every reason why nothing may run.
//!
//! Fails closed: dbmate and kysely have rolled back the wrong migration when one file was
//! missing (reference phases-rollback-backfill §4.5). Here one version that cannot be undone
//! refuses the whole run, before anything changes, naming every such version at once.

use super::checksum::checksum;
use super::directives::Phase;
use super::discover::Script;
use super::placeholders::{self, Values};
use super::plan::{Plan, State, abbreviate_script};
use super::script::{Version, parse_name};

/// A row of `<table>_undo`: the undo text stored when its version was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredUndo {
    pub version: String,
    /// The `U` file's path as the history's `script` column writes paths.
    pub script: String,
    /// Flyway's checksum of `sql`, taken when it was stored.
    pub checksum: i32,
    /// The text after placeholder replacement.
    pub sql: String,
}

/// A `U` file of this image, placeholders replaced.
#[derive(Clone, Debug)]
pub struct LocalUndo<'a> {
    pub version: &'a Version,
    pub description: &'a str,
    pub path: &'a str,
    pub sql: &'a str,
}

/// Where a step's SQL comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `<table>_undo`: what was stored when the version was applied.
    Stored,
    /// A `U` file of this image, for a version applied without one stored (by Flyway, or
    /// before its `U` file existed).
    File,
}

/// One version to undo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// As the history row writes it.
    pub version: String,
    /// `V3 (drop phone)`, from the applied row.
    pub label: String,
    /// The undo row's description and script, from the `U` file's name.
    pub description: String,
    pub script: String,
    pub sql: String,
    pub checksum: i32,
    pub source: Source,
    pub installed_rank: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UndoPlan {
    /// Newest applied first.
    pub steps: Vec<Step>,
    pub warnings: Vec<String>,
}

/// The undo to store when the versioned script `v` applies: its `U` file's text after
/// placeholder replacement, with that text's checksum, so that the stored row can be
/// checked on its own, by an image that never had the file.
pub fn to_store(
    undo_files: &[Script],
    v: &Version,
    values: &Values,
) -> Result<Option<StoredUndo>, String> {
    let Some(file) = undo_files.iter().find(|u| u.name.version() == Some(v)) else {
        return Ok(None);
    };
    let resolved = placeholders::resolve(file, values)?;
    Ok(Some(StoredUndo {
        version: v.as_str().to_string(),
        script: abbreviate_script(&file.path),
        checksum: checksum(&resolved.sql),
        sql: resolved.sql.into_owned(),
    }))
}

/// What `undo` goes back to: `SCHEMAGATE_TARGET` if set, else the newest versioned script
/// this image holds — the schema the image's own code was written for.
pub fn target(
    explicit: Option<&Version>,
    newest_local: Option<&Version>,
) -> Result<Version, String> {
    explicit.or(newest_local).cloned().ok_or_else(|| {
        "undo has no target: this image holds no versioned script and SCHEMAGATE_TARGET is not set; set it to the version to go back to (0 undoes every version)".to_string()
    })
}

fn label(version: &str, description: &str) -> String {
    if description.is_empty() {
        format!("V{version}")
    } else {
        format!("V{version} ({description})")
    }
}

/// The description Flyway gives an undo row: its `U` file's.
fn description_of(script: &str, fallback: &str) -> String {
    let file = script.rsplit('/').next().unwrap_or(script);
    match parse_name(file) {
        Ok(Some(name)) => name.description,
        _ => fallback.to_string(),
    }
}

/// Every applied version above `target`, each with its undo, newest applied first; `Err`
/// lists every version that cannot be undone and why. `plan` must carry the recorded phases
/// of rows whose file this image lacks ([`Plan::record_phases`]).
pub fn plan_undo(
    plan: &Plan,
    target: &Version,
    stored: &[StoredUndo],
    local: &[LocalUndo<'_>],
    allow_contract: bool,
) -> Result<UndoPlan, Vec<String>> {
    let mut refusals = Vec::new();
    let mut out = UndoPlan::default();
    let stored: Vec<(Option<Version>, &StoredUndo)> = stored
        .iter()
        .map(|s| (Version::parse(&s.version).ok(), s))
        .collect();
    for e in plan.entries.iter().filter(|e| e.category == "Versioned") {
        let (Some(text), Some(rank)) = (e.version.as_deref(), e.installed_rank) else {
            continue;
        };
        let Ok(v) = Version::parse(text) else {
            continue;
        };
        if v <= *target {
            continue;
        }
        let what = label(text, &e.description);
        match e.state {
            State::Undone | State::Superseded | State::Deleted => continue,
            State::Baseline => {
                refusals.push(format!(
                    "{what} is a baseline: it marks a schema that was there before, and has nothing to undo; set SCHEMAGATE_TARGET to {text} or above"
                ));
                continue;
            }
            State::Failed => {
                refusals.push(format!(
                    "{what} failed part-way (history row {rank}): no undo can know what it left; make the database match by hand and run `schemagate repair` first"
                ));
                continue;
            }
            _ => {}
        }
        if e.phase == Some(Phase::Contract) && !allow_contract {
            refusals.push(format!(
                "{what} is a contract script: what it dropped is gone, and its undo can bring back the shape but not the data; set SCHEMAGATE_UNDO_CONTRACT=true to undo it anyway"
            ));
            continue;
        }
        let kept = stored
            .iter()
            .find(|(sv, _)| sv.as_ref() == Some(&v))
            .map(|(_, s)| *s);
        let file = local.iter().find(|l| *l.version == v);
        let step = match (kept, file) {
            (Some(s), file) => {
                let actual = checksum(&s.sql);
                if actual != s.checksum {
                    refusals.push(format!(
                        "the undo stored for {what} ({}) does not match its checksum (stored {}, its text hashes to {actual}): it was changed in the undo table after it was stored; restore it, or delete its row and ship its U file in this image",
                        s.script, s.checksum
                    ));
                    continue;
                }
                if let Some(f) = file
                    && checksum(f.sql) != s.checksum
                {
                    out.warnings.push(format!(
                        "{} in this image differs from the undo stored when {what} was applied; running the stored one, which belongs to what was applied",
                        f.path
                    ));
                }
                Step {
                    version: text.to_string(),
                    label: what,
                    description: description_of(&s.script, &e.description),
                    script: s.script.clone(),
                    sql: s.sql.clone(),
                    checksum: s.checksum,
                    source: Source::Stored,
                    installed_rank: rank,
                }
            }
            (None, Some(f)) => Step {
                version: text.to_string(),
                label: what,
                description: f.description.to_string(),
                script: f.path.to_string(),
                sql: f.sql.to_string(),
                checksum: checksum(f.sql),
                source: Source::File,
                installed_rank: rank,
            },
            (None, None) => {
                refusals.push(format!(
                    "{what} has no undo: none was stored when it was applied, and this image has no U{text}__*.sql"
                ));
                continue;
            }
        };
        out.steps.push(step);
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    // The reverse of the order they were applied in: a hotfix applied out of order after a
    // later version is undone first.
    out.steps
        .sort_by_key(|s| std::cmp::Reverse(s.installed_rank));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::{Applied, Local, Policy, plan};

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn row(rank: i32, version: &str, description: &str) -> Applied {
        Applied {
            installed_rank: rank,
            version: Some(version.into()),
            description: description.into(),
            kind: "SQL".into(),
            script: format!("V{version}__{description}.sql"),
            checksum: Some(1),
            installed_by: "app".into(),
            installed_on: "2026-12-02 00:00:00".into(),
            execution_time: 1,
            success: true,
        }
    }

    fn stored(version: &str, sql: &str) -> StoredUndo {
        StoredUndo {
            version: version.into(),
            script: format!("U{version}__undo_it.sql"),
            checksum: checksum(sql),
            sql: sql.into(),
        }
    }

    /// The history of a newer image (V1–V3) as an image with only V1 plans it.
    fn older_image_plan(rows: &[Applied]) -> Plan {
        let l = vec![Local {
            name: parse_name("V1__a.sql").unwrap().unwrap(),
            path: "V1__a.sql".into(),
            checksum: 1,
            raw_checksum: 1,
            phase: Phase::Expand,
        }];
        plan(&l, rows, &Policy::default())
    }

    fn three() -> Vec<Applied> {
        vec![row(1, "1", "a"), row(2, "2", "b"), row(3, "3", "c")]
    }

    #[test]
    fn the_target_is_the_newest_local_version_unless_one_is_given() {
        assert_eq!(target(None, Some(&v("1"))).unwrap(), v("1"));
        assert_eq!(target(Some(&v("0")), Some(&v("1"))).unwrap(), v("0"));
        assert!(
            target(None, None)
                .unwrap_err()
                .contains("SCHEMAGATE_TARGET")
        );
    }

    #[test]
    fn stored_undos_run_newest_first_down_to_the_target() {
        let p = older_image_plan(&three());
        let s = [stored("2", "DROP TABLE b;"), stored("3", "DROP TABLE c;")];
        let u = plan_undo(&p, &v("1"), &s, &[], false).unwrap();
        let got: Vec<(&str, &str, Source)> = u
            .steps
            .iter()
            .map(|s| (s.version.as_str(), s.sql.as_str(), s.source))
            .collect();
        assert_eq!(
            got,
            [
                ("3", "DROP TABLE c;", Source::Stored),
                ("2", "DROP TABLE b;", Source::Stored)
            ]
        );
        assert_eq!(u.steps[0].description, "undo it");
        assert_eq!(u.steps[0].label, "V3 (c)");
        // At the target already: nothing to do, not an error.
        assert!(
            plan_undo(&p, &v("3"), &s, &[], false)
                .unwrap()
                .steps
                .is_empty()
        );
    }

    #[test]
    fn one_version_without_an_undo_refuses_them_all_and_names_it() {
        let p = older_image_plan(&three());
        let e = plan_undo(&p, &v("1"), &[stored("3", "DROP TABLE c;")], &[], false).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("V2 (b) has no undo") && e[0].contains("U2__*.sql"),
            "{e:?}"
        );
    }

    #[test]
    fn a_local_undo_file_serves_a_version_stored_without_one() {
        let p = older_image_plan(&three());
        let two = v("2");
        let f = [LocalUndo {
            version: &two,
            description: "drop b",
            path: "U2__drop_b.sql",
            sql: "DROP TABLE b;",
        }];
        let u = plan_undo(&p, &v("1"), &[stored("3", "DROP TABLE c;")], &f, false).unwrap();
        assert_eq!(u.steps[1].source, Source::File);
        assert_eq!(
            (u.steps[1].script.as_str(), u.steps[1].checksum),
            ("U2__drop_b.sql", checksum("DROP TABLE b;"))
        );
        // A file that differs from the stored undo is named, and the stored one runs.
        let u = plan_undo(
            &p,
            &v("1"),
            &[stored("2", "DROP TABLE b CASCADE;"), stored("3", "x")],
            &f,
            false,
        )
        .unwrap();
        assert_eq!(u.steps[1].sql, "DROP TABLE b CASCADE;");
        assert!(
            u.warnings[0].contains("U2__drop_b.sql in this image differs"),
            "{:?}",
            u.warnings
        );
    }

    #[test]
    fn a_stored_undo_changed_after_it_was_stored_is_refused() {
        let p = older_image_plan(&three());
        let mut tampered = stored("3", "DROP TABLE c;");
        tampered.sql = "DROP TABLE a;".into();
        let e = plan_undo(&p, &v("1"), &[stored("2", "x"), tampered], &[], false).unwrap_err();
        assert!(
            e[0].contains("V3 (c)") && e[0].contains("does not match its checksum"),
            "{e:?}"
        );
    }

    #[test]
    fn a_contract_is_undone_only_when_allowed() {
        let mut p = older_image_plan(&three());
        p.record_phases(&[("3".into(), Phase::Contract)]);
        let s = [stored("2", "x"), stored("3", "y")];
        let e = plan_undo(&p, &v("1"), &s, &[], false).unwrap_err();
        assert!(
            e[0].contains("V3 (c) is a contract script")
                && e[0].contains("SCHEMAGATE_UNDO_CONTRACT=true"),
            "{e:?}"
        );
        assert_eq!(
            plan_undo(&p, &v("1"), &s, &[], true).unwrap().steps.len(),
            2
        );
        // Below the target, a contract is not in the way.
        assert!(plan_undo(&p, &v("3"), &s, &[], false).is_ok());
    }

    #[test]
    fn every_refusal_is_listed_at_once() {
        let mut p = older_image_plan(&three());
        p.record_phases(&[("3".into(), Phase::Contract)]);
        let e = plan_undo(&p, &v("1"), &[], &[], false).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
    }

    #[test]
    fn undone_versions_are_not_undone_twice_and_out_of_order_goes_first() {
        let mut rows = three();
        rows.push(Applied {
            kind: "UNDO_SQL".into(),
            ..row(4, "3", "c")
        });
        rows.push(row(5, "1.5", "hotfix"));
        let p = older_image_plan(&rows);
        let s = [stored("2", "x"), stored("1.5", "h"), stored("3", "y")];
        let u = plan_undo(&p, &v("1"), &s, &[], false).unwrap();
        let got: Vec<&str> = u.steps.iter().map(|s| s.version.as_str()).collect();
        assert_eq!(got, ["1.5", "2"]);
    }

    #[test]
    fn a_baseline_above_the_target_is_refused() {
        let mut b = row(1, "5", "<< Flyway Baseline >>");
        b.kind = "BASELINE".into();
        let p = older_image_plan(&[b]);
        let e = plan_undo(&p, &v("1"), &[], &[], false).unwrap_err();
        assert!(e[0].contains("is a baseline"), "{e:?}");
    }
}
