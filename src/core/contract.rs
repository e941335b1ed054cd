//! The contract guard (SPEC §11), the pure part: which connected sessions belong to an older app version, and when the evidence is enough to drop what it needs.
//!
//! schemagate cannot see Kubernetes. What it can see is PostgreSQL's own list of sessions:
//! the app names its sessions `<app>/<version>` (`PGAPPNAME`, JDBC `ApplicationName`), so a
//! session named `<app>/<other version>` is an old pod still serving. The guard holds when
//! no such session is connected, seen twice at least `SCHEMAGATE_CONTRACT_SETTLE` apart
//! (a pod in its termination grace period may reconnect in between).
//!
//! "Older" is judged per contract script, not by the version string alone: every `migrate`
//! run of a release records which scripts its image holds (the `<table>_releases` table).
//! A session of a version whose image already holds the contract script was written for the
//! schema after it, so it does not hold the script back. Without that, release N+1's
//! pre-upgrade hook would count N's pods as old for N's own deferred contract, defer it
//! again, and with it (strict version order) N+1's expand scripts — while `wait` let N+1's
//! pods start. An app version nobody recorded counts as old.

use std::time::Duration;

use super::script::Version;

/// `SCHEMAGATE_CONTRACT`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContractMode {
    /// Contract scripts run once the guard holds; until then they, and everything after
    /// them, are deferred.
    #[default]
    Auto,
    /// Contract scripts run now, without the guard.
    Apply,
    /// No contract script runs.
    Defer,
}

impl ContractMode {
    pub fn parse(s: &str) -> Option<ContractMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(ContractMode::Auto),
            "apply" => Some(ContractMode::Apply),
            "defer" => Some(ContractMode::Defer),
            _ => None,
        }
    }
}

/// The release being rolled out: `SCHEMAGATE_APP` and `SCHEMAGATE_APP_VERSION`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub app: String,
    pub version: String,
}

impl Release {
    /// The `application_name` of the current release's sessions.
    pub fn application_name(&self) -> String {
        format!("{}/{}", self.app, self.version)
    }

    /// The version a session's `application_name` names, if the session is this app's:
    /// `<app>/<version>`, optionally followed by `/<anything>` (a pod name, say).
    pub fn version_of<'a>(&self, application_name: &'a str) -> Option<&'a str> {
        let rest = application_name
            .strip_prefix(self.app.as_str())?
            .strip_prefix('/')?;
        Some(rest.split('/').next().unwrap_or(rest))
    }
}

/// A session connected to the database, as `pg_stat_activity` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub pid: i32,
    pub application_name: String,
    /// `None`: a unix socket, or a role without `pg_read_all_stats` looking at another role's session.
    pub client_addr: Option<String>,
    pub backend_start: Option<String>,
}

impl Client {
    /// What a log line and the termination message say of it.
    pub fn describe(&self) -> String {
        format!(
            "pid {} (application_name \"{}\", client {}, connected since {})",
            self.pid,
            self.application_name,
            self.client_addr.as_deref().unwrap_or("not shown"),
            self.backend_start.as_deref().unwrap_or("not shown")
        )
    }
}

/// An app version's image, as a `migrate` run of it recorded: the highest versioned script
/// it holds (`None`: no versioned script).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub app_version: String,
    pub scripts_up_to: Option<Version>,
}

/// The sessions of `release.app` that keep the contract script `contract` back: those of
/// another version whose image, as far as `recorded` tells, does not hold that script.
pub fn old_clients<'a>(
    clients: &'a [Client],
    release: &Release,
    contract: &Version,
    recorded: &[Recorded],
) -> Vec<&'a Client> {
    let holds_it = |v: &str| {
        recorded
            .iter()
            .any(|r| r.app_version == v && r.scripts_up_to.as_ref().is_some_and(|u| u >= contract))
    };
    clients
        .iter()
        .filter(|c| {
            release
                .version_of(&c.application_name)
                .is_some_and(|v| v != release.version && !holds_it(v))
        })
        .collect()
}

/// Why a contract script does not run now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deferral {
    /// `SCHEMAGATE_CONTRACT=defer`.
    Asked,
    /// `auto` without `SCHEMAGATE_APP`: no way to tell an old session from a new one.
    NoEvidence,
    /// Sessions of an older version were still connected, described.
    OldClients(Vec<String>),
}

impl Deferral {
    /// The sentence a log line and the termination message give.
    pub fn reason(&self) -> String {
        match self {
            Deferral::Asked => "SCHEMAGATE_CONTRACT=defer".into(),
            Deferral::NoEvidence => "SCHEMAGATE_APP is not set, so nothing shows that the old app version is gone; set SCHEMAGATE_APP and SCHEMAGATE_APP_VERSION (and have the app set PGAPPNAME=<app>/<version>), or run it with SCHEMAGATE_CONTRACT=apply once the rollout is done".into(),
            Deferral::OldClients(c) => format!(
                "{} of an older app version still connected: {}",
                if c.len() == 1 { "a session" } else { "sessions" },
                c.join("; ")
            ),
        }
    }
}

/// What the guard's clock says after a look at the sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// No old session, seen twice `settle` apart.
    Holds,
    /// Old sessions were there at the last look and the wait is over.
    Blocked,
    /// Look again after this long.
    LookAgainIn(Duration),
}

/// The timing of the guard: looks at the sessions until two clean looks `settle` apart, or
/// until `wait` has passed with an old session still there. Between, it looks every second,
/// so that an old pod that reconnects during the settle is seen.
#[derive(Clone, Copy, Debug)]
pub struct Guard {
    settle: Duration,
    wait: Duration,
    started: Option<Duration>,
    clean_since: Option<Duration>,
}

const LOOK_EVERY: Duration = Duration::from_secs(1);

impl Guard {
    pub fn new(settle: Duration, wait: Duration) -> Self {
        Guard {
            settle,
            wait,
            started: None,
            clean_since: None,
        }
    }

    /// After a look at `now` (any monotonic clock; only differences count) that found old
    /// sessions (`clean` false) or none.
    pub fn observe(&mut self, now: Duration, clean: bool) -> Step {
        let started = *self.started.get_or_insert(now);
        if clean {
            let since = *self.clean_since.get_or_insert(now);
            let settled = now.saturating_sub(since);
            if settled >= self.settle {
                return Step::Holds;
            }
            Step::LookAgainIn(LOOK_EVERY.min(self.settle - settled))
        } else {
            self.clean_since = None;
            let waited = now.saturating_sub(started);
            if waited >= self.wait {
                return Step::Blocked;
            }
            Step::LookAgainIn(LOOK_EVERY.min(self.wait - waited))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(pid: i32, name: &str) -> Client {
        Client {
            pid,
            application_name: name.into(),
            client_addr: Some("10.1.2.3".into()),
            backend_start: Some("2026-12-02 08:00:00 UTC".into()),
        }
    }

    fn shop() -> Release {
        Release {
            app: "shop".into(),
            version: "1.1".into(),
        }
    }

    #[test]
    fn sessions_of_another_version_of_the_app_are_old_clients() {
        let clients = [
            client(1, "shop/1.0"),
            client(2, "shop/1.1"),
            client(3, "shop/1.1/shop-7d9f-abcde"),
            client(4, "shop/1.0/shop-6c8e-xyz"),
            client(5, "shopping/1.0"),
            client(6, "shop"),
            client(7, "schemagate/job-x"),
            client(8, "psql"),
            client(9, "shop/"),
        ];
        let v5 = Version::parse("5").unwrap();
        let pids: Vec<i32> = old_clients(&clients, &shop(), &v5, &[])
            .iter()
            .map(|c| c.pid)
            .collect();
        assert_eq!(pids, [1, 4, 9]);
        assert_eq!(shop().application_name(), "shop/1.1");
    }

    #[test]
    fn a_version_whose_image_holds_the_contract_does_not_hold_it_back() {
        let clients = [
            client(1, "shop/1.0"),
            client(2, "shop/0.9"),
            client(3, "shop/1.2"),
        ];
        let recorded = [
            Recorded {
                app_version: "1.0".into(),
                scripts_up_to: Some(Version::parse("5").unwrap()),
            },
            Recorded {
                app_version: "0.9".into(),
                scripts_up_to: Some(Version::parse("4.9").unwrap()),
            },
            Recorded {
                app_version: "1.2".into(),
                scripts_up_to: None,
            },
        ];
        let pids = |contract: &str| -> Vec<i32> {
            old_clients(
                &clients,
                &shop(),
                &Version::parse(contract).unwrap(),
                &recorded,
            )
            .iter()
            .map(|c| c.pid)
            .collect()
        };
        // 1.0 shipped V5: it was written for the schema after V5, not after V6.
        assert_eq!(pids("5"), [2, 3]);
        assert_eq!(pids("5.0.1"), [1, 2, 3]);
        assert_eq!(pids("4"), [3]);
    }

    #[test]
    fn a_blocking_session_is_named_with_what_identifies_it() {
        let c = client(4242, "shop/1.0");
        assert_eq!(
            c.describe(),
            "pid 4242 (application_name \"shop/1.0\", client 10.1.2.3, connected since 2026-12-02 08:00:00 UTC)"
        );
        let hidden = Client {
            client_addr: None,
            backend_start: None,
            ..c
        };
        assert!(hidden.describe().contains("client not shown"));
        let d = Deferral::OldClients(vec!["pid 1".into(), "pid 2".into()]);
        assert_eq!(
            d.reason(),
            "sessions of an older app version still connected: pid 1; pid 2"
        );
    }

    #[test]
    fn modes_parse() {
        assert_eq!(ContractMode::parse(" Apply "), Some(ContractMode::Apply));
        assert_eq!(ContractMode::parse("defer"), Some(ContractMode::Defer));
        assert_eq!(ContractMode::parse("auto"), Some(ContractMode::Auto));
        assert_eq!(ContractMode::parse("now"), None);
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn without_a_wait_one_dirty_look_defers_and_a_clean_one_needs_the_settle() {
        let mut g = Guard::new(S(10), Duration::ZERO);
        assert_eq!(g.observe(S(100), false), Step::Blocked);
        let mut g = Guard::new(S(10), Duration::ZERO);
        assert_eq!(g.observe(S(100), true), Step::LookAgainIn(S(1)));
        assert_eq!(g.observe(S(105), true), Step::LookAgainIn(S(1)));
        assert_eq!(g.observe(S(110), true), Step::Holds);
        // A session that comes back during the settle ends it.
        let mut g = Guard::new(S(10), Duration::ZERO);
        g.observe(S(0), true);
        assert_eq!(g.observe(S(5), false), Step::Blocked);
        // No settle: one clean look is enough.
        assert_eq!(
            Guard::new(Duration::ZERO, Duration::ZERO).observe(S(0), true),
            Step::Holds
        );
    }

    #[test]
    fn with_a_wait_old_sessions_are_waited_out() {
        let mut g = Guard::new(S(2), S(120));
        assert_eq!(g.observe(S(0), false), Step::LookAgainIn(S(1)));
        assert_eq!(g.observe(S(60), false), Step::LookAgainIn(S(1)));
        assert_eq!(g.observe(S(61), true), Step::LookAgainIn(S(1)));
        assert_eq!(g.observe(S(62), false), Step::LookAgainIn(S(1)));
        assert_eq!(g.observe(S(63), true), Step::LookAgainIn(S(1)));
        assert_eq!(g.observe(S(65), true), Step::Holds);
        let mut g = Guard::new(S(2), S(3));
        g.observe(S(0), false);
        assert_eq!(
            g.observe(Duration::from_millis(2500), false),
            Step::LookAgainIn(Duration::from_millis(500))
        );
        assert_eq!(g.observe(S(3), false), Step::Blocked);
    }
}
