//! The Pushgateway's output: the run's metrics as 0.0.4 text POSTed to its group's path, with basic auth or a bearer token.
//!
//! POST, not PUT: the Pushgateway then replaces only the metric names a push carries, so the
//! earlier run's `schemagate_last_success_timestamp_seconds` stays when this run fails (it
//! pushes that name only on success), and a mid-run push leaves the last run's exit code in
//! place.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::config::Secret;
use crate::config::pushgateway::{PushAuth, Pushgateway};
use crate::core::metrics::{self, BASE64, Build, push_path};

use super::send::{Endpoint, Names, Output};

/// The limit of one mid-run push (the gateway is on the cluster's network; a push is a few
/// kilobytes).
const MID_RUN_TIMEOUT: Duration = Duration::from_secs(2);

/// The grouping key: stable labels only, the same for every run against this history table
/// (never a pod name or run id, which would leave a group behind on the gateway per run).
pub fn group(gateway: &Pushgateway, database: &str, schema: &str, table: &str) -> String {
    push_path(
        &gateway.job,
        &[("database", database), ("schema", schema), ("table", table)],
    )
}

/// Pushes to `gateway`'s group `path` ([`group`]), every interval and at the end.
pub fn output(gateway: &Pushgateway, path: &str, build: Build<'static>) -> Output {
    let authorization = match &gateway.auth {
        PushAuth::None => None,
        PushAuth::Basic { username, password } => Some(format!(
            "Basic {}",
            metrics::base64(
                format!("{username}:{}", password.expose()).as_bytes(),
                BASE64
            )
        )),
        PushAuth::Bearer(token) => Some(format!("Bearer {}", token.expose())),
    };
    let url = format!("{}{path}", gateway.url);
    tracing::debug!(url = %url, "pushing the run's metrics to the Pushgateway");
    let endpoint = Endpoint::new(
        url,
        metrics::CONTENT_TYPE,
        authorization
            .map(|a| ("Authorization".to_string(), Secret::new(a)))
            .into_iter()
            .collect(),
        Names {
            doing: "push the run's metrics to the Pushgateway",
            credentials: "SCHEMAGATE_PUSHGATEWAY_USERNAME/_PASSWORD, _TOKEN or the URL's user",
            url_setting: "SCHEMAGATE_PUSHGATEWAY_URL",
        },
        None,
        Arc::new(AtomicBool::new(false)),
        build.version,
    );
    Output {
        endpoint,
        encode: Box::new(move |s, _| Some(metrics::encode(&s.metrics, &build))),
        mid_run_timeout: MID_RUN_TIMEOUT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(url: &str) -> Pushgateway {
        Pushgateway {
            url: url.into(),
            auth: PushAuth::None,
            job: "schemagate".into(),
        }
    }

    #[test]
    fn the_group_has_the_stable_labels_only() {
        assert_eq!(
            group(
                &gateway("http://gw:9091"),
                "app",
                "public",
                "schemagate_history"
            ),
            "/metrics/job/schemagate/database/app/schema/public/table/schemagate_history"
        );
    }
}
