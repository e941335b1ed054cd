#!/usr/bin/env python3
"""schemagate's benchmarks (issue 6): schemagate against the psql floor and its peers.

Starts its own PostgreSQL (fsync on, loopback TCP), generates the migrations, runs every
tool interleaved run by run (A B C, B C A, C A B ...), and prints one Markdown table, also written
to bench/results/latest.md with the machine's description. Standard library only, plus a C
compiler for the launcher (bench/spawn.c).

    python3 bench/run.py --bin target/x86_64-unknown-linux-musl/release/schemagate
    python3 bench/run.py --peers 0 --runs 3 --no-micro   # a fast look, no peers
    python3 bench/run.py shell -- sh -c 'psql -c "select 1"'   # a server for experiments

Every timed run is a fresh process started by a small static launcher (bench/spawn.c) that
forks, execs and reaps it with wait4: the wall time, and the peak RSS (ru_maxrss) of that
process alone (a child forked from Python would report Python's 18 MB).

The `latency` and `tls` scenarios (issue 15) run through two delaying proxies of their own
(bench/delay_proxy.py), RTT 0 and --rtt-ms (2 ms), and count round trips as
(t_2ms - t_0ms) / RTT; `tls` turns ssl on for the server with a CA made by openssl for the run:

    python3 bench/run.py --scenarios latency,tls --runs 3 --no-micro --out /tmp/latency.md
"""

import argparse
import atexit
import datetime
import json
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS_ROOT = os.path.join(REPO, "bench", ".peers")
SQLX_VERSION = "0.9.0"
REFINERY_VERSION = "0.10.0"
HISTORY = "schemagate_history"
# latency: apply and no-op through a proxy that adds a round trip; tls: a verify-full no-op
# through it (issue 15).
SCENARIOS = ("apply", "noop", "many", "version", "latency", "tls")

# The same history query schemagate sends (src/pg/history.rs, `Table::select_sql`; it sorts
# the rows itself), for "psql reading the same history": one process start, one connection,
# one read.
HISTORY_SELECT = (
    "SELECT installed_rank, version, description, type, script, checksum, installed_by, "
    "to_char(installed_on, 'YYYY-MM-DD HH24:MI:SS'), execution_time, success "
    f'FROM "public"."{HISTORY}"'
)

# Flyway's history layout (SPEC section 5), for the psql floor that records each file.
HISTORY_DDL = f"""CREATE TABLE "public"."{HISTORY}" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "public"."{HISTORY}" ADD CONSTRAINT "{HISTORY}_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "{HISTORY}_s_idx" ON "public"."{HISTORY}" ("success");
"""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(f"error: {msg}")
    sys.exit(1)


# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------


def pg_bindir():
    base = "/usr/lib/postgresql"
    found = []
    for v in os.listdir(base) if os.path.isdir(base) else []:
        b = os.path.join(base, v, "bin")
        if v.isdigit() and os.path.isfile(os.path.join(b, "initdb")):
            found.append((int(v), b))
    if not found:
        die("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (make deps installs postgresql-15)")
    return sorted(found)[-1][1]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A PostgreSQL cluster of our own: fsync on (the default), loopback only, removed at exit."""

    def __init__(self, workdir):
        self.bindir = pg_bindir()
        self.psql = os.path.join(self.bindir, "psql")  # the real binary, not Debian's Perl wrapper
        self.dir = os.path.join(workdir, "pg")
        os.mkdir(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.run_as = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root.
            user = "postgres"
            try:
                pw = pwd.getpwnam(user)
            except KeyError:
                user, pw = "nobody", pwd.getpwnam("nobody")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chmod(workdir, 0o755)
            self.run_as = ["runuser", "-u", user, "--"]
        self.started = False
        self.extra_opts = ""
        self.ca_cert = None

    def enable_tls(self):
        """ssl=on with a CA and a server certificate of our own (for 127.0.0.1 and localhost), so
        that clients can connect with sslmode=verify-full. Clients that ask for sslmode=disable,
        as every other scenario's do, never start a handshake: their runs are as before."""
        tls = os.path.join(self.dir, "tls")
        os.mkdir(tls)
        conf = os.path.join(tls, "openssl.cnf")
        with open(conf, "w") as f:
            f.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = schemagate bench\n"
                    "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
                    "subjectKeyIdentifier = hash\n"
                    "[server]\nbasicConstraints = critical,CA:FALSE\n"
                    "keyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth\n"
                    "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
                    "authorityKeyIdentifier = keyid\n")
        ca_key, ca_crt = os.path.join(tls, "ca.key"), os.path.join(tls, "ca.crt")
        key, csr, crt = (os.path.join(tls, n) for n in ("server.key", "server.csr", "server.crt"))
        # RSA 2048, what managed PostgreSQL services mostly present.
        for cmd in (
            ["req", "-config", conf, "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
             "-out", ca_crt, "-days", "2", "-subj", "/CN=schemagate bench CA", "-extensions", "ca"],
            ["req", "-config", conf, "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
             "-days", "2", "-extfile", conf, "-extensions", "server"],
        ):
            out = subprocess.run(["/usr/bin/openssl"] + cmd, capture_output=True, text=True)
            if out.returncode != 0:
                die(f"openssl {cmd[0]} failed: {out.stderr.strip()}")
        # PostgreSQL reads a key only if its owner alone may.
        os.chmod(key, 0o600)
        if self.run_as:
            pw = pwd.getpwnam(self.run_as[2])
            for path in (tls, key, crt):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        self.extra_opts = f" -c ssl=on -c ssl_cert_file={crt} -c ssl_key_file={key}"
        self.ca_cert = ca_crt

    def start(self):
        out = subprocess.run(
            self.run_as + [os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres",
                           "--auth=trust", "-E", "UTF8", "--no-sync"],
            capture_output=True, text=True)
        if out.returncode != 0:
            die(f"initdb failed:\n{out.stdout}\n{out.stderr}")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=250 "
                "-c fsync=on -c synchronous_commit=on" + self.extra_opts)
        out = subprocess.run(
            self.run_as + [os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l",
                           os.path.join(self.dir, "server.log"), "-w", "-o", opts, "start"],
            capture_output=True, text=True)
        if out.returncode != 0:
            die(f"pg_ctl start failed:\n{out.stdout}\n{out.stderr}\n{self.log_tail()}")
        self.started = True
        atexit.register(self.stop)
        self.version = subprocess.run([os.path.join(self.bindir, "postgres"), "--version"],
                                      capture_output=True, text=True).stdout.strip()
        log(f"{self.version} on 127.0.0.1:{self.port}, fsync on (data in {self.data})")

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return ""

    def stop(self):
        if self.started:
            self.started = False
            subprocess.run(self.run_as + [os.path.join(self.bindir, "pg_ctl"), "-D", self.data,
                                          "-m", "fast", "stop"], capture_output=True)

    def env(self, db="postgres"):
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "postgres",
                "PGDATABASE": db, "PGSSLMODE": "disable"}

    def url(self, db):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}?sslmode=disable"

    def sql(self, sql, db="postgres"):
        """Runs SQL as the superuser over the unix socket; returns stdout (unaligned, tuples only)."""
        out = subprocess.run([self.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                              "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql],
                             capture_output=True, text=True)
        if out.returncode != 0:
            die(f"psql failed on {sql!r} in {db}: {out.stderr}")
        return out.stdout.strip()

    def create_db(self, name):
        self.sql(f'DROP DATABASE IF EXISTS "{name}"')
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE template0')

    def drop_db(self, name):
        self.sql(f'DROP DATABASE IF EXISTS "{name}"')

    def checkpoint(self):
        # Start each timed run with the same amount of dirty buffers to flush: none.
        self.sql("CHECKPOINT")


# ---------------------------------------------------------------------------------------
# Network latency: a delaying proxy in front of the server (issue 15)
# ---------------------------------------------------------------------------------------


class Proxy:
    """bench/delay_proxy.py in front of the server, holding every chunk `rtt_ms / 2` each way;
    stopped at exit. A process of its own, so that its threads never wait for this one's."""

    def __init__(self, server, rtt_ms):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "bench", "delay_proxy.py"), "--target",
             f"127.0.0.1:{server.port}", "--delay-ms", str(rtt_ms / 2)],
            stdout=subprocess.PIPE, text=True)
        atexit.register(self.stop)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on [\d.]+:(\d+)", line)
        if not m:
            die(f"the delaying proxy did not start: {line!r}")
        self.port = int(m.group(1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


class Via:
    """The server as a client reaches it through a proxy: the same server and databases on the
    proxy's port, with `extra` (TLS settings) over the usual libpq variables. Stands in for a
    Server in apply_argv and noop_argv."""

    def __init__(self, server, port, extra=None):
        self.server, self.port, self.extra = server, port, extra or {}
        self.psql = server.psql

    def env(self, db="postgres"):
        env = self.server.env(db)
        env["PGPORT"] = str(self.port)
        env.update(self.extra)
        return env

    def url(self, db):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}?sslmode=disable"


def pg_messages_until_ready(sock):
    """Reads backend messages up to ReadyForQuery; raises on an ErrorResponse."""
    buf = b""
    while True:
        while len(buf) >= 5:
            kind, length = buf[:1], struct.unpack("!i", buf[1:5])[0]
            if len(buf) < 1 + length:
                break
            body, buf = buf[5:1 + length], buf[1 + length:]
            if kind == b"E":
                raise Failed(f"the proxy probe got an error: {body!r}")
            if kind == b"Z":
                return
        data = sock.recv(65536)
        if not data:
            raise Failed("the proxy probe's connection closed")
        buf += data


def probe_rtt(port, n):
    """The round trip through a proxy as a client sees it: the median time of an empty simple
    query (one message out, one flight back) on an open session, in seconds."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = struct.pack("!i", 196608) + b"user\0postgres\0database\0postgres\0\0"
    sock.sendall(struct.pack("!i", len(body) + 4) + body)
    pg_messages_until_ready(sock)
    query = b"Q" + struct.pack("!i", 5) + b"\0"
    times = []
    for _ in range(n):
        t = time.perf_counter()
        sock.sendall(query)
        pg_messages_until_ready(sock)
        times.append(time.perf_counter() - t)
    sock.sendall(b"X" + struct.pack("!i", 4))
    sock.close()
    return statistics.median(times)


# ---------------------------------------------------------------------------------------
# Running a process: wall time and peak RSS
# ---------------------------------------------------------------------------------------

BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


class Failed(Exception):
    pass


SPAWN = None  # the launcher (bench/spawn.c), built by build_launcher()


def build_launcher(workdir):
    """Compiles bench/spawn.c: static with musl-gcc when there is one, so its own footprint is tiny."""
    global SPAWN
    src = os.path.join(REPO, "bench", "spawn.c")
    out = os.path.join(workdir, "spawn")
    for cc in (["musl-gcc", "-static"], ["cc", "-static"], ["cc"]):
        if shutil.which(cc[0]) is None:
            continue
        r = subprocess.run(cc + ["-O2", "-o", out, src], capture_output=True, text=True)
        if r.returncode == 0:
            SPAWN = out
            return
    die("cannot compile bench/spawn.c (install gcc or musl-tools)")


def tail(path, n=25):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def launch(argv, env, logs, n):
    """Starts n copies of argv at once through the launcher: (seconds until the last exits,
    the largest peak RSS in KiB)."""
    d = os.path.join(logs, "last")
    os.makedirs(d, exist_ok=True)
    r = subprocess.run([SPAWN, str(n), d] + argv, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise Failed(f"the launcher failed on `{' '.join(argv)}`: {r.stderr}")
    ns, rss, code, index = r.stdout.split()
    if int(code) != 0:
        k = int(index)
        raise Failed(f"`{' '.join(argv)}` exited {code} (copy {k + 1} of {n})\n--- stdout ---\n"
                     f"{tail(os.path.join(d, f'{k}.out'))}--- stderr ---\n{tail(os.path.join(d, f'{k}.err'))}")
    return int(ns) / 1e9, int(rss)


def run_once(argv, env, logs, name="run"):
    """Runs argv to its end. Returns (seconds, peak RSS in KiB)."""
    return launch(argv, env, logs, 1)


def run_many(argv, env, logs, n):
    """Starts n copies at once; returns the seconds until the last one exits."""
    return launch(argv, env, logs, n)[0]


def rotated(tools, r):
    """Round r's order: A B C, then B C A, then C A B, ... Interleaved as before, but no tool
    always runs right after the same one (a heavy peer's exit overlapping the next start)."""
    k = r % len(tools)
    return tools[k:] + tools[:k]


def settle():
    """A pause before a timed run that connects: when wait4 returns, the server is still
    ending the previous run's session (its backend exits after the client has gone), and
    the next tool would share the 2 cores with that exit."""
    time.sleep(0.02)


# ---------------------------------------------------------------------------------------
# Migrations
# ---------------------------------------------------------------------------------------


def migration_sql(i):
    rows = ", ".join(f"({r}, 'row {r} of t{i:04d}')" for r in range(1, 11))
    return (
        f"-- V{i}: a table, an index and 10 rows\n"
        f"CREATE TABLE t{i:04d} (\n"
        f"    id integer NOT NULL,\n"
        f"    name text NOT NULL,\n"
        f"    created_at timestamptz NOT NULL DEFAULT now()\n"
        f");\n"
        f"CREATE INDEX t{i:04d}_name_idx ON t{i:04d} (name);\n"
        f"INSERT INTO t{i:04d} (id, name) VALUES {rows};\n"
    )


def write_sets(workdir, n):
    """Migration folders for n files: Flyway/refinery names, sqlx names, and the psql scripts."""
    sets = {}
    flyway = os.path.join(workdir, f"flyway{n}")
    sqlx = os.path.join(workdir, f"sqlx{n}")
    os.mkdir(flyway)
    os.mkdir(sqlx)
    one_tx = ["BEGIN;\n"]
    per_file = ["BEGIN;\n", HISTORY_DDL, "COMMIT;\n"]
    for i in range(1, n + 1):
        sql = migration_sql(i)
        name = f"V{i}__create_t{i:04d}.sql"
        with open(os.path.join(flyway, name), "w") as f:
            f.write(sql)
        with open(os.path.join(sqlx, f"{i}_create_t{i:04d}.sql"), "w") as f:
            f.write(sql)
        one_tx.append(sql)
        per_file.append("BEGIN;\n")
        per_file.append(sql)
        per_file.append(
            f'INSERT INTO "public"."{HISTORY}" (installed_rank, version, description, type, script, checksum, '
            f"installed_by, execution_time, success) VALUES ({i}, '{i}', 'create t{i:04d}', 'SQL', '{name}', "
            f"{i}, current_user, 0, true);\n")
        per_file.append("COMMIT;\n")
    one_tx.append("COMMIT;\n")
    for key, parts in (("one_tx", one_tx), ("per_file", per_file)):
        path = os.path.join(workdir, f"psql_{key}_{n}.sql")
        with open(path, "w") as f:
            f.write("".join(parts))
        sets[key] = path
    sets["flyway"], sets["sqlx"] = flyway, sqlx
    return sets


# ---------------------------------------------------------------------------------------
# Peers
# ---------------------------------------------------------------------------------------


def ensure_peer(name, crate, version, features, binary, logs):
    """Returns (path, None) or (None, why). Installs into bench/.peers when absent."""
    path = os.path.join(PEERS_ROOT, "bin", binary)
    if os.access(path, os.X_OK):
        return path, None
    log(f"building {crate} {version} into bench/.peers (once; takes minutes)")
    cmd = ["cargo", "install", "--locked", "--root", PEERS_ROOT, crate, "--version", version,
           "--no-default-features", "--features", features]
    logfile = os.path.join(logs, f"install-{crate}.log")
    with open(logfile, "w") as f:
        code = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
    if code == 0 and os.access(path, os.X_OK):
        return path, None
    lines = [ln.strip() for ln in tail(logfile, 400).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error")] or lines[-3:]
    return None, f"`{' '.join(cmd)}` failed: {' / '.join(errors[:3])[:400]}"


# ---------------------------------------------------------------------------------------
# Tools: how each one runs each scenario
# ---------------------------------------------------------------------------------------


class Tool:
    def __init__(self, key, label, kind, version_argv=None, binary=None):
        self.key, self.label, self.kind = key, label, kind
        self.version_argv, self.binary = version_argv, binary


def apply_argv(tool, server, sets, db, ctx):
    """(argv, env) that applies a migration set to an empty database `db`."""
    env = dict(BASE_ENV)
    if tool.kind == "schemagate":
        env.update(server.env(db))
        env.update(ctx["sg_env"])
        env.update(tool.extra_env if hasattr(tool, "extra_env") else {})
        env["SCHEMAGATE_LOCATIONS"] = sets["flyway"]
        return [tool.binary, "migrate"], env
    if tool.kind in ("psql_one_tx", "psql_per_file"):
        env.update(server.env(db))
        script = sets["one_tx" if tool.kind == "psql_one_tx" else "per_file"]
        return [server.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", script], env
    if tool.kind == "sqlx":
        return [tool.binary, "migrate", "run", "--source", sets["sqlx"], "--database-url", server.url(db)], env
    if tool.kind == "refinery":
        env["DATABASE_URL"] = server.url(db)
        return [tool.binary, "migrate", "-e", "DATABASE_URL", "-p", sets["flyway"]], env
    raise ValueError(tool.kind)


def noop_argv(tool, server, sets, db, ctx):
    """(argv, env) of a run against a database that is already up to date."""
    env = dict(BASE_ENV)
    if tool.kind == "psql_read":
        env.update(server.env(db))
        return [server.psql, "-X", "-q", "-A", "-t", "-c", HISTORY_SELECT], env
    if tool.kind == "psql_select1":
        env.update(server.env(db))
        return [server.psql, "-X", "-q", "-A", "-t", "-c", "select 1"], env
    return apply_argv(tool, server, sets, db, ctx)


def applied_count(tool, server, db):
    table = {"sqlx": "_sqlx_migrations", "refinery": "refinery_schema_history"}.get(tool.kind, HISTORY)
    if tool.kind == "psql_one_tx":
        return int(server.sql("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname ~ '^t[0-9]{4}$'", db))
    return int(server.sql(f"SELECT count(*) FROM {table}", db))


# ---------------------------------------------------------------------------------------
# Statistics and the table
# ---------------------------------------------------------------------------------------


def fmt_s(sec):
    if sec >= 1:
        return f"{sec:.2f} s"
    if sec >= 0.01:
        return f"{sec * 1000:.0f} ms"
    return f"{sec * 1000:.1f} ms" if sec >= 0.001 else f"{sec * 1000:.2f} ms"


def fmt_kib(kib):
    return f"{kib / 1024:.1f} MB"


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


class Result:
    def __init__(self):
        self.times = {}  # (scenario, tool) -> [seconds]
        self.rss = {}  # (scenario, tool) -> [KiB]

    def add(self, scenario, tool, sec, rss=None):
        self.times.setdefault((scenario, tool), []).append(sec)
        if rss is not None:
            self.rss.setdefault((scenario, tool), []).append(rss)

    def median(self, scenario, tool):
        t = self.times.get((scenario, tool))
        return statistics.median(t) if t else None


def machine_description(server, tools):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    debian = ""
    if os.path.exists("/etc/debian_version"):
        with open("/etc/debian_version") as f:
            debian = f"Debian {f.read().strip()}, "
    versions = []
    for t in tools:
        if t.version_argv:
            out = subprocess.run(t.version_argv, capture_output=True, text=True)
            versions.append((out.stdout or out.stderr).strip().splitlines()[0])
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} × {cpu}",
        "memory": mem,
        "os": f"{debian}Linux {platform.release()}",
        "postgres": f"{server.version}, loopback TCP, fsync on, synchronous_commit on",
        "tools": versions,
        "rustc": rustc,
    }


# ---------------------------------------------------------------------------------------
# Micro-benchmarks (criterion, benches/core.rs)
# ---------------------------------------------------------------------------------------


def run_micro(logs):
    """Runs `cargo bench --bench core` and reads criterion's estimates."""
    log("micro-benchmarks: cargo bench --bench core (criterion)")
    logfile = os.path.join(logs, "criterion.log")
    with open(logfile, "w") as f:
        code = subprocess.run(["cargo", "bench", "--bench", "core", "--", "--noplot"], cwd=REPO,
                              stdout=f, stderr=subprocess.STDOUT).returncode
    if code != 0:
        die(f"cargo bench failed:\n{tail(logfile, 40)}")
    print(tail(logfile, 400), file=sys.stderr)
    out = {}
    base = os.path.join(REPO, "target", "criterion")
    for group, fn in (("core", "checksum_split_50MB"), ("core", "checksum_50MB"), ("core", "split_50MB"),
                      ("core", "discover_plan_10000")):
        d = os.path.join(base, group, fn, "new")
        try:
            with open(os.path.join(d, "estimates.json")) as f:
                est = json.load(f)
            with open(os.path.join(d, "sample.json")) as f:
                sample = json.load(f)
            with open(os.path.join(d, "benchmark.json")) as f:
                bench = json.load(f)
        except OSError as e:
            die(f"no criterion result for {group}/{fn}: {e}")
        per_iter = [t / i for t, i in zip(sample["times"], sample["iters"])]
        throughput = bench.get("throughput") or {}
        out[fn] = {"median_ns": est["median"]["point_estimate"], "min_ns": min(per_iter),
                   "max_ns": max(per_iter), "bytes": throughput.get("BytesDecimal") or throughput.get("Bytes"), "samples": len(per_iter)}
    return out


# ---------------------------------------------------------------------------------------
# Over a network (issue 15): round trips from the runs through the proxies
# ---------------------------------------------------------------------------------------


def network_report(res, labels, net):
    """The latency and TLS tables and their targets, from the runs through the proxies.
    `net` holds the scenario names, tools and RTT of main_bench. Returns (lines, targets)."""
    rtt_ms, n, lat = net["rtt_ms"], net["n"], net["lat"]
    lines, targets = [], []
    probe = {rt: statistics.median(xs) for rt, xs in net["probe"].items() if xs}
    if len(probe) < 2:
        return lines, targets
    # What the proxy adds to one round trip, measured: the divisor of every count below.
    rtt = probe[rtt_ms] - probe[0]

    def med(scen, key, rt, mode=None):
        return res.median(lat(scen, rt, mode), key)

    def paired(key, combine, *runs):
        """The median over rounds of `combine` applied to one round's times of each (scenario,
        RTT, mode) in `runs`: differences taken within a round, where a tool's runs sit side by
        side in the rotation, so that the load of the moment cancels out of them."""
        series = [res.times.get((lat(*r), key)) or [] for r in runs]
        rounds = min(len(s) for s in series)
        return statistics.median(combine(*(s[i] for s in series)) for i in range(rounds)) if rounds else None

    def ratio(a, b):
        return a / b if a is not None and b else None

    def target(text, value, shown, limit):
        state = "not measured" if value is None else ("met" if value <= limit else "**missed**")
        targets.append(f"- {text}: {shown if value is not None else '—'} — {state}")

    lines += [f"A round trip through each proxy as a client sees it, an empty query on an open session, median of "
              f"{sum(len(xs) for xs in net['probe'].values()) // 2} samples of 20 taken round by round: "
              + ", ".join(f"{rt:g} ms proxy {t * 1000:.2f} ms" for rt, t in probe.items())
              + f"; the {rtt_ms:g} ms proxy adds {rtt * 1000:.2f} ms, the RTT every round-trip count below is "
              "divided by. The proxy accepts a connection at once, so no count includes the TCP handshake, "
              "which a real network adds to every tool's every connection; it connects to the server one "
              "delay later, when a link's server would accept, so that the backend's start-up is not "
              "hidden behind the first message's delay.", ""]
    apply, noop = net["apply"], net["noop"]
    if res.times.get((lat(apply, rtt_ms), "schemagate")):
        lines += [f"| scenario | tool | RTT 0 ms | RTT {rtt_ms:g} ms | round trips | × floor at {rtt_ms:g} ms "
                  f"| × sqlx-cli at {rtt_ms:g} ms |", "|---|---|--:|--:|--:|--:|--:|"]
        rts = {}
        for scen, tools, floor, per in ((apply, net["apply_tools"], "psql_per_file", n),
                                        (noop, net["noop_tools"], "psql_read", 1)):
            for t in tools:
                t0, t2 = med(scen, t.key, 0), med(scen, t.key, rtt_ms)
                if t0 is None or t2 is None:
                    continue
                rts[(scen, t.key)] = paired(t.key, lambda a, b: b - a, (scen, 0), (scen, rtt_ms)) / rtt / per
                rf = ratio(t2, med(scen, floor, rtt_ms)) if t.key != floor else None
                rs = ratio(t2, med(scen, "sqlx", rtt_ms)) if t.kind == "schemagate" else None
                unit = " per migration" if per > 1 else ""
                lines.append(f"| {scen} | {labels[t.key]} | {fmt_s(t0)} | {fmt_s(t2)} "
                             f"| {rts[(scen, t.key)]:.{2 if per > 1 else 1}f}{unit} | {fmt_ratio(rf)} | {fmt_ratio(rs)} |")
        lines.append("")
        v = rts.get((apply, "schemagate"))
        target(f"{apply} at RTT {rtt_ms:g} ms ≤ 1.5 round trips per migration", v, f"{v:.2f}" if v else "", 1.5)
        v = ratio(med(apply, "schemagate", rtt_ms), med(apply, "psql_per_file", rtt_ms))
        target(f"{apply} at RTT {rtt_ms:g} ms ≤ 0.75× the psql floor (a transaction + history insert per file)",
               v, fmt_ratio(v), 0.75)
        v = ratio(med(apply, "schemagate", rtt_ms), med(apply, "sqlx", rtt_ms))
        target(f"{apply} at RTT {rtt_ms:g} ms ≤ 0.8× sqlx-cli", v, fmt_ratio(v), 0.8)
        v = ratio(med(noop, "schemagate", rtt_ms), med(noop, "psql_read", rtt_ms))
        target(f"{noop} at RTT {rtt_ms:g} ms ≤ 1.0× psql reading the same history", v, fmt_ratio(v), 1.0)

    tls = net["tls"]
    if res.times.get((lat(tls, rtt_ms, "tls"), "schemagate")):
        lines += [f"| scenario | tool | plain, RTT {rtt_ms:g} ms | TLS, RTT {rtt_ms:g} ms | TLS, RTT 0 ms "
                  f"| handshake round trips: (t_TLS − t_plain) ÷ RTT at {rtt_ms:g} ms "
                  "| of which network: (Δ_TLS − Δ_plain) ÷ RTT | no-op round trips with TLS: Δ_TLS ÷ RTT |",
                  "|---|---|--:|--:|--:|--:|--:|--:|"]
        hs, hs_net = {}, {}
        for t in net["tls_tools"]:
            p0, p2 = med(tls, t.key, 0, "plain"), med(tls, t.key, rtt_ms, "plain")
            s0, s2 = med(tls, t.key, 0, "tls"), med(tls, t.key, rtt_ms, "tls")
            if None in (p0, p2, s0, s2):
                continue
            modes = [(tls, 0, "plain"), (tls, rtt_ms, "plain"), (tls, 0, "tls"), (tls, rtt_ms, "tls")]
            hs[t.key] = paired(t.key, lambda a, b, c, d: d - b, *modes) / rtt
            net_only = hs_net[t.key] = paired(t.key, lambda a, b, c, d: (d - c) - (b - a), *modes) / rtt
            total = paired(t.key, lambda a, b, c, d: d - c, *modes) / rtt
            lines.append(f"| {tls} | {labels[t.key]} | {fmt_s(p2)} | {fmt_s(s2)} | {fmt_s(s0)} | {hs[t.key]:.1f} "
                         f"| {net_only:.1f} | {total:.1f} |")
        lines.append("")
        v = hs.get("schemagate")
        target(f"TLS verify-full no-op at RTT {rtt_ms:g} ms: the handshake ≤ 4 round trips", v,
               f"{v:.1f} (the network's share alone: {hs_net['schemagate']:.1f})" if v is not None else "", 4.0)
    return lines, targets


# ---------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------


def main_bench(args):
    logs_keep = args.keep
    workdir = tempfile.mkdtemp(prefix="sg-bench-")
    if not logs_keep:
        atexit.register(shutil.rmtree, workdir, True)
    logs = os.path.join(workdir, "logs")
    os.mkdir(logs)

    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        die(f"{binary} is not an executable (make bench builds it)")

    build_launcher(workdir)
    micro = None if args.no_micro else run_micro(logs)

    tools = []
    sg = Tool("schemagate", "**schemagate**", "schemagate", [binary, "version"], binary)
    tools.append(sg)
    skipped = []
    if args.peers:
        for key, crate, version, features, exe in (
            ("sqlx", "sqlx-cli", SQLX_VERSION, "postgres,rustls", "sqlx"),
            ("refinery", "refinery_cli", REFINERY_VERSION, "postgresql", "refinery"),
        ):
            path, why = ensure_peer(key, crate, version, features, exe, logs)
            if path:
                label = {"sqlx": f"sqlx-cli {version}", "refinery": f"refinery_cli {version}"}[key]
                tools.append(Tool(key, label, key, [path, "--version"], path))
            else:
                log(f"skipping {crate}: {why}")
                skipped.append(f"{crate} {version} is not compared: {why}")
    else:
        skipped.append("peers skipped (PEERS=0)")
    peers = [t for t in tools if t.kind in ("sqlx", "refinery")]

    server = Server(workdir)
    if "tls" in args.scenarios:
        server.enable_tls()
    server.start()
    psql = server.psql
    psql_tool = Tool("psql", "psql", "psql", [psql, "--version"], psql)
    desc = machine_description(server, tools + [psql_tool])

    termlog = os.path.join(workdir, "termination-log")
    ctx = {"sg_env": {"SCHEMAGATE_TERMINATION_LOG": termlog}}

    n_big, n_small = args.files, max(1, args.files // 10)
    log(f"generating {n_big} migrations")
    big = write_sets(workdir, n_big)
    small_dir = os.path.join(workdir, "small")
    os.mkdir(small_dir)
    small = write_sets(small_dir, n_small)

    floor_one = Tool("psql_one_tx", "floor: psql, all files in one transaction", "psql_one_tx")
    floor_per = Tool("psql_per_file", "floor: psql, a transaction + history insert per file", "psql_per_file")
    floor_read = Tool("psql_read", "floor: psql reading the same history", "psql_read")
    floor_sel = Tool("psql_select1", "floor: psql `select 1`", "psql_select1")
    sg_quiet = Tool("schemagate_warn", "schemagate, SCHEMAGATE_LOG=warn", "schemagate", None, binary)
    sg_quiet.extra_env = {"SCHEMAGATE_LOG": "warn"}
    extra = []
    if args.compare:
        label, _, path = args.compare.partition("=")
        path = os.path.abspath(path)
        extra = [Tool("schemagate_cmp", f"schemagate, {label}", "schemagate", [path, "version"], path)]

    res = Result()
    runs = args.runs
    load_start = os.getloadavg()
    started_at = time.monotonic()
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        name = f"{prefix}_{counter[0]}"
        server.create_db(name)
        return name

    def applied_db(prefix, tool, sets, n):
        """A database into which `tool` has applied `sets`, for the runs with nothing to do."""
        db = fresh(f"{prefix}_{tool.key}")
        argv, env = apply_argv(tool, server, sets, db, ctx)
        run_once(argv, env, logs, f"setup-{prefix}-{tool.key}")
        if applied_count(tool, server, db) != n:
            die(f"setting up the {prefix} database for {tool.label} failed")
        server.sql("VACUUM ANALYZE", db)
        return db

    def timed_apply(scenario, tool, sets, n, expect, via=None):
        db = fresh("a")
        server.checkpoint()
        argv, env = apply_argv(tool, via or server, sets, db, ctx)
        sec, rss = run_once(argv, env, logs, f"{scenario}-{tool.key}")
        got = applied_count(tool, server, db)
        if got != expect:
            raise Failed(f"{tool.label} applied {got} of {expect} migrations")
        server.drop_db(db)
        return sec, rss

    # -- apply N pending (1000, then 100), interleaved run by run -----------------------
    apply_tools = [sg, floor_per, floor_one] + extra + peers
    for scenario, sets, n in ((f"apply {n_small} pending", small, n_small), (f"apply {n_big} pending", big, n_big)):
        if "apply" not in args.scenarios:
            break
        # A warm-up round that is not counted: page cache, catalog caches, binaries.
        if n == n_small:
            for tool in apply_tools:
                timed_apply(scenario, tool, sets, n, n)
        for r in range(runs):
            for tool in rotated(apply_tools, r):
                sec, rss = timed_apply(scenario, tool, sets, n, n)
                res.add(scenario, tool.key, sec, rss)
            log(f"{scenario}: run {r + 1}/{runs}: " + ", ".join(
                f"{t.key} {fmt_s(res.times[(scenario, t.key)][-1])}" for t in apply_tools))

    # -- no-op against N applied ------------------------------------------------------
    noop_db = {}
    for tool in [sg] + peers if "noop" in args.scenarios or "many" in args.scenarios else []:
        noop_db[tool.key] = applied_db("noop", tool, big, n_big)
    for key in ("schemagate_warn", "schemagate_cmp", "psql_read", "psql_select1") if noop_db else ():
        noop_db[key] = noop_db["schemagate"]
    server.checkpoint()
    noop_tools = [sg, floor_read, floor_sel, sg_quiet] + extra + peers
    scenario = f"no-op, {n_big} applied"
    noop_runs = max(runs, args.noop_runs)
    for tool in noop_tools if "noop" in args.scenarios else []:  # warm-up
        argv, env = noop_argv(tool, server, big, noop_db[tool.key], ctx)
        run_once(argv, env, logs, f"noop-{tool.key}")
    for r in range(noop_runs if "noop" in args.scenarios else 0):
        for tool in rotated(noop_tools, r):
            argv, env = noop_argv(tool, server, big, noop_db[tool.key], ctx)
            settle()
            sec, rss = run_once(argv, env, logs, f"noop-{tool.key}")
            res.add(scenario, tool.key, sec, rss)
    if "noop" in args.scenarios:
        log(f"{scenario}: " + ", ".join(f"{t.key} {fmt_s(res.median(scenario, t.key))}" for t in noop_tools))
    # Nothing pending must mean no lock: schemagate's no-op run leaves no trace in the log.

    # -- 50 runners at once against an up-to-date database ---------------------------
    many = args.many
    scenario_many = f"{many} runners at once, up to date"
    many_tools = [sg, floor_read] + extra + peers
    for tool in many_tools if "many" in args.scenarios else []:  # warm-up
        argv, env = noop_argv(tool, server, big, noop_db[tool.key], ctx)
        run_many(argv, env, logs, many)
    for r in range(runs if "many" in args.scenarios else 0):
        for tool in rotated(many_tools, r):
            argv, env = noop_argv(tool, server, big, noop_db[tool.key], ctx)
            settle()
            res.add(scenario_many, tool.key, run_many(argv, env, logs, many))
    if "many" in args.scenarios:
        log(f"{scenario_many}: " + ", ".join(f"{t.key} {fmt_s(res.median(scenario_many, t.key))}" for t in many_tools))

    # -- over a network: through a delaying proxy at RTT 0 and rtt (issue 15) -------------
    # Every run of these goes through a proxy, the baseline included, so that t_rtt - t_0 is
    # the network's share alone: round trips = (t_rtt - t_0) / rtt.
    rtt_ms = args.rtt_ms
    rtts = (0, rtt_ms)
    lat_apply = f"apply {n_small} pending"
    lat_noop = f"no-op, {n_small} applied"
    lat_tls = "no-op, TLS verify-full"
    lat_tools = [sg, floor_per] + extra + peers
    lat_noop_tools = [sg, floor_read] + extra + peers
    tls_tools = [sg, floor_read] + extra
    # The round trip each proxy really adds, sampled every round: the proxy's sleeps overshoot a
    # little, more so when the cores are busy, and round trips are counted against what it adds.
    probe = {rt: [] for rt in rtts}

    def sample_rtt():
        for rt in rtts:
            probe[rt].append(probe_rtt(proxies[rt].port, 20))

    def lat(scen, rt, mode=None):
        return f"{scen} @ {mode + ', ' if mode else ''}RTT {rt:g} ms"

    if "latency" in args.scenarios or "tls" in args.scenarios:
        proxies = {rt: Proxy(server, rt) for rt in rtts}
        via = {rt: Via(server, proxies[rt].port) for rt in rtts}
        sample_rtt()
        log("round trip through the proxies, an empty query on an open session: " + ", ".join(
            f"RTT {rt:g} ms proxy {probe[rt][-1] * 1000:.2f} ms" for rt in rtts))

    if "latency" in args.scenarios:
        items = [(t, rt) for t in lat_tools for rt in rtts]
        for tool, rt in items:  # warm-up, not counted
            timed_apply(lat_apply, tool, small, n_small, n_small, via[rt])
        for r in range(runs):
            sample_rtt()
            for tool, rt in rotated(items, r):
                sec, _ = timed_apply(lat_apply, tool, small, n_small, n_small, via[rt])
                res.add(lat(lat_apply, rt), tool.key, sec)
            log(f"{lat_apply} through the proxy: run {r + 1}/{runs}: " + ", ".join(
                f"{t.key} {fmt_s(res.times[(lat(lat_apply, rt), t.key)][-1])} @{rt:g}" for t, rt in items))

        lat_db = {tool.key: applied_db("latency", tool, small, n_small) for tool in [sg] + peers}
        for key in ("psql_read", "schemagate_cmp"):
            lat_db[key] = lat_db["schemagate"]
        server.checkpoint()
        items = [(t, rt) for t in lat_noop_tools for rt in rtts]
        for tool, rt in items:  # warm-up
            argv, env = noop_argv(tool, via[rt], small, lat_db[tool.key], ctx)
            run_once(argv, env, logs, f"lat-noop-{tool.key}")
        for r in range(max(runs, args.noop_runs)):
            sample_rtt()
            for tool, rt in rotated(items, r):
                argv, env = noop_argv(tool, via[rt], small, lat_db[tool.key], ctx)
                settle()
                sec, _ = run_once(argv, env, logs, f"lat-noop-{tool.key}")
                res.add(lat(lat_noop, rt), tool.key, sec)
        log(f"{lat_noop} through the proxy: " + ", ".join(
            f"{t.key} {fmt_s(res.median(lat(lat_noop, rt), t.key))} @{rt:g}" for t, rt in items))

    if "tls" in args.scenarios:
        # The plain runs are measured again here, in the same rotation as the TLS ones, so that
        # the handshake's share is a difference within one interleaved set of runs.
        tls_env = {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": server.ca_cert}
        tls_via = {("tls", rt): Via(server, proxies[rt].port, tls_env) for rt in rtts}
        tls_via.update({("plain", rt): via[rt] for rt in rtts})
        tls_db = applied_db("tls", sg, small, n_small)
        server.checkpoint()
        items = [(t, mode, rt) for t in tls_tools for mode in ("plain", "tls") for rt in rtts]
        # verify-full never falls back to plaintext, in libpq or in schemagate: a run that
        # exits 0 ran on TLS.
        for tool, mode, rt in items:  # warm-up
            argv, env = noop_argv(tool, tls_via[(mode, rt)], small, tls_db, ctx)
            run_once(argv, env, logs, f"tls-{tool.key}")
        for r in range(max(runs, args.noop_runs)):
            sample_rtt()
            for tool, mode, rt in rotated(items, r):
                argv, env = noop_argv(tool, tls_via[(mode, rt)], small, tls_db, ctx)
                settle()
                sec, _ = run_once(argv, env, logs, f"tls-{tool.key}")
                res.add(lat(lat_tls, rt, mode), tool.key, sec)
        log(f"{lat_tls} through the proxy: " + ", ".join(
            f"{t.key} {mode} {fmt_s(res.median(lat(lat_tls, rt, mode), t.key))} @{rt:g}"
            for t, mode, rt in items))

    # -- version cold start ------------------------------------------------------------
    scenario_ver = "`version` cold start"
    ver_tools = [sg] + extra + peers + [psql_tool]
    ver_argv = {t.key: t.version_argv for t in ver_tools}
    for r in range(args.version_runs + 5 if "version" in args.scenarios else 0):
        for tool in rotated(ver_tools, r):
            sec, rss = run_once(ver_argv[tool.key], dict(BASE_ENV), logs, f"ver-{tool.key}")
            if r >= 5:  # the first rounds warm up
                res.add(scenario_ver, tool.key, sec, rss)
    if "version" in args.scenarios:
        log(f"{scenario_ver}: " + ", ".join(f"{t.key} {fmt_s(res.median(scenario_ver, t.key))}" for t in ver_tools))

    server.stop()
    load_end = os.getloadavg()
    minutes = (time.monotonic() - started_at) / 60

    # -- the table ---------------------------------------------------------------------
    labels = {t.key: t.label for t in [sg, sg_quiet, floor_one, floor_per, floor_read, floor_sel, psql_tool] + extra + peers}
    floors = {
        f"apply {n_big} pending": "psql_per_file",
        f"apply {n_small} pending": "psql_per_file",
        scenario: "psql_read",
        scenario_many: "psql_read",
    }
    order = [
        (f"apply {n_big} pending", apply_tools),
        (f"apply {n_small} pending", apply_tools),
        (scenario, noop_tools),
        (scenario_many, many_tools),
        (scenario_ver, ver_tools),
    ]
    lines = ["| scenario | tool | median | min | max | × floor | × best peer | peak RSS |",
             "|---|---|--:|--:|--:|--:|--:|--:|"]
    ratios = {}
    for scen, ts in order:
        floor = floors.get(scen)
        peer_meds = [res.median(scen, p.key) for p in peers if res.median(scen, p.key) is not None]
        best_peer = min(peer_meds) if peer_meds else None
        for t in ts:
            times = res.times.get((scen, t.key))
            if not times:
                continue
            med = statistics.median(times)
            rf = med / res.median(scen, floor) if floor and t.key != floor else None
            rp = med / best_peer if best_peer and t.kind not in ("sqlx", "refinery") and not t.key.startswith("psql") else None
            ratios[(scen, t.key)] = (rf, rp)
            rss = res.rss.get((scen, t.key))
            rss_s = fmt_kib(statistics.median(rss)) if rss else "—"
            lines.append(f"| {scen} | {labels[t.key]} | {fmt_s(med)} | {fmt_s(min(times))} | {fmt_s(max(times))} "
                         f"| {fmt_ratio(rf)} | {fmt_ratio(rp)} | {rss_s} |")
    sizes = [(sg.label, os.path.getsize(binary), "static" if b"ld-linux" not in open(binary, "rb").read(4096) else "dynamic")]
    for p in peers:
        sizes.append((p.label, os.path.getsize(p.binary), "dynamic, glibc"))
    sizes.append(("psql", os.path.getsize(psql), "dynamic, + libpq"))
    best_size = min((s for lab, s, _ in sizes if lab not in (sg.label, "psql")), default=None)
    for lab, size, kind in sizes:
        rp = size / best_size if best_size and lab == sg.label else None
        lines.append(f"| binary size | {lab} ({kind}) | {size / 1e6:.1f} MB | | | | {fmt_ratio(rp)} | |")
    if micro:
        cs = micro["checksum_split_50MB"]
        for key, label in (("checksum_split_50MB", "checksum + split"), ("checksum_50MB", "checksum alone"),
                           ("split_50MB", "split alone")):
            m = micro[key]
            mbps = lambda ns, m=m: m["bytes"] / 1e6 / (ns / 1e9)  # noqa: E731
            lines.append(f"| {label}, {m['bytes'] / 1e6:.0f} MB script (criterion, CPU time) | schemagate core "
                         f"| {mbps(m['median_ns']):.0f} MB/s | {mbps(m['max_ns']):.0f} MB/s | {mbps(m['min_ns']):.0f} MB/s | | | |")
        dp = micro["discover_plan_10000"]
        lines.append(f"| discover + plan, 10,000 files (criterion, CPU time) | schemagate core | {dp['median_ns'] / 1e6:.1f} ms "
                     f"| {dp['min_ns'] / 1e6:.1f} ms | {dp['max_ns'] / 1e6:.1f} ms | | | |")
    table = "\n".join(lines)

    # -- targets -------------------------------------------------------------------------
    def r(scen, key, i):
        v = ratios.get((scen, key))
        return None if v is None else v[i]

    targets = []

    def target(text, value, ok):
        state = "n/a" if value is None else ("met" if ok else "**missed**")
        targets.append(f"- {text}: {value if value is not None else 'not measured'} — {state}")

    v = r(scenario, "schemagate", 0)
    target("no-op ≤ 1.0× psql reading the same history", fmt_ratio(v) if v else None, v is not None and v <= 1.0)
    sq = res.median(scenario, "sqlx")
    v = res.median(scenario, "schemagate") / sq if sq else None
    target("no-op ≤ 0.7× sqlx-cli", fmt_ratio(v) if v else None, v is not None and v <= 0.7)
    v = r(f"apply {n_big} pending", "schemagate", 0)
    target(f"apply {n_big} ≤ 1.05× psql, a transaction + history insert per file", fmt_ratio(v) if v else None,
           v is not None and v <= 1.05)
    v = res.median(scenario_many, "schemagate")
    target(f"{many} runners at once, the last exits within 1 s", fmt_s(v) if v else None, v is not None and v <= 1.0)
    rss_all = [x for (s, k), xs in res.rss.items() if k == "schemagate" for x in xs]
    sq_rss = [x for (s, k), xs in res.rss.items() if k == "sqlx" and s != scenario_ver for x in xs]
    peak = max(rss_all) if rss_all else None
    target("peak RSS ≤ sqlx-cli's (6.9 MB in the issue" + (f"; {fmt_kib(max(sq_rss))} here)" if sq_rss else ")"),
           fmt_kib(peak) if peak else None, peak is not None and peak <= (max(sq_rss) if sq_rss else 6.9 * 1024))
    v = res.median(scenario_ver, "schemagate")
    target("`version` cold start < 2 ms", fmt_s(v) if v else None, v is not None and v < 0.002)
    if micro:
        m = micro["checksum_split_50MB"]
        v = m["bytes"] / 1e6 / (m["median_ns"] / 1e9)
        target("checksum + split ≥ 500 MB/s", f"{v:.0f} MB/s", v >= 500)
        v = micro["discover_plan_10000"]["median_ns"] / 1e6
        target("discover + plan of 10,000 files < 100 ms", f"{v:.1f} ms", v < 100)

    notes = [
        f"{runs} runs of every scenario except no-op ({noop_runs}) and cold start ({args.version_runs}), "
        "the tools interleaved run by run, each round starting one tool later (A B C, B C A, C A B …, so that "
        "no tool always follows the same one), after one uncounted warm-up round "
        f"(apply {n_small}, before apply {n_big}); runs that connect to the server start 20 ms after the "
        "previous one ended, once the server has ended its session; median, min and max of the wall time from "
        "fork to wait4 in a small static launcher (bench/spawn.c); peak RSS is that process's ru_maxrss (median over the runs).",
        f"Each migration: a table, an index and one INSERT of 10 rows ({n_big} files, 3 statements each). "
        "Every apply runs into a fresh database (CREATE DATABASE … TEMPLATE template0, then CHECKPOINT), and "
        "the result is checked (history rows or tables) before the database is dropped.",
        "Floors: psql is the real binary (`" + psql + "`, not Debian's Perl wrapper), one process per run, "
        "`-X -q -v ON_ERROR_STOP=1 -f`. \"A transaction + history insert per file\": `BEGIN; <file>; INSERT INTO "
        "schemagate_history …; COMMIT;` per file, after creating the history table, all in one psql process. "
        "\"Reading the same history\": `psql -X -c` with the query schemagate sends, against schemagate's database.",
        "× floor: median ÷ the floor's median (apply: per-file floor; no-op and runners: psql reading the history). "
        "× best peer: median ÷ the lower peer median in the same scenario.",
        f"{many} runners: all forked at once by the launcher; wall time until the last exits; every exit code "
        "checked.",
        "schemagate runs with its defaults (JSON log lines at info on stderr, written to a file; a termination "
        "log file), PGSSLMODE=disable for every tool.",
        "Micro-benchmarks (benches/core.rs): criterion measuring the process's CPU time "
        "(CLOCK_PROCESS_CPUTIME_ID), so that time spent waiting for one of the 2 shared cores does not count; "
        "MB/s are 10^6 bytes per CPU second; min and max are the extreme samples.",
    ]
    net_lines, net_targets = network_report(res, labels, {
        "rtt_ms": rtt_ms, "n": n_small, "lat": lat, "probe": probe, "apply": lat_apply, "noop": lat_noop,
        "tls": lat_tls, "apply_tools": lat_tools, "noop_tools": lat_noop_tools, "tls_tools": tls_tools})
    if net_lines:
        notes.append(
            "Over a network (issue 15): every run of these scenarios connects through bench/delay_proxy.py, started "
            f"by the bench in front of the same server. One proxy holds every chunk {rtt_ms / 2:g} ms each way "
            f"(RTT {rtt_ms:g} ms), the other 0 ms, the baseline: both pay the proxy's own thread hand-offs, so their "
            "difference is network time alone. A chunk waits for its own delay only, in order per direction (no "
            "bandwidth limit); TCP_NODELAY on every socket; the proxy runs at real-time priority where it may, so "
            "that its wake-ups do not queue for a busy core. Round trips = (t_RTT − t_0) ÷ the RTT the proxy adds as "
            f"measured (÷ {n_small} for apply: per migration), the median over rounds of each round's difference. "
            "Each (tool, RTT) pair is one entry of the rotation, so a tool's two runs are mostly neighbours. A tool "
            "that works while it waits for the server (schemagate reads and checksums its scripts while it connects) "
            "hides part of the network time behind that work: a count is what the network costs in wall time, which "
            "can be less than the round trips on the wire. Apply runs into a fresh database each time; no-op runs "
            f"against {n_small} applied. TLS: ssl=on with a CA and an RSA 2048 server certificate made by openssl "
            "for this run; PGSSLMODE=verify-full and PGSSLROOTCERT for schemagate and psql, connecting to 127.0.0.1; "
            "the plain runs of that table are measured again in the same rotation. The first column of handshake "
            "round trips also holds the handshake's CPU time (both sides' signatures, loading the CA); the second "
            "takes the same difference at RTT 0 ms out.")
    notes += skipped

    md = [
        "# schemagate benchmarks",
        "",
        f"Run {desc['date']} by `make bench` (bench/run.py).",
        "",
        f"- Machine: {desc['cpu']}, {desc['memory']}, {desc['os']}",
        f"- PostgreSQL: {desc['postgres']}",
        f"- Load average (1, 5, 15 min) when the runs began: {', '.join(f'{x:.2f}' for x in load_start)}; "
        f"when they ended (the {many}-runner scenario itself raises it): {', '.join(f'{x:.2f}' for x in load_end)}; "
        f"the end-to-end runs took {minutes:.0f} min "
        "(other work on the machine, if any, shares its 2 cores: only the ratios within this run mean anything)",
        f"- Tools: {'; '.join(desc['tools'])}; built with {desc['rustc']}",
        f"- schemagate binary: `{os.path.relpath(binary, REPO) if binary.startswith(REPO) else binary}`",
        "",
        table,
        "",
        "## Targets (issue 6)",
        "",
        *targets,
        "",
        *([f"## Over a network: RTT {rtt_ms:g} ms through a delaying proxy (issue 15)", "", *net_lines,
           "Targets (issue 15):", "", *net_targets, ""] if net_lines else []),
        "## How it was measured",
        "",
        *[f"- {n}" for n in notes],
        "",
    ]
    text = "\n".join(md)
    print(table)
    print()
    print("\n".join(targets))
    if net_lines:
        print()
        print("\n".join(net_lines))
        print("\n".join(net_targets))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
        log(f"written to {args.out}")
    if logs_keep:
        log(f"logs kept in {logs}")


def main_shell(args):
    workdir = tempfile.mkdtemp(prefix="sg-bench-")
    atexit.register(shutil.rmtree, workdir, True)
    server = Server(workdir)
    server.start()
    if args.files:
        sets = write_sets(workdir, args.files)
        os.environ["BENCH_FLYWAY"], os.environ["BENCH_SQLX"] = sets["flyway"], sets["sqlx"]
        os.environ["BENCH_PER_FILE"], os.environ["BENCH_ONE_TX"] = sets["per_file"], sets["one_tx"]
    os.environ.update(server.env())
    os.environ["BENCH_PSQL"] = server.psql
    os.environ["BENCH_URL"] = server.url("postgres")
    code = subprocess.run(args.command).returncode
    server.stop()
    return code


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    sh = sub.add_parser("shell", help="start a bench server and run a command with PG* set")
    sh.add_argument("--files", type=int, default=0, help="also generate N migrations (BENCH_FLYWAY, ...)")
    sh.add_argument("command", nargs=argparse.REMAINDER)
    p.add_argument("--bin", default=os.path.join(REPO, "target/release/schemagate"))
    p.add_argument("--peers", type=int, default=1, help="1: compare sqlx-cli and refinery_cli (built when absent)")
    p.add_argument("--runs", type=int, default=11)
    p.add_argument("--noop-runs", type=int, default=31)
    p.add_argument("--version-runs", type=int, default=201)
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--many", type=int, default=50)
    p.add_argument("--no-micro", action="store_true", help="skip the criterion benches")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help=f"comma-separated subset of {','.join(SCENARIOS)} (for development)")
    p.add_argument("--rtt-ms", type=float, default=2.0,
                   help="the round trip the latency and tls scenarios add through their proxy")
    p.add_argument("--compare", default="", metavar="LABEL=PATH",
                   help="also run another schemagate binary (e.g. the previous commit's) in every scenario")
    p.add_argument("--out", default=os.path.join(REPO, "bench/results/latest.md"))
    p.add_argument("--keep", action="store_true", help="keep the work directory and its logs")
    args = p.parse_args()
    args.scenarios = [x.strip() for x in args.scenarios.split(",") if x.strip()]
    unknown = [x for x in args.scenarios if x not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario {', '.join(unknown)}; choose from {','.join(SCENARIOS)}")

    def on_signal(sig, _frame):
        sys.exit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.cmd == "shell":
        if args.command and args.command[0] == "--":
            args.command = args.command[1:]
        sys.exit(main_shell(args))
    try:
        main_bench(args)
    except Failed as e:
        die(str(e))


if __name__ == "__main__":
    main()
