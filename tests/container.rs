//! The image and the static binary, run the way a Helm hook Job, an initContainer and `docker
//! run` run them: hardened containers against a harness-started PostgreSQL on the host, and
//! the static binary as PID 1 of a new PID namespace where no Docker engine runs.
//!
//! What these tests need is built on first use, once per process: `make -s static` (the musl
//! binary) and `make -s image-test` (`schemagate:test`, FROM scratch, because this machine's
//! engine can pull nothing). A missing Docker engine, `unshare` or `chroot` fails the tests,
//! with `CI=true` or without: they never skip.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

const IMAGE: &str = "schemagate:test";
const T: &str = "schemagate_history";
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const PASSWORD: &str = "s3cret-pw with spaces;'\\";
/// How Kubernetes' restricted Pod Security Standard and a careful `docker run` start it.
const HARDENED: &[&str] = &[
    "--read-only",
    "--user",
    "65532:65532",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--network",
    "host",
];

// ---------------------------------------------------------------------------------------
// Setup: build what the tests need, or fail saying what to run
// ---------------------------------------------------------------------------------------

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn fail_setup(what: &str, detail: &str) -> ! {
    let why = if in_ci() {
        "CI=true: a missing engine or tool is a failure, never a skip"
    } else {
        "these tests fail rather than skip without it"
    };
    panic!(
        "cannot {what} for the container tests ({why}):\n{detail}\n\
         `make image-test` builds the static binary and schemagate:test; `make test` runs everything."
    );
}

/// Writes straight to the process's stderr: libtest captures `println!`/`eprintln!` of
/// passing tests, and the sizes belong in every CI log.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "container tests: {line}");
}

/// Runs `make <target>` in the environment `make test` started with. cargo gives a test the
/// variables it gives a build script (`CARGO_MANIFEST_DIR`, `OUT_DIR`, …) and the ones our
/// build script sets (`SCHEMAGATE_COMMIT`, `SCHEMAGATE_TARGET`); build scripts track some of
/// them (ring `CARGO_MANIFEST_DIR` and `OUT_DIR`, ours `SCHEMAGATE_COMMIT`), so with them the
/// static build that `make test` has just finished would be rebuilt from ring up (77 s here).
fn make(target: &str) -> Result<(), String> {
    let mut cmd = Command::new("make");
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let from_cargo = (key.starts_with("CARGO_")
            && !matches!(&*key, "CARGO_HOME" | "CARGO_TARGET_DIR"))
            || matches!(&*key, "OUT_DIR" | "SCHEMAGATE_COMMIT" | "SCHEMAGATE_TARGET");
        if from_cargo {
            cmd.env_remove(&*key);
        }
    }
    let status = cmd
        .args(["-s", "-C", ROOT, target])
        .status()
        .map_err(|e| format!("cannot run make: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`make {target}` failed ({status}); its output is above"
        ))
    }
}

/// The musl binary, built by `make static` once per process.
fn static_binary() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BIN.get_or_init(|| {
        make("static")?;
        let out = Command::new("make")
            .args(["-s", "-C", ROOT, "print-static-binary"])
            .output()
            .map_err(|e| format!("cannot run make: {e}"))?;
        let path = Path::new(ROOT).join(String::from_utf8_lossy(&out.stdout).trim());
        let size = fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        report(&format!(
            "static binary {} is {size} bytes ({:.2} MB)",
            path.display(),
            mb(size)
        ));
        Ok(path)
    });
    match built {
        Ok(p) => p,
        Err(e) => fail_setup("build the static binary", e),
    }
}

/// `schemagate:test`, built by `make image-test` once per process.
fn image() -> &'static str {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let engine = Command::new("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .output()
            .map_err(|e| format!("no docker command ({e}); install Docker Engine"))?;
        if !engine.status.success() {
            return Err(format!(
                "no Docker engine answers `docker version`:\n{}",
                String::from_utf8_lossy(&engine.stderr)
            ));
        }
        let started = Instant::now();
        make("image-test")?;
        report(&format!(
            "make image-test took {:.1} s (engine {})",
            started.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&engine.stdout).trim()
        ));
        Ok(())
    });
    match built {
        Ok(()) => IMAGE,
        Err(e) => fail_setup("build schemagate:test", e),
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

// ---------------------------------------------------------------------------------------
// Running containers
// ---------------------------------------------------------------------------------------

/// The docker client, with what it needs from this environment (the harness clears the rest).
fn docker() -> Sg {
    with_docker_env(Sg::new("docker"))
}

fn with_docker_env(sg: Sg) -> Sg {
    let mut sg = sg.no_termination_log().timeout(Duration::from_secs(120));
    for key in [
        "HOME",
        "DOCKER_HOST",
        "DOCKER_CONFIG",
        "DOCKER_CONTEXT",
        "DOCKER_CERT_PATH",
        "DOCKER_TLS_VERIFY",
        "XDG_RUNTIME_DIR",
    ] {
        if let Some(v) = std::env::var_os(key) {
            sg = sg.env(key, v);
        }
    }
    sg
}

/// One `docker run --rm` of an image, hardened as Kubernetes' restricted profile would run it.
struct Container {
    name: String,
    image: String,
    env: Vec<(String, String)>,
    volumes: Vec<String>,
    args: Vec<String>,
    entrypoint: Option<String>,
}

/// Removes the container if a failing test leaves it behind (`--rm` covers the normal end).
struct Removal(String);

impl Drop for Removal {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.0])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

impl Container {
    fn new() -> Container {
        Container::of(image())
    }
    fn of(image: &str) -> Container {
        Container {
            name: unique_name("sg"),
            image: image.to_string(),
            env: vec![
                // Bounds a container that a failing test leaves running.
                ("SCHEMAGATE_DEADLINE".into(), "45s".into()),
                // The release, as the chart's hook Job names it: the bundled example's
                // contract script (sql/V6) runs once no session of an older `shop` is
                // connected — none is, in these tests — after one look, not two.
                ("SCHEMAGATE_APP".into(), "shop".into()),
                ("SCHEMAGATE_APP_VERSION".into(), "1.1".into()),
                ("SCHEMAGATE_CONTRACT_SETTLE".into(), "0s".into()),
            ],
            volumes: Vec::new(),
            args: Vec::new(),
            entrypoint: None,
        }
    }
    /// `--entrypoint`: what a manifest's `command:` replaces.
    fn entrypoint(mut self, program: &str) -> Container {
        self.entrypoint = Some(program.to_string());
        self
    }
    fn env(mut self, key: &str, value: impl ToString) -> Container {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
        self
    }
    fn envs(mut self, vars: Vec<(String, String)>) -> Container {
        for (k, v) in vars {
            self = self.env(&k, v);
        }
        self
    }
    fn env_remove(mut self, key: &str) -> Container {
        self.env.retain(|(k, _)| k != key);
        self
    }
    fn volume(mut self, host: &Path, inside: &str, read_only: bool) -> Container {
        let ro = if read_only { ":ro" } else { "" };
        self.volumes
            .push(format!("{}:{inside}{ro}", host.display()));
        self
    }
    fn arg(mut self, arg: &str) -> Container {
        self.args.push(arg.to_string());
        self
    }
    fn sg(&self) -> Sg {
        let mut sg = docker().args(["run", "--rm", "--name", &self.name]);
        sg = sg.args(HARDENED);
        for (k, v) in &self.env {
            sg = sg.arg("-e").arg(format!("{k}={v}"));
        }
        for v in &self.volumes {
            sg = sg.arg("-v").arg(v);
        }
        if let Some(e) = &self.entrypoint {
            sg = sg.arg("--entrypoint").arg(e);
        }
        sg.arg(&self.image).args(&self.args)
    }
    fn run(self) -> Outcome {
        let _removal = Removal(self.name.clone());
        self.sg().run()
    }
    fn spawn(self) -> (Running, Removal) {
        let running = self.sg().spawn();
        (running, Removal(self.name))
    }
}

/// The PG* settings of a harness database as a container on the host network sees them.
fn pg_env(db: &TestDb) -> Vec<(String, String)> {
    let mut env = db.env();
    env.push(("SCHEMAGATE_LOG_FORMAT".into(), "json".into()));
    env
}

/// Opens a host folder to the container's UID 65532, as a volume's permissions would.
fn readable_by_all(path: &Path) {
    let meta = fs::symlink_metadata(path).unwrap();
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = if meta.is_dir() { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    if meta.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            readable_by_all(&entry.unwrap().path());
        }
    }
}

/// A folder the container may write its termination message into.
fn termination_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("sg-termination-")
        .tempdir()
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

fn history_versions(db: &TestDb) -> Vec<Option<String>> {
    db.history(T)
        .into_iter()
        .map(|r| {
            assert!(r.success, "a failed row: {r:?}");
            r.version
        })
        .collect()
}

/// The history rows that `sql/` (bundled at /migrations) gives an empty database, in rank
/// order: its versions in order, then one versionless row per repeatable.
fn bundled() -> Vec<Option<String>> {
    let mut versions: Vec<Vec<u64>> = Vec::new();
    let mut repeatables = 0;
    for entry in fs::read_dir(Path::new(ROOT).join("sql")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("R__") && name.ends_with(".sql") {
            repeatables += 1;
        } else if let Some(v) = name.strip_prefix('V').and_then(|n| n.split_once("__")) {
            versions.push(v.0.split(['.', '_']).map(|p| p.parse().unwrap()).collect());
        }
    }
    versions.sort();
    let text = |v: &Vec<u64>| v.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
    let mut rows: Vec<Option<String>> = versions.iter().map(|v| Some(text(v))).collect();
    rows.extend(std::iter::repeat_n(None, repeatables));
    rows
}

/// `bundled()` with one more version, higher than all of them, applied before the repeatables.
fn bundled_and(version: &str) -> Vec<Option<String>> {
    let mut rows = bundled();
    let at = rows.iter().filter(|v| v.is_some()).count();
    rows.insert(at, some(version));
    rows
}

fn slow_scripts() -> tempfile::TempDir {
    let dir = migrations_dir(&[
        ("V1__fast.sql", "CREATE TABLE fast (id int);"),
        (
            "V2__slow.sql",
            "CREATE TABLE slow (id int);\nSELECT pg_sleep(60);",
        ),
    ]);
    readable_by_all(dir.path());
    dir
}

fn wait_for_slow_statement(db: &TestDb, what: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    while db
        .query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(60)%' \
             AND application_name LIKE 'schemagate%'",
        )
        .as_deref()
        != Some("1")
    {
        assert!(
            Instant::now() < until,
            "the slow statement never started\n{what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_no_secret(out: &Outcome, termination: &str, secret: &str) {
    for text in [&out.stdout, &out.stderr, termination] {
        assert!(
            !text.contains(secret),
            "the password leaked\n{out}\n{termination}"
        );
    }
}

/// A server with SCRAM authentication, a database and a role that owns it.
fn password_server() -> (PgServer, TestDb, String) {
    let server = PgServer::start(ServerOptions {
        password_auth: true,
        ..ServerOptions::default()
    });
    let db = server.fresh_db();
    let role = unique_name("app");
    db.exec(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{}'; ALTER DATABASE \"{}\" OWNER TO {role};",
        PASSWORD.replace('\'', "''"),
        db.name()
    ));
    (server, db, role)
}

/// A Secret volume as the kubelet lays it out: the files in a timestamped folder, `..data`
/// pointing at it, and one symbolic link per key.
fn secret_volume(keys: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("sg-secret-")
        .tempdir()
        .unwrap();
    let stamp = "..2026_11_21_12_00_00.000000001";
    fs::create_dir(dir.path().join(stamp)).unwrap();
    for (key, value) in keys {
        write_file(&dir.path().join(stamp), key, value);
        symlink(format!("..data/{key}"), dir.path().join(key)).unwrap();
    }
    symlink(stamp, dir.path().join("..data")).unwrap();
    readable_by_all(dir.path());
    dir
}

// ---------------------------------------------------------------------------------------
// Dockerfile ↔ test image
// ---------------------------------------------------------------------------------------

/// A Dockerfile as stages of `(INSTRUCTION, arguments)`, continuations joined, comments gone.
fn dockerfile_stages(path: &Path) -> Vec<Vec<(String, String)>> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part.trim());
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    for line in logical {
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let keyword = keyword.to_ascii_uppercase();
        if keyword == "FROM" {
            stages.push(Vec::new());
        }
        let stage = stages
            .last_mut()
            .unwrap_or_else(|| panic!("{}: an instruction before FROM", path.display()));
        stage.push((keyword, rest.trim().to_string()));
    }
    stages
}

/// What a running container sees of a stage: where files land (not where they come from,
/// a builder stage or a prepared context), the environment, user and command. Build
/// arguments and labels are metadata.
fn runtime_layout(stage: &[(String, String)]) -> Vec<String> {
    stage
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "FROM" | "ARG" | "LABEL"))
        .map(|(k, rest)| {
            if k == "COPY" || k == "ADD" {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let flags: Vec<&str> = words
                    .iter()
                    .copied()
                    .filter(|w| w.starts_with("--") && !w.starts_with("--from="))
                    .collect();
                let dest = words.last().copied().unwrap_or("");
                let mut parts = vec![k.as_str()];
                parts.extend(flags);
                parts.extend(["->", dest]);
                parts.join(" ")
            } else {
                format!("{k} {rest}")
            }
        })
        .collect()
}

fn instruction<'a>(stage: &'a [(String, String)], keyword: &str) -> Vec<&'a str> {
    stage
        .iter()
        .filter(|(k, _)| k == keyword)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn json_array(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not a JSON array: {text} ({e})"))
}

#[test]
fn the_test_image_has_the_runtime_layout_of_the_dockerfiles_last_stage() {
    let stages = dockerfile_stages(&Path::new(ROOT).join("Dockerfile"));
    let test_stages = dockerfile_stages(&Path::new(ROOT).join("docker/test-image.Dockerfile"));
    assert!(stages.len() >= 2, "the Dockerfile must be multi-stage");
    let builder = &stages[0];
    let runtime = stages.last().unwrap();
    let test = test_stages.last().unwrap();

    // SPEC §9 and the issue: what users' CI builds.
    let builder_from = builder[0].1.as_str();
    let rust_tag = builder_from
        .strip_prefix("rust:")
        .unwrap_or_else(|| panic!("the builder must be an official Rust image: {builder_from}"));
    assert!(
        rust_tag.split('-').next().is_some_and(
            |v| v.split('.').count() == 3 && v.split('.').all(|p| p.parse::<u32>().is_ok())
        ),
        "the builder image must be pinned to an exact Rust version: {builder_from}"
    );
    assert_eq!(runtime[0].1, "gcr.io/distroless/static-debian12:nonroot");
    assert_eq!(test[0].1, "scratch");
    let labels = instruction(runtime, "LABEL").join(" ");
    for key in [
        "title",
        "description",
        "version",
        "revision",
        "licenses",
        "base.name",
    ] {
        assert!(
            labels.contains(&format!("org.opencontainers.image.{key}=")),
            "the runtime stage has no org.opencontainers.image.{key} label"
        );
    }
    assert!(
        labels.contains(&format!(
            "org.opencontainers.image.version=\"{}\"",
            env!("CARGO_PKG_VERSION")
        )),
        "the image's version label must follow Cargo.toml ({})",
        env!("CARGO_PKG_VERSION")
    );

    // The two files agree on everything a running container sees.
    let expected = runtime_layout(runtime);
    let actual = runtime_layout(test);
    assert!(
        actual.ends_with(&expected),
        "docker/test-image.Dockerfile drifted from the Dockerfile's last stage.\n\
         Dockerfile:\n  {}\ndocker/test-image.Dockerfile ends with:\n  {}",
        expected.join("\n  "),
        actual[actual.len().saturating_sub(expected.len())..].join("\n  ")
    );
    for wanted in [
        "COPY -> /usr/local/bin/schemagate",
        "COPY -> /migrations/",
        "COPY -> /",
        "ENV SCHEMAGATE_DEFAULT_LOCATIONS=/migrations",
        "WORKDIR /flyway",
        "USER 65532:65532",
        "ENTRYPOINT [\"/usr/local/bin/schemagate\"]",
        "CMD [\"migrate\"]",
    ] {
        assert!(
            expected.iter().any(|l| l == wanted),
            "SPEC §9: the runtime stage lacks `{wanted}`:\n{expected:#?}"
        );
    }

    // And the built image is what its Dockerfile says.
    let inspect = docker()
        .args(["image", "inspect", "--format", "{{json .Config}}", image()])
        .run();
    inspect.assert_success();
    let config: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(config["User"], instruction(runtime, "USER")[0]);
    assert_eq!(
        strings(&config["Entrypoint"]),
        json_array(instruction(runtime, "ENTRYPOINT")[0])
    );
    assert_eq!(
        strings(&config["Cmd"]),
        json_array(instruction(runtime, "CMD")[0])
    );
    let env = strings(&config["Env"]);
    for e in instruction(runtime, "ENV") {
        assert!(
            env.iter().any(|x| x == e),
            "the image lacks ENV {e}: {env:?}"
        );
    }

    let version = docker()
        .args(["run", "--rm"])
        .args(HARDENED)
        .args([image(), "version"])
        .run();
    version.assert_success();
    assert!(version.stdout.contains("unknown-linux-musl"), "{version}");
}

#[test]
fn the_build_context_is_a_package_cargo_reads_and_holds_nothing_big() {
    image();
    // Send the repository as `docker build .` would, through .dockerignore, and unpack it.
    let probe = tempfile::tempdir().unwrap();
    let dockerfile = write_file(
        probe.path(),
        "Dockerfile",
        "FROM scratch\nCOPY . /context/\nCMD [\"none\"]\n",
    );
    let tag = format!("{}:probe", unique_name("sg-context"));
    docker()
        .args(["build", "-q", "-f"])
        .arg(&dockerfile)
        .args(["-t", &tag, ROOT])
        .run()
        .assert_success();
    let unpacked = tempfile::tempdir().unwrap();
    let export = with_docker_env(Sg::new("sh"))
        .args([
            "-c",
            "set -e; c=$(docker create \"$1\"); docker export \"$c\" | tar -x -C \"$2\" context; docker rm \"$c\" >/dev/null",
            "sh",
            &tag,
        ])
        .arg(unpacked.path())
        .run();
    docker().args(["rmi", "-f", &tag]).run();
    export.assert_success();
    let context = unpacked.path().join("context");
    let has = |path: &str| context.join(path.trim_end_matches('/')).exists();

    // The builder runs cargo on exactly this: Cargo.toml must find every file it names.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // `fetch` reads the manifest as `build` does (`metadata --no-deps` does not look for the
    // files of the targets it names). Offline, for the target the Dockerfile builds: its
    // crates are here from `image()`'s static build. Without `--target`, fetch wants every
    // platform's crates (and cfg-gated ones such as tracing-core's `valuable`), which no build
    // of this machine downloads, so a fresh machine failed here.
    let mut fetch = Sg::new(cargo).no_termination_log();
    for key in ["HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(v) = std::env::var_os(key) {
            fetch = fetch.env(key, v);
        }
    }
    let fetch = fetch
        .args(["fetch", "--offline", "--locked", "--target"])
        .arg(format!("{}-unknown-linux-musl", std::env::consts::ARCH))
        .arg("--manifest-path")
        .arg(context.join("Cargo.toml"))
        .run();
    assert_eq!(
        fetch.code,
        Some(0),
        "cargo cannot read the build context: .dockerignore keeps out a file that Cargo.toml \
         names\n{fetch}"
    );

    let stages = dockerfile_stages(&Path::new(ROOT).join("Dockerfile"));
    for stage in &stages {
        for copy in instruction(stage, "COPY") {
            if copy.contains("--from=") {
                continue;
            }
            let words: Vec<&str> = copy
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            for source in &words[..words.len() - 1] {
                assert!(
                    *source == "." || has(source),
                    ".dockerignore keeps `{source}` (COPY {copy}) out of the build context"
                );
            }
        }
    }
    for entry in fs::read_dir(Path::new(ROOT).join("src")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            has(&format!("src/{name}")),
            "src/{name} is not in the build context"
        );
    }
    for kept_out in ["target", ".git", "tests"] {
        assert!(!has(kept_out), "{kept_out} must not be sent to the builder");
    }
}

// ---------------------------------------------------------------------------------------
// The image, run
// ---------------------------------------------------------------------------------------

#[test]
fn a_hardened_container_applies_the_bundled_scripts_with_settings_from_env() {
    let db = PgServer::shared().fresh_db();
    image();
    let started = Instant::now();
    // `localhost` goes through musl's resolver and the /etc/hosts that Docker provides.
    let out = Container::new()
        .envs(pg_env(&db))
        .env("PGHOST", "localhost")
        .run();
    out.assert_success();
    report(&format!(
        "a migrate run in a container took {:.2} s (docker run included)",
        started.elapsed().as_secs_f64()
    ));
    assert_eq!(history_versions(&db), bundled());
    let s = summary(&out);
    assert_eq!(s["applied"], bundled().len(), "{out}");
    assert_eq!(db.advisory_locks_held(), 0);

    // The default command again: nothing to do, exit 0.
    let again = Container::new().envs(pg_env(&db)).run();
    again.assert_success();
    assert_eq!(summary(&again)["applied"], 0, "{again}");
    let info = Container::new()
        .envs(pg_env(&db))
        .arg("info")
        .arg("--format")
        .arg("json")
        .run();
    info.assert_success();
    assert!(info.stdout.contains("customer summary view"), "{info}");
}

#[test]
fn credentials_from_a_mounted_secret_and_from_a_password_file() {
    let (_server, db, role) = password_server();
    let port = db.port().to_string();
    let secret = secret_volume(&[
        ("username", &role),
        ("password", PASSWORD),
        ("host", "127.0.0.1"),
        ("port", &port),
        ("dbname", db.name()),
    ]);
    // Nothing but the Secret (and the TLS choice: the harness server has no TLS).
    let out = Container::new()
        .env("SCHEMAGATE_SECRET_DIR", "/var/run/secrets/db")
        .env("PGSSLMODE", "disable")
        .env("SCHEMAGATE_LOG_FORMAT", "json")
        .volume(secret.path(), "/var/run/secrets/db", true)
        .run();
    out.assert_success();
    assert_no_secret(&out, "", PASSWORD);
    assert_eq!(history_versions(&db), bundled());
    assert!(db.history(T).iter().all(|r| r.installed_by == role));

    // PGPASSWORD_FILE beside the other PG* variables, as a Job with secretKeyRef-less
    // volume mounts would have it.
    let out = Container::new()
        .envs(pg_env(&db))
        .env("PGUSER", &role)
        .env_remove("PGPASSWORD")
        .env("PGPASSWORD_FILE", "/var/run/secrets/db/password")
        .volume(secret.path(), "/var/run/secrets/db", true)
        .arg("validate")
        .run();
    out.assert_success();
    assert_no_secret(&out, "", PASSWORD);
}

#[test]
fn the_termination_message_names_the_outcome_and_exit_code_and_no_secret() {
    let (_server, db, role) = password_server();
    let wrong = "not-the-password-Zq9";

    // An explicit SCHEMAGATE_TERMINATION_LOG in a mounted folder, on a refused login.
    let term = termination_dir();
    let out = Container::new()
        .envs(db.env_as(&role, Some(wrong)))
        .env("SCHEMAGATE_TERMINATION_LOG", "/termination/message")
        .volume(term.path(), "/termination", false)
        .run();
    out.assert_code(77);
    let message = fs::read_to_string(term.path().join("message")).unwrap_or_default();
    assert!(message.contains("denied (exit 77)"), "{message}\n{out}");
    assert_no_secret(&out, &message, wrong);
    assert_no_secret(&out, &message, PASSWORD);

    // The Kubernetes way: the kubelet mounts a file at the default /dev/termination-log.
    let file = term.path().join("kubelet-termination-log");
    fs::write(&file, "").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
    let out = Container::new()
        .envs(db.env_as(&role, Some(PASSWORD)))
        .volume(&file, "/dev/termination-log", false)
        .run();
    out.assert_success();
    let message = fs::read_to_string(&file).unwrap();
    assert!(message.contains("migrate: ok (exit 0)"), "{message}\n{out}");
    assert!(
        message.contains(&format!("{} migrations applied", bundled().len())),
        "{message}"
    );
    assert_no_secret(&out, &message, PASSWORD);
}

#[test]
fn local_development_mounts_the_hosts_sql_over_migrations() {
    let db = PgServer::shared().fresh_db();
    // The developer's working copy of sql/, with a script that no image has yet.
    let work = tempfile::Builder::new()
        .prefix("sg-sql-")
        .tempdir()
        .unwrap();
    for entry in fs::read_dir(Path::new(ROOT).join("sql")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), work.path().join(entry.file_name())).unwrap();
    }
    write_file(
        work.path(),
        "V900__local_change.sql",
        "CREATE TABLE local_change (id int);",
    );
    readable_by_all(work.path());
    let out = Container::new()
        .envs(pg_env(&db))
        .volume(work.path(), "/migrations", true)
        .run();
    out.assert_success();
    assert_eq!(history_versions(&db), bundled_and("900"));
    assert!(db.table_exists("local_change"));
}

#[test]
fn users_extend_the_image_with_their_own_scripts() {
    let base = image();
    let context = tempfile::tempdir().unwrap();
    write_file(
        context.path(),
        "db/V1000__app_table.sql",
        "CREATE TABLE app_table (id int);",
    );
    write_file(
        context.path(),
        "Dockerfile",
        &format!("FROM {base}\nCOPY db/ /migrations/\n"),
    );
    readable_by_all(context.path());
    let tag = format!("{}:test", unique_name("sg-extended"));
    docker()
        .args(["build", "-q", "-t", &tag])
        .arg(context.path())
        .run()
        .assert_success();
    let db = PgServer::shared().fresh_db();
    let out = Container::of(&tag).envs(pg_env(&db)).run();
    docker().args(["rmi", "-f", &tag]).run();
    out.assert_success();
    assert_eq!(history_versions(&db), bundled_and("1000"));
}

#[test]
fn docker_stop_during_a_slow_migration_exits_143_within_10s_and_leaves_nothing() {
    let db = PgServer::shared().fresh_db();
    let scripts = slow_scripts();
    let term = termination_dir();
    let container = Container::new()
        .envs(pg_env(&db))
        .env("SCHEMAGATE_TERMINATION_LOG", "/termination/message")
        .volume(scripts.path(), "/migrations", true)
        .volume(term.path(), "/termination", false);
    let name = container.name.clone();
    let (running, _removal) = container.spawn();
    wait_for_slow_statement(&db, &running.stderr_so_far());

    let sent = Instant::now();
    let stop = docker().args(["stop", "-t", "10", &name]).run();
    let took = sent.elapsed();
    let out = running.wait();
    stop.assert_success();
    report(&format!("docker stop took {:.2} s", took.as_secs_f64()));
    // 137 would mean Docker gave up waiting and killed it: the signal was not handled.
    out.assert_code(143);
    assert!(
        took < Duration::from_secs(10),
        "docker stop took {took:?}\n{out}"
    );
    let message = fs::read_to_string(term.path().join("message")).unwrap_or_default();
    assert!(message.contains("(exit 143)"), "{message}\n{out}");
    stopped_cleanly(&db);
}

/// Flyway's scripts and credentials as a Flyway manifest gives them: nothing of schemagate's.
fn flyway_project() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("sg-flyway-")
        .tempdir()
        .unwrap();
    write_file(
        dir.path(),
        "sql/V1__Create_person_table.sql",
        "CREATE TABLE person (id int PRIMARY KEY, name text);",
    );
    write_file(
        dir.path(),
        "sql/V2__Add_people.sql",
        "INSERT INTO person VALUES (1, 'Axel');",
    );
    readable_by_all(dir.path());
    dir
}

fn flyway_credentials(db: &TestDb) -> (String, String, String) {
    let env = db.env();
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    (
        format!("jdbc:postgresql://127.0.0.1:{}/{}", db.port(), db.name()),
        get("PGUSER"),
        get("PGPASSWORD"),
    )
}

fn flyway_applied(db: &TestDb, out: &Outcome) {
    let rows: Vec<Option<String>> = db
        .history("flyway_schema_history")
        .into_iter()
        .map(|r| r.version)
        .collect();
    // The mounted /flyway/sql, not the image's bundled /migrations.
    assert_eq!(rows, [some("1"), some("2")], "{out}");
    assert!(!db.table_exists("schemagate_history"), "{out}");
    assert_eq!(db.query_scalar("SELECT name FROM person"), some("Axel"));
}

#[test]
fn flyways_documented_docker_run_line_works_with_only_the_image_changed() {
    // flyway-docker README: docker run --rm -v <sql>:/flyway/sql flyway/flyway
    //   -url=jdbc:… -user=… -password=… migrate
    let db = PgServer::shared().fresh_db();
    let project = flyway_project();
    let (url, user, password) = flyway_credentials(&db);
    let out = Container::new()
        .env("SCHEMAGATE_LOG_FORMAT", "json")
        .volume(&project.path().join("sql"), "/flyway/sql", true)
        .arg(&format!("-url={url}"))
        .arg(&format!("-user={user}"))
        .arg(&format!("-password={password}"))
        .arg("migrate")
        .run();
    out.assert_success();
    flyway_applied(&db, &out);
}

#[test]
fn the_kubernetes_command_forms_of_flyway_manifests_start_the_same_binary() {
    // command: ["flyway", "migrate"], ["/flyway/flyway", "migrate"], ["./flyway", "migrate"]
    // (relative to WORKDIR /flyway), with FLYWAY_* from env and a flyway.conf in /flyway/conf.
    let project = flyway_project();
    for entrypoint in ["flyway", "/flyway/flyway", "./flyway"] {
        let db = PgServer::shared().fresh_db();
        let (url, user, password) = flyway_credentials(&db);
        write_file(
            project.path(),
            "conf/flyway.conf",
            &format!("flyway.url={url}\nflyway.connectRetries=3\n"),
        );
        readable_by_all(project.path());
        let out = Container::new()
            .entrypoint(entrypoint)
            .env("SCHEMAGATE_LOG_FORMAT", "json")
            .env("FLYWAY_USER", &user)
            .env("FLYWAY_PASSWORD", &password)
            .volume(&project.path().join("sql"), "/flyway/sql", true)
            .volume(&project.path().join("conf"), "/flyway/conf", true)
            .arg("migrate")
            .run();
        out.assert_success();
        assert!(
            out.stderr.contains("/flyway/conf/flyway.conf"),
            "{entrypoint}: {out}"
        );
        flyway_applied(&db, &out);
    }
}

#[test]
fn five_containers_started_at_once_apply_each_version_once() {
    let db = PgServer::shared().fresh_db();
    image();
    let started = Instant::now();
    let runs: Vec<_> = (0..5)
        .map(|_| Container::new().envs(pg_env(&db)).spawn())
        .collect();
    let outs: Vec<Outcome> = runs.into_iter().map(|(r, _removal)| r.wait()).collect();
    report(&format!(
        "five containers at once finished in {:.2} s",
        started.elapsed().as_secs_f64()
    ));
    if outs.iter().any(|o| o.code != Some(0)) {
        let all: Vec<String> = outs.iter().map(|o| o.to_string()).collect();
        panic!("every runner must exit 0\n{}", all.join("\n"));
    }
    assert_eq!(
        history_versions(&db),
        bundled(),
        "each version exactly once"
    );
    let applied: u64 = outs
        .iter()
        .map(|o| summary(o)["applied"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        applied,
        bundled().len() as u64,
        "the scripts were applied by exactly one runner in all"
    );
    assert_eq!(db.advisory_locks_held(), 0);
}

#[test]
fn the_test_image_stays_under_20_mb() {
    let bin = fs::metadata(static_binary()).unwrap().len();
    let out = docker()
        .args(["image", "inspect", "--format", "{{.Size}}", image()])
        .run();
    out.assert_success();
    let size: u64 = out.stdout.trim().parse().unwrap();
    report(&format!(
        "image {IMAGE} is {size} bytes ({:.2} MB); the binary is {:.2} MB of it",
        mb(size),
        mb(bin)
    ));
    assert!(size < 20_000_000, "{IMAGE} is {:.2} MB", mb(size));
    assert!(bin < 15_000_000, "the static binary is {:.2} MB", mb(bin));
}

#[test]
fn the_readme_runs_the_container_the_way_these_tests_do() {
    let readme = fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Run it with Docker"))
        .expect("README.md has a \"Run it with Docker\" section");
    // Each flag with its value, as the README writes them.
    let mut flags: Vec<String> = Vec::new();
    for word in HARDENED {
        match flags.last_mut() {
            Some(last) if !word.starts_with("--") => {
                last.push(' ');
                last.push_str(word);
            }
            _ => flags.push(word.to_string()),
        }
    }
    for flag in &flags {
        assert!(
            section.contains(flag.as_str()),
            "the README's docker run lacks `{flag}`"
        );
    }
    for command in [
        "docker build",
        "make image-test",
        "-v \"$PWD/sql:/migrations:ro\"",
        "COPY db/ /migrations/",
        "echo $?",
    ] {
        assert!(
            section.contains(command),
            "the README's Docker section lacks `{command}`"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Without Docker: PID 1 of a new PID namespace, in an empty root
// ---------------------------------------------------------------------------------------

fn tool(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            fail_setup(
                &format!("find `{name}`"),
                "install util-linux and coreutils",
            )
        })
}

fn require_root() {
    // SAFETY: a plain getter.
    if unsafe { libc::geteuid() } != 0 {
        fail_setup(
            "chroot and switch to UID 65532",
            "the PID-namespace tests run as root (as CI does): `sudo -E cargo test --test container`",
        );
    }
}

/// An empty root holding only the static binary (where the image has it), the given
/// scripts at /migrations and a writable /termination-log: no libc, no loader, no /etc, no /dev.
fn empty_root(scripts: &Path) -> tempfile::TempDir {
    let root = tempfile::Builder::new()
        .prefix("sg-root-")
        .tempdir()
        .unwrap();
    let bin_dir = root.path().join("usr/local/bin");
    fs::create_dir_all(&bin_dir).unwrap();
    fs::copy(static_binary(), bin_dir.join("schemagate")).unwrap();
    fs::create_dir(root.path().join("migrations")).unwrap();
    for entry in fs::read_dir(scripts).unwrap() {
        let entry = entry.unwrap();
        fs::copy(
            entry.path(),
            root.path().join("migrations").join(entry.file_name()),
        )
        .unwrap();
    }
    readable_by_all(root.path());
    fs::set_permissions(
        bin_dir.join("schemagate"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let log = root.path().join("termination-log");
    fs::write(&log, "").unwrap();
    fs::set_permissions(&log, fs::Permissions::from_mode(0o666)).unwrap();
    root
}

/// `unshare --pid --fork chroot --userspec 65532:65532 ROOT /usr/local/bin/schemagate ARGS`:
/// the binary is PID 1 of its namespace, as in a container, with the image's settings.
fn as_pid_1(root: &Path, args: &[&str]) -> Sg {
    require_root();
    Sg::new(tool("unshare"))
        .no_termination_log()
        .args(["--pid", "--fork", "--kill-child"])
        .arg(tool("chroot"))
        .arg("--userspec=65532:65532")
        .arg(root)
        .arg("/usr/local/bin/schemagate")
        .args(args)
        .env("SCHEMAGATE_LOCATIONS", "/migrations")
        .env("SCHEMAGATE_TERMINATION_LOG", "/termination-log")
        .env("SCHEMAGATE_LOG_FORMAT", "json")
        .env("SCHEMAGATE_DEADLINE", "45s")
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    fields.get(1)?.parse().ok()
}

fn status_fields(pid: u32) -> BTreeMap<String, String> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// The host PID of the schemagate that `unshare` (pid `outer`) started.
fn schemagate_under(outer: u32) -> u32 {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let found = fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            if parent_of(pid)? != outer {
                return None;
            }
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            cmdline
                .starts_with(b"/usr/local/bin/schemagate\0")
                .then_some(pid)
        });
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            Instant::now() < until,
            "schemagate never started under unshare (pid {outer})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_static_binary_runs_in_an_empty_root_and_a_panic_still_exits_70() {
    let scripts = tempfile::tempdir().unwrap();
    let root = empty_root(scripts.path());
    let out = as_pid_1(root.path(), &["version"]).run();
    out.assert_success();
    assert!(out.stdout.contains("unknown-linux-musl"), "{out}");

    // The panic hook prints the version and exits 70 under the size-tuned release profile.
    let out = as_pid_1(root.path(), &["internal-crash-test"])
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string())
        .env("PGUSER", "nobody")
        .env("SCHEMAGATE_WAIT_TIMEOUT", "1s")
        .run();
    out.assert_code(70);
    assert!(
        out.stderr
            .contains(&format!("schemagate {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    let message = fs::read_to_string(root.path().join("termination-log")).unwrap();
    assert!(message.contains("internal (exit 70)"), "{message}");
}

#[test]
fn sigterm_to_pid_1_of_a_pid_namespace_cancels_the_run_and_exits_143() {
    let db = PgServer::shared().fresh_db();
    let scripts = slow_scripts();
    let root = empty_root(scripts.path());
    let running = as_pid_1(root.path(), &["migrate"]).envs(db.env()).spawn();
    let pid = schemagate_under(running.pid());
    let status = status_fields(pid);
    assert_eq!(
        status
            .get("NSpid")
            .and_then(|v| v.split_whitespace().last()),
        Some("1"),
        "schemagate must be PID 1 of its namespace: {status:?}"
    );
    assert_eq!(
        status.get("Uid").and_then(|v| v.split_whitespace().next()),
        Some("65532"),
        "{status:?}"
    );
    wait_for_slow_statement(&db, &running.stderr_so_far());

    // A PID namespace's init gets only the signals it has a handler for: without one,
    // this SIGTERM would be dropped and the run would go on to the deadline.
    let sent = Instant::now();
    // SAFETY: a plain syscall on a pid we found above.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) }, 0);
    let out = running.wait();
    let took = sent.elapsed();
    out.assert_code(143);
    assert!(took < Duration::from_secs(10), "took {took:?}\n{out}");
    report(&format!(
        "PID 1 in a PID namespace stopped {:.2} s after SIGTERM",
        took.as_secs_f64()
    ));
    let message = fs::read_to_string(root.path().join("termination-log")).unwrap();
    assert!(message.contains("(exit 143)"), "{message}\n{out}");
    stopped_cleanly(&db);
}
