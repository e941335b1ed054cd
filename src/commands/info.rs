//! `info` and `plan`: every migration's state as a table or JSON, and the SQL `migrate` would run, read from the same plan.

use crate::app::{Run, Workspace, invalid, problems_failure};
use crate::cli::Format;
use crate::core::outcome::Failure;
use crate::core::plan::Plan;
use crate::output;
use crate::pg::exec::{self, label};

impl Run<'_> {
    pub(crate) fn info(&self, w: &Workspace<'_>, plan: &Plan) -> Result<(), Failure> {
        let text = match self.format {
            Format::Json => output::info_json(plan, &self.settings.schema, &w.c.values.database),
            Format::Table => output::info_table(
                plan,
                plan.current.as_deref().unwrap_or("<< Empty Schema >>"),
            ),
        };
        print!("{text}");
        Ok(())
    }

    pub(crate) fn print_plan(&self, w: &Workspace<'_>, plan: &Plan) -> Result<(), Failure> {
        if let Some(f) = problems_failure(plan) {
            return Err(f);
        }
        let mut out = String::new();
        for &i in &plan.pending {
            let script = &w.scripts.migrations[i];
            let ready =
                exec::prepare(script, w.resolved[i].clone()).map_err(|e| invalid(vec![e]))?;
            let mode = match ready.no_transaction {
                None => "in one transaction with its history row".to_string(),
                Some(why) => format!("outside a transaction ({why}), statement by statement"),
            };
            out.push_str(&format!(
                "-- {} from {} ({} statements, {mode})\n",
                label(script),
                script.display,
                ready.statements.len()
            ));
            for st in &ready.statements {
                out.push_str(st.text(&ready.sql));
                out.push_str(";\n");
            }
            out.push('\n');
        }
        if plan.pending.is_empty() {
            out.push_str("-- nothing to apply: the schema is up to date\n");
        }
        print!("{out}");
        Ok(())
    }
}
