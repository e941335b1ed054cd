//! `validate`: the history compared with the local scripts; any drift is a failure.

use crate::app::{Run, Workspace};
use crate::core::outcome::Failure;
use crate::core::plan::Plan;

impl Run<'_> {
    pub(crate) async fn validate(&self, w: &Workspace<'_>, plan: &Plan) -> Result<(), Failure> {
        self.log_plan(plan);
        match w.failure(plan).await {
            Some(f) => Err(f),
            None => {
                tracing::info!(
                    migrations = w.locals.len(),
                    pending = plan.pending.len(),
                    "validated: the history matches the local scripts"
                );
                Ok(())
            }
        }
    }
}
