//! Streaming-replication standbys: a real `pg_basebackup` of a harness primary, started as a hot standby on its own port, owned by the test.
//!
//! ```ignore
//! let primary = PgServer::start(ServerOptions::primary());
//! let standby = primary.start_standby("replica1");
//! standby.pause_replay();            // pg_wal_replay_pause() on the standby
//! primary.replication_rows();        // what pg_stat_replication shows of it
//! standby.resume_replay();
//! standby.wait_until_caught_up(&primary, Duration::from_secs(30));
//! ```
//!
//! The standby is a [`PgServer`] like any other (socket clients, log, stop and removal on
//! drop, leak protection); it names itself `application_name = <name>` in its
//! `primary_conninfo`, so `pg_stat_replication.application_name` shows that name, and it
//! reports to the primary every second (`wal_receiver_status_interval = 1s`, not the
//! default 10 s), so lag figures on the primary follow within a second.

use super::*;

impl ServerOptions {
    /// A server that accepts replication connections on its unix socket, for
    /// [`PgServer::start_standby`]. (`wal_level = replica` and `max_wal_senders = 10` are
    /// PostgreSQL's defaults.)
    pub fn primary() -> ServerOptions {
        ServerOptions {
            extra_hba: vec!["local replication all trust".into()],
            ..ServerOptions::default()
        }
    }
}

/// One row of the primary's `pg_stat_replication`.
#[derive(Clone, Debug)]
pub struct ReplicationRow {
    pub application_name: String,
    pub state: String,
    /// `replay_lag` as PostgreSQL prints it; `None` when the standby is caught up and idle.
    pub replay_lag: Option<String>,
    /// `pg_current_wal_lsn() - replay_lsn`.
    pub bytes_behind: Option<i64>,
}

impl PgServer {
    /// Takes a base backup of this server (started with [`ServerOptions::primary`]) and
    /// starts it as a hot standby streaming from it; returns once this server's
    /// `pg_stat_replication` shows it `streaming`.
    pub fn start_standby(&self, name: &str) -> PgServer {
        match self.try_start_standby(name) {
            Ok(s) => s,
            Err(e) => fail_setup(&e),
        }
    }

    fn try_start_standby(&self, name: &str) -> Result<PgServer, String> {
        let install = pg_install()?;
        let user = server_user()?;
        let (id, dir, owner_lock) = new_server_dir(&harness_root(), user)?;
        let data = dir.join("data");
        let out = server_command(&install.bindir.join("pg_basebackup"))?
            .arg("-D")
            .arg(&data)
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port().to_string(), "-U", SUPERUSER])
            .args(["-X", "stream", "--checkpoint=fast", "--no-sync"])
            .output()
            .map_err(|e| format!("cannot run pg_basebackup: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_basebackup of the server on port {} failed with {}:\n{}{}\n(was it started with ServerOptions::primary()?)",
                self.port(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // The copy holds the primary's configuration and log: give it its own socket
        // directory and an empty log, and make it a standby of the primary.
        let _ = fs::write(data.join("server.log"), "");
        let mut conf = fs::read_to_string(data.join("postgresql.conf")).unwrap_or_default();
        conf.push_str(&format!(
            "\n# --- schemagate test harness: standby ---\nunix_socket_directories = '{}'\nhot_standby = on\nwal_receiver_status_interval = 1s\nhot_standby_feedback = off\n",
            dir.display()
        ));
        fs::write(data.join("postgresql.conf"), conf).map_err(|e| e.to_string())?;
        fs::write(data.join("standby.signal"), "").map_err(|e| e.to_string())?;
        give_to_server_user(&data.join("standby.signal"), 0o600)?;
        let primary_conninfo = format!(
            "host={} port={} user={SUPERUSER} application_name={name}",
            self.socket_dir().display(),
            self.port()
        );
        let mut last_err = String::new();
        for _attempt in 0..8 {
            let port = free_port();
            let auto = data.join("postgresql.auto.conf");
            fs::write(
                &auto,
                format!("# written by the schemagate test harness\nport = {port}\nprimary_conninfo = '{primary_conninfo}'\n"),
            )
            .map_err(|e| format!("cannot write {}: {e}", auto.display()))?;
            give_to_server_user(&auto, 0o600)?;
            let inner = Inner {
                id,
                shared: false,
                dir: dir.clone(),
                data: data.clone(),
                port,
                opts: ServerOptions::default(),
                child: Mutex::new(None),
                _owner_lock: owner_lock.try_clone().map_err(|e| e.to_string())?,
            };
            match inner.spawn_postmaster(Duration::from_secs(60)) {
                Ok(()) => {
                    let standby = PgServer {
                        inner: Arc::new(inner),
                    };
                    self.wait_for_streaming(name, Duration::from_secs(30))?;
                    return Ok(standby);
                }
                Err(e) if e.contains("could not create any TCP/IP") => last_err = e,
                Err(e) => {
                    last_err = e;
                    break;
                }
            }
        }
        if !keep_dirs() {
            let _ = fs::remove_dir_all(&dir);
        }
        Err(last_err)
    }

    fn wait_for_streaming(&self, name: &str, limit: Duration) -> Result<(), String> {
        let until = Instant::now() + limit;
        loop {
            if self
                .replication_rows()
                .iter()
                .any(|r| r.application_name == name && r.state == "streaming")
            {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!(
                    "standby {name} did not start streaming from the server on port {} within {limit:?}; rows: {:?}",
                    self.port(),
                    self.replication_rows()
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The primary's `pg_stat_replication`, one row per connected standby.
    pub fn replication_rows(&self) -> Vec<ReplicationRow> {
        simple_rows(
            &mut self.admin_client("postgres"),
            "SELECT application_name, state, replay_lag::text, \
             pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication",
        )
        .into_iter()
        .map(|r| ReplicationRow {
            application_name: r[0].clone().unwrap_or_default(),
            state: r[1].clone().unwrap_or_default(),
            replay_lag: r[2].clone(),
            bytes_behind: r[3].as_deref().and_then(|b| b.parse().ok()),
        })
        .collect()
    }

    /// On a standby: stops replaying WAL (it keeps receiving it).
    pub fn pause_replay(&self) {
        self.admin_exec("SELECT pg_wal_replay_pause()");
        let until = Instant::now() + Duration::from_secs(10);
        while !self.is_replay_paused() {
            assert!(Instant::now() < until, "replay did not pause");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// On a standby: replays WAL again.
    pub fn resume_replay(&self) {
        self.admin_exec("SELECT pg_wal_replay_resume()");
    }

    /// On a standby: whether replay is paused (PostgreSQL 14+ reports `paused` once it is).
    pub fn is_replay_paused(&self) -> bool {
        self.admin_query_scalar("SELECT pg_get_wal_replay_pause_state()")
            .as_deref()
            == Some("paused")
    }

    /// On a standby: the last replayed WAL position.
    pub fn replay_lsn(&self) -> String {
        self.admin_query_scalar("SELECT pg_last_wal_replay_lsn()::text")
            .unwrap_or_default()
    }

    /// On a standby: waits until it has replayed everything `primary` had written when
    /// this was called.
    pub fn wait_until_caught_up(&self, primary: &PgServer, limit: Duration) {
        let target = primary
            .admin_query_scalar("SELECT pg_current_wal_lsn()::text")
            .unwrap_or_default();
        let until = Instant::now() + limit;
        loop {
            let done = self
                .admin_query_scalar(&format!(
                    "SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
                ))
                .as_deref()
                == Some("t");
            if done {
                return;
            }
            assert!(
                Instant::now() < until,
                "standby on port {} did not replay up to {target} within {limit:?} (at {})",
                self.port(),
                self.replay_lsn()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}
