//! End-to-end: the Flyway drop-in (SPEC §13, issue 14). The binary runs as `flyway` with the
//! command lines, variables and config files of Flyway's documentation and of real manifests
//! (reference flyway-config.md §6.3), and nothing of schemagate's own configuration; each
//! test checks the exit code, the `flyway_schema_history` table and the schema.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const V1: &str = "CREATE TABLE person (id int PRIMARY KEY, name varchar(100) NOT NULL);";
const V2: &str = "INSERT INTO person (id, name) VALUES (1, 'Axel'), (2, '${owner}');";

/// `flyway`, a link to the binary, as the image has it.
fn flyway_link() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("flyway");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    (dir, link)
}

fn user_password(db: &TestDb) -> (String, Option<String>) {
    let env = db.env();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    (get("PGUSER").unwrap(), get("PGPASSWORD"))
}

fn jdbc_url(db: &TestDb) -> String {
    format!("jdbc:postgresql://127.0.0.1:{}/{}", db.port(), db.name())
}

/// The binary as `flyway`, with an empty environment but JSON logs.
fn flyway(program: &Path, cwd: &Path) -> Sg {
    Sg::new(program)
        .current_dir(cwd)
        .env("SCHEMAGATE_LOG_FORMAT", "json")
}

fn with_credentials(sg: Sg, db: &TestDb) -> Sg {
    let (user, password) = user_password(db);
    let sg = sg.env("FLYWAY_USER", user);
    match password {
        Some(p) => sg.env("FLYWAY_PASSWORD", p),
        None => sg,
    }
}

/// A Job's container as Flyway manifests write it: URL, credentials, the owner placeholder and
/// the scripts' location, all as `FLYWAY_*` variables.
fn job(db: &TestDb, cwd: &Path, sql: &Path) -> Sg {
    with_credentials(flyway(Path::new(BIN), cwd), db)
        .env("FLYWAY_URL", jdbc_url(db))
        .env("FLYWAY_PLACEHOLDERS_OWNER", "shop")
        .env("FLYWAY_LOCATIONS", format!("filesystem:{}", sql.display()))
}

fn flyway_versions(db: &TestDb) -> Vec<(Option<String>, String, bool)> {
    db.history("flyway_schema_history")
        .into_iter()
        .map(|r| (r.version, r.type_, r.success))
        .collect()
}

fn applied_v1_v2(db: &TestDb) {
    assert_eq!(
        flyway_versions(db),
        [
            (some("1"), "SQL".to_string(), true),
            (some("2"), "SQL".to_string(), true)
        ]
    );
    assert!(!db.table_exists("schemagate_history"));
    assert_eq!(
        db.query_scalar("SELECT string_agg(name, ',' ORDER BY id) FROM person"),
        some("Axel,shop")
    );
}

fn scripts() -> tempfile::TempDir {
    migrations_dir(&[
        ("V1__Create_person_table.sql", V1),
        ("V2__Add_people.sql", V2),
    ])
}

#[test]
fn the_documented_command_line_applies_into_flyways_history_table() {
    let server = PgServer::shared();
    let db = server.fresh_db();
    let sql = scripts();
    let (bin, link) = flyway_link();
    let (user, password) = user_password(&db);
    let mut args = vec![
        format!("-url={}", jdbc_url(&db)),
        format!("-user={user}"),
        format!("-locations=filesystem:{}", sql.path().display()),
        "-placeholders.owner=shop".to_string(),
        "migrate".to_string(),
    ];
    if let Some(p) = password {
        args.insert(2, format!("-password={p}"));
    }
    let out = flyway(&link, bin.path()).args(&args).run();
    out.assert_success();
    applied_v1_v2(&db);
    assert!(
        out.stderr.contains("reading Flyway's configuration"),
        "{out}"
    );

    // Options after the command, -outputType=json: info in Flyway's field names.
    let mut info: Vec<String> = args[..args.len() - 1].to_vec();
    info.insert(0, "info".into());
    info.push("-outputType=json".into());
    let out = flyway(&link, bin.path()).args(&info).run();
    out.assert_success();
    let json = out.stdout_json();
    assert_eq!(json["schemaVersion"], "2");
    assert_eq!(json["operation"], "info");
    assert_eq!(json["migrations"][0]["rawVersion"], "1");
    assert_eq!(json["migrations"][1]["state"], "Success");
}

#[test]
fn a_kubernetes_job_with_flyway_variables_and_args_migrate() {
    // reference §6.3, pattern 1: FLYWAY_URL/USER/PASSWORD, placeholders, scripts at a location;
    // envFrom also brings keys that are no Flyway setting.
    let server = PgServer::shared();
    let db = server.fresh_db();
    let sql = scripts();
    let (bin, _) = flyway_link();
    let out = with_credentials(flyway(Path::new(BIN), bin.path()), &db)
        .env(
            "FLYWAY_URL",
            format!("{}?prepareThreshold=0", jdbc_url(&db)),
        )
        .env("FLYWAY_PLACEHOLDER_REPLACEMENT", "true")
        .env("FLYWAY_PLACEHOLDERS_OWNER", "shop")
        .env(
            "FLYWAY_LOCATIONS",
            format!("filesystem:{}", sql.path().display()),
        )
        .env("FLYWAY_CONNECT_RETRIES", "3")
        .env("driver-class-name", "org.postgresql.Driver")
        .arg("migrate")
        .run();
    out.assert_success();
    applied_v1_v2(&db);
    // A pgjdbc-only parameter is named after the variable the user wrote.
    assert!(
        out.stderr
            .contains("FLYWAY_URL (as SCHEMAGATE_DATABASE_URL)")
            && out.stderr.contains("prepareThreshold"),
        "{out}"
    );
    // The next release's job finds nothing to do.
    let again = job(&db, bin.path(), sql.path()).arg("migrate").run();
    again.assert_success();
    assert_eq!(flyway_versions(&db).len(), 2);
}

#[test]
fn flyway_conf_and_flyway_toml_in_the_working_directory() {
    let server = PgServer::shared();
    let db = server.fresh_db();
    let (user, password) = user_password(&db);
    let project = tempfile::tempdir().unwrap();
    write_file(project.path(), "sql/V1__Create_person_table.sql", V1);
    write_file(project.path(), "sql/V2__Add_people.sql", V2);
    // Legacy: `${NAME}` from the environment, relative locations against the current directory.
    write_file(
        project.path(),
        "flyway.conf",
        &format!(
            "flyway.url=jdbc:postgresql://127.0.0.1:${{DB_PORT}}/{}\nflyway.user={user}\nflyway.password={}\nflyway.locations=filesystem:sql\nflyway.placeholders.owner=shop\n",
            db.name(),
            password.clone().unwrap_or_default()
        ),
    );
    let out = flyway(Path::new(BIN), project.path())
        .env("DB_PORT", db.port().to_string())
        .arg("migrate")
        .run();
    out.assert_success();
    applied_v1_v2(&db);

    // Modern: an environment chosen in [flyway], `${env.X}` resolvers, and
    // -workingDirectory, as the Flyway Docker docs write it.
    let db = server.fresh_db();
    let outer = tempfile::tempdir().unwrap();
    let project = outer.path().join("project");
    write_file(&project, "migrations/V1__Create_person_table.sql", V1);
    write_file(&project, "migrations/V2__Add_people.sql", V2);
    write_file(
        &project,
        "flyway.toml",
        &format!(
            "[environments.development]\nurl = \"{}\"\nuser = \"${{env.DB_USER}}\"\npassword = \"${{env.DB_PASSWORD}}\"\n\n[flyway]\nenvironment = \"development\"\nlocations = [\"filesystem:migrations\"]\nplaceholders.owner = \"shop\"\n",
            jdbc_url(&db)
        ),
    );
    let out = flyway(Path::new(BIN), outer.path())
        .env("DB_USER", &user)
        .env("DB_PASSWORD", password.unwrap_or_default())
        .args(["-workingDirectory=project", "migrate"])
        .run();
    out.assert_success();
    applied_v1_v2(&db);
}

#[test]
fn misnamed_files_are_skipped_under_flyway_and_refused_under_schemagate() {
    let server = PgServer::shared();
    let db = server.fresh_db();
    let sql = migrations_dir(&[
        ("V1__Create_person_table.sql", V1),
        ("V2__Add_people.sql", V2),
        (
            "1.0.0.1__schema-drop_spring_batch.sql",
            "DROP TABLE batch_job;",
        ),
    ]);
    let (bin, _) = flyway_link();
    // schemagate's own configuration validates names (65, the file named) …
    let out = sg(&db, sql.path())
        .env("SCHEMAGATE_PLACEHOLDER_OWNER", "shop")
        .arg("migrate")
        .run();
    out.assert_code(65);
    assert!(
        out.stderr.contains("1.0.0.1__schema-drop_spring_batch.sql"),
        "{out}"
    );
    // … and Flyway's does not, as validateMigrationNaming=false: a warning names the file.
    let out = job(&db, bin.path(), sql.path()).arg("migrate").run();
    out.assert_success();
    let warned = out.stderr_json_lines().into_iter().any(|l| {
        l["level"] == "WARN"
            && l["message"].as_str().is_some_and(|m| {
                m.contains("skipped") && m.contains("1.0.0.1__schema-drop_spring_batch.sql")
            })
    });
    assert!(warned, "{out}");
    applied_v1_v2(&db);
    // FLYWAY_VALIDATE_MIGRATION_NAMING=true brings the error back.
    let db = server.fresh_db();
    let out = job(&db, bin.path(), sql.path())
        .env("FLYWAY_VALIDATE_MIGRATION_NAMING", "true")
        .arg("migrate")
        .run();
    out.assert_code(65);
    assert!(!db.table_exists("flyway_schema_history"));
}

#[test]
fn conflicts_and_unsupported_settings_stop_with_78_naming_them() {
    let server = PgServer::shared();
    let db = server.fresh_db();
    let sql = scripts();
    let (bin, _) = flyway_link();
    let base = || job(&db, bin.path(), sql.path());
    let out = base()
        .env("FLYWAY_TABLE", "flyway_history")
        .env("SCHEMAGATE_TABLE", "schemagate_history")
        .arg("migrate")
        .run();
    out.assert_code(78);
    assert!(
        out.stderr.contains("FLYWAY_TABLE and SCHEMAGATE_TABLE"),
        "{out}"
    );
    let out = base().env("FLYWAY_MIXED", "true").arg("migrate").run();
    out.assert_code(78);
    assert!(out.stderr.contains("FLYWAY_MIXED"), "{out}");
    let out = base().arg("-sqlMigrationPrefix=M").arg("migrate").run();
    out.assert_code(78);
    assert!(out.stderr.contains("-sqlMigrationPrefix"), "{out}");
    assert!(!db.table_exists("flyway_schema_history"));
    // A licensing or JVM setting is only a warning, and the run goes on.
    let out = base()
        .env("FLYWAY_LICENSE_KEY", "FL01-XXXX")
        .env("JAVA_ARGS", "-Xmx1g")
        .arg("migrate")
        .run();
    out.assert_success();
    assert!(
        out.stderr.contains("FLYWAY_LICENSE_KEY") && !out.stderr.contains("FL01-XXXX"),
        "{out}"
    );
    applied_v1_v2(&db);
}

#[test]
fn the_password_of_a_flyway_url_never_shows() {
    let (bin, _) = flyway_link();
    // A MySQL URL is refused by name, and nothing of it is echoed.
    let out = flyway(Path::new(BIN), bin.path())
        .env(
            "FLYWAY_URL",
            "jdbc:mysql://db:3306/shop?user=root&password=hunter2",
        )
        .arg("migrate")
        .run();
    out.assert_code(78);
    assert!(
        out.stderr.contains("FLYWAY_URL") && !out.stderr.contains("hunter2"),
        "{out}"
    );
}

#[test]
fn schemas_installed_by_and_execute_in_transaction_mean_what_they_mean_in_flyway() {
    let server = PgServer::shared();
    let db = server.fresh_db();
    let sql = scripts();
    let (bin, _) = flyway_link();
    let out = job(&db, bin.path(), sql.path())
        .env("FLYWAY_SCHEMAS", "shop,audit")
        .env("FLYWAY_INSTALLED_BY", "release-pipeline")
        .env("FLYWAY_EXECUTE_IN_TRANSACTION", "false")
        .arg("migrate")
        .run();
    out.assert_success();
    // The history in the first schema, both created and recorded in the SCHEMA row, the
    // scripts' unqualified names in the first schema, and installed_by as configured.
    let rows = db.history_in("shop", "flyway_schema_history");
    assert_eq!(rows[0].type_, "SCHEMA");
    assert_eq!(rows[0].script, "\"shop\",\"audit\"");
    assert_eq!(
        rows[1..]
            .iter()
            .map(|r| (r.version.clone(), r.installed_by.as_str(), r.success))
            .collect::<Vec<_>>(),
        [
            (some("1"), "release-pipeline", true),
            (some("2"), "release-pipeline", true)
        ]
    );
    assert_eq!(
        db.query_scalar("SELECT count(*) FROM shop.person"),
        some("2")
    );
    assert_eq!(
        db.query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'audit'"),
        some("1")
    );
    // executeInTransaction=false: each script ran outside a transaction.
    let lines = out.stderr_json_lines();
    assert!(
        lines.iter().any(|l| l["message"].as_str().is_some_and(|m| m
            .contains("statement by statement")
            || m.contains("outside a transaction"))),
        "{out}"
    );
}

#[test]
fn init_sql_runs_first_on_every_session_and_a_broken_one_stops_with_78() {
    let server = PgServer::shared();
    let db = server.fresh_db();
    let owner = unique_name("sg_owner");
    db.exec(&format!(
        "CREATE ROLE {owner}; GRANT ALL ON SCHEMA public TO {owner}"
    ));
    let sql = scripts();
    let (bin, _) = flyway_link();
    let run = |init: &str| {
        job(&db, bin.path(), sql.path())
            .env("FLYWAY_INIT_SQL", init)
            .arg("migrate")
            .run()
    };
    let out = run("SET ROLE no_such_role_here");
    out.assert_code(78);
    assert!(
        out.stderr.contains("SCHEMAGATE_INIT_SQL failed")
            && out.stderr.contains("no_such_role_here"),
        "{out}"
    );
    assert!(!db.table_exists("flyway_schema_history"));

    let out = run(&format!("SET ROLE {owner}"));
    out.assert_success();
    applied_v1_v2(&db);
    // The scripts ran as the role: it owns what they created, and the history says so.
    assert_eq!(
        db.query_scalar("SELECT tableowner FROM pg_tables WHERE tablename = 'person'"),
        some(&owner)
    );
    assert!(
        db.history("flyway_schema_history")
            .iter()
            .all(|r| r.installed_by == owner)
    );
}

#[test]
fn create_schemas_false_never_creates_one() {
    let server = PgServer::shared();
    let db = server.fresh_db();
    let sql = scripts();
    let (bin, _) = flyway_link();
    let run = || {
        job(&db, bin.path(), sql.path())
            .env("FLYWAY_SCHEMAS", "shop")
            .env("FLYWAY_CREATE_SCHEMAS", "false")
            .arg("migrate")
            .run()
    };
    let out = run();
    out.assert_code(78);
    assert!(
        out.stderr.contains("schema \\\"shop\\\" does not exist")
            && out.stderr.contains("FLYWAY_CREATE_SCHEMAS"),
        "{out}"
    );
    assert_eq!(
        db.query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'"),
        some("0")
    );
    // Once the schema is there, the history goes into it, with no SCHEMA row.
    db.exec("CREATE SCHEMA shop");
    run().assert_success();
    let rows = db.history_in("shop", "flyway_schema_history");
    assert_eq!(
        rows.iter().map(|r| r.type_.as_str()).collect::<Vec<_>>(),
        ["SQL", "SQL"]
    );
}

#[test]
fn flyway_without_a_command_prints_its_usage_and_changes_nothing() {
    let server = PgServer::shared();
    let db = server.fresh_db();
    let sql = scripts();
    let (bin, link) = flyway_link();
    let out = with_credentials(flyway(&link, bin.path()), &db)
        .env("FLYWAY_URL", jdbc_url(&db))
        .env(
            "FLYWAY_LOCATIONS",
            format!("filesystem:{}", sql.path().display()),
        )
        .run();
    out.assert_success();
    assert!(out.stdout.contains("usage:"), "{out}");
    assert!(!db.table_exists("flyway_schema_history"));
}

#[test]
fn flyways_placeholder_delimiters_and_replacement_switch() {
    let server = PgServer::shared();
    let (bin, _) = flyway_link();
    // Other delimiters: `#[owner]` is replaced, `${…}` is then ordinary text.
    let db = server.fresh_db();
    let sql = migrations_dir(&[
        ("V1__Create_person_table.sql", V1),
        (
            "V2__Add_people.sql",
            "INSERT INTO person VALUES (1, 'Axel'), (2, '#[owner]'), (3, '${not_one}');",
        ),
    ]);
    let out = job(&db, bin.path(), sql.path())
        .env("FLYWAY_PLACEHOLDER_PREFIX", "#[")
        .env("FLYWAY_PLACEHOLDER_SUFFIX", "]")
        .arg("migrate")
        .run();
    out.assert_success();
    assert_eq!(
        db.query_scalar("SELECT string_agg(name, ',' ORDER BY id) FROM person"),
        some("Axel,shop,${not_one}")
    );
    // placeholderReplacement=false: the text runs as written.
    let db = server.fresh_db();
    let sql = migrations_dir(&[
        ("V1__Create_person_table.sql", V1),
        (
            "V2__Add_people.sql",
            "INSERT INTO person VALUES (1, '${kept}');",
        ),
    ]);
    let out = job(&db, bin.path(), sql.path())
        .env("FLYWAY_PLACEHOLDER_REPLACEMENT", "false")
        .arg("migrate")
        .run();
    out.assert_success();
    assert_eq!(db.query_scalar("SELECT name FROM person"), some("${kept}"));
}
