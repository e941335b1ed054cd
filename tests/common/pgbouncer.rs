//! A PgBouncer (Debian's package) in front of a harness server, for pooler tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{PgServer, free_port};

/// A running PgBouncer; killed on drop.
pub struct PgBouncer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl PgBouncer {
    /// Starts PgBouncer on a free port, forwarding every database to `server`, in `pool_mode`.
    pub fn start(server: &PgServer, pool_mode: &str) -> PgBouncer {
        let bin = PathBuf::from("/usr/sbin/pgbouncer");
        assert!(
            bin.exists(),
            "pgbouncer is not installed: `make deps` installs Debian's pgbouncer package"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let ini = format!(
            "[databases]\n* = host=127.0.0.1 port={}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
             unix_socket_dir =\nauth_type = trust\nauth_file = {dir}/userlist.txt\npool_mode = {pool_mode}\n\
             logfile = {dir}/pgbouncer.log\nadmin_users = postgres\n",
            server.port(),
            dir = dir.path().display()
        );
        std::fs::write(dir.path().join("pgbouncer.ini"), ini).unwrap();
        std::fs::write(dir.path().join("userlist.txt"), "\"postgres\" \"\"\n").unwrap();
        // PgBouncer refuses to run as root, like PostgreSQL.
        let mut cmd = if unsafe { libc::geteuid() } == 0 {
            let _ = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status();
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.arg(dir.path().join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start pgbouncer");
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "pgbouncer did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        PgBouncer { child, port, dir }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        // runuser passes the signal on to pgbouncer.
        let _ = self.child.kill();
        let _ = Command::new("pkill")
            .args(["-f", &self.dir.path().display().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
