//! What people and tools read: log setup, the termination message, and `info` as a table or JSON.

use std::io::{IsTerminal, Write};
use std::path::Path;

use serde_json::json;

use crate::config::LogFormat;
use crate::core::contract::Deferral;
use crate::core::plan::{Entry, Plan};

/// The scripts `migrate` would defer now, and why.
pub type Deferred = (Vec<String>, Deferral);

/// Installs the log subscriber on stderr. JSON unless stderr is a terminal or text was asked for.
pub fn init_logging(format: Option<LogFormat>, filter: &str) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| format!("SCHEMAGATE_LOG=\"{filter}\" is not a valid filter ({e}); use e.g. info or schemagate=debug"))?;
    let terminal = std::io::stderr().is_terminal();
    let json = match format {
        Some(LogFormat::Json) => true,
        Some(LogFormat::Text) => false,
        None => !terminal,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    } else {
        builder.with_ansi(terminal).try_init()
    };
    result.map_err(|e| e.to_string())
}

/// Kubernetes shows this file in `kubectl describe pod`. The default path is written only if
/// it already exists (Kubernetes creates it), so a laptop run never litters `/dev`.
pub fn write_termination_log(path: &Path, explicit: bool, text: &str) {
    if !explicit && !path.exists() {
        return;
    }
    let mut text = text.to_string();
    // Kubernetes keeps at most 4096 bytes of it.
    if text.len() > 4000 {
        let mut cut = 4000;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" …");
    }
    match std::fs::File::create(path).and_then(|mut f| f.write_all(text.as_bytes())) {
        Ok(()) => {}
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "termination log not written")
        }
    }
}

fn cell(s: Option<&str>) -> String {
    s.unwrap_or("").to_string()
}

/// `info` for people: one line per migration, then what is deferred and why.
pub fn info_table(plan: &Plan, schema_version: &str, deferred: Option<&Deferred>) -> String {
    let headers = [
        "Category",
        "Version",
        "Description",
        "Type",
        "Phase",
        "Installed On",
        "State",
        "Undoable",
    ];
    let rows: Vec<[String; 8]> = plan
        .entries
        .iter()
        .map(|e| {
            [
                e.category.to_string(),
                cell(e.version.as_deref()),
                e.description.clone(),
                e.kind.clone(),
                cell(e.phase.map(|p| p.as_str())),
                cell(e.installed_on.as_deref()),
                e.state.label().to_string(),
                yes_no(e.undoable).to_string(),
            ]
        })
        .collect();
    let mut widths = headers.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(widths) {
            s.push_str(&format!(" {c:<w$} |"));
        }
        s.push('\n');
        s
    };
    let sep = {
        let mut s = String::from("+");
        for w in widths {
            s.push_str(&"-".repeat(w + 2));
            s.push('+');
        }
        s.push('\n');
        s
    };
    let mut out = format!("Schema version: {schema_version}\n");
    out.push_str(&sep);
    out.push_str(&line(&headers.map(String::from)));
    out.push_str(&sep);
    if rows.is_empty() {
        out.push_str("| No migrations found\n");
    }
    for r in &rows {
        out.push_str(&line(r));
    }
    out.push_str(&sep);
    if let Some((labels, why)) = deferred {
        out.push_str(&format!(
            "Deferred: {}: {}\n",
            labels.join(", "),
            why.reason()
        ));
    }
    out
}

/// Flyway's spelling of the `undoable` column.
fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "",
    }
}

fn entry_json(e: &Entry) -> serde_json::Value {
    json!({
        "category": e.category,
        "version": e.version,
        "description": e.description,
        "type": e.kind,
        "script": e.script,
        "checksum": e.checksum,
        "installedRank": e.installed_rank,
        "installedOn": e.installed_on,
        "installedBy": e.installed_by,
        "executionTime": e.execution_time,
        "state": e.state.label(),
        "phase": e.phase.map(|p| p.as_str()),
        "undoable": yes_no(e.undoable),
        // Flyway's names for what a script reading `flyway info -outputType=json` expects.
        "rawVersion": e.version.as_deref().unwrap_or(""),
        "installedOnUTC": e.installed_on.as_deref().unwrap_or(""),
        "filepath": if e.local.is_some() { e.script.as_str() } else { "" },
        "undoFilepath": "",
        "shouldExecuteExpression": serde_json::Value::Null,
    })
}

/// `info --format json`, shaped like Flyway's JSON output.
pub fn info_json(plan: &Plan, schema: &str, database: &str, deferred: Option<&Deferred>) -> String {
    let v = json!({
        "deferred": deferred.map(|(labels, why)| json!({"migrations": labels, "reason": why.reason()})),
        "schemaVersion": plan.current,
        "schemaName": schema,
        "database": database,
        "pending": plan.pending.len(),
        "problems": plan.problems.iter().map(|p| p.message.clone()).collect::<Vec<_>>(),
        "migrations": plan.entries.iter().map(entry_json).collect::<Vec<_>>(),
        "flywayVersion": concat!("schemagate ", env!("CARGO_PKG_VERSION")),
        "operation": "info",
        "allSchemasEmpty": plan.entries.iter().all(|e| e.installed_rank.is_none()),
        "exception": serde_json::Value::Null,
        "licenseFailed": false,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}
