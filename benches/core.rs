//! Micro-benchmarks of the pure core (issue 6), run by `make bench` (or `cargo bench --bench
//! core`); bench/run.py reads criterion's estimates from `target/criterion/core/*/new/`.
//! Measured in CPU time of the process ([`CpuTime`]), so that a busy machine slows the
//! figures less; throughput is in decimal MB/s.
//!
//! - `checksum_split_50MB`: Flyway's checksum and the statement splitter over one generated
//!   50 MB script full of dollar quotes, comments and strings holding `;`: the work a run
//!   does on every byte of every script. Also each half alone.
//! - `discover_plan_10000`: discovery (names, UTF-8, checksums, order, duplicates),
//!   placeholder resolution and planning of 10,000 in-memory files against 10,000 matching
//!   history rows: what a no-op run does between reading the files and exiting.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

use schemagate::core::checksum::checksum;
use schemagate::core::discover::{Entry, discover};
use schemagate::core::placeholders::{Values, resolve};
use schemagate::core::plan::{Applied, Local, Policy, plan};
use schemagate::core::split::split;

/// The process's CPU time, not the wall clock: the machine is shared (2 cores, other builds
/// and tests), and time spent waiting for a core is not the code's speed.
struct CpuTime;

fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec; CLOCK_PROCESS_CPUTIME_ID exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Nanoseconds of CPU time shown as ms, throughput in decimal MB/s.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e3 {
            (1.0, "ns (cpu)")
        } else if typical < 1e6 {
            (1e-3, "µs (cpu)")
        } else {
            (1e-6, "ms (cpu)")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per = match *throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => n as f64 / 1e6,
            Throughput::Elements(n) | Throughput::Bits(n) => n as f64,
            Throughput::ElementsAndBytes { elements, .. } => elements as f64,
        };
        values.iter_mut().for_each(|v| *v = per * 1e9 / *v);
        match *throughput {
            Throughput::Bytes(_) | Throughput::BytesDecimal(_) => "MB/s (cpu)",
            _ => "/s (cpu)",
        }
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

const SCRIPT_BYTES: usize = 50_000_000;
const FILES: usize = 10_000;

/// One block of realistic PostgreSQL: functions with dollar-quoted bodies (`;` inside, a
/// nested tag), line and nested block comments holding `;` and quotes, strings with `''`,
/// E-strings, quoted identifiers, a DO block, plain DDL and DML, CRLF lines now and then.
fn block(n: usize) -> String {
    format!(
        r#"-- block {n}: a function; its body holds semicolons and 'quotes'
CREATE OR REPLACE FUNCTION app.touch_{n}() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    -- inside the body; still the same statement
    NEW.updated_at := now();
    IF NEW.note IS NULL THEN
        NEW.note := 'n/a; set by trigger {n}';
    END IF;
    PERFORM $q$ SELECT 1; $q$;
    RETURN NEW;
END;
$fn$;
/* a block comment; with /* a nested one; */ and 'an odd quote */
CREATE TABLE IF NOT EXISTS app."Orders_{n}" (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    note text DEFAULT 'it''s; fine',
    payload jsonb NOT NULL DEFAULT '{{"a": ";", "b": [1, 2]}}',
    updated_at timestamptz
);
CREATE INDEX IF NOT EXISTS orders_{n}_note_idx ON app."Orders_{n}" (note);
INSERT INTO app."Orders_{n}" (note, payload) VALUES
    ('first; row', '{{}}'), (E'second\'s\nrow', '{{"k": "v;v"}}'), ($$third; $$ || 'row', '[]');
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT 1 AS x LOOP
        RAISE NOTICE 'loop %; done', r.x;
    END LOOP;
END
$$;
UPDATE app."Orders_{n}" SET note = note || ';' WHERE id < {n};  -- trailing comment; here
COMMENT ON TABLE app."Orders_{n}" IS 'orders; block {n}';{crlf}
"#,
        crlf = if n % 7 == 0 { "\r" } else { "" }
    )
}

fn script() -> String {
    let mut s = String::with_capacity(SCRIPT_BYTES + 4096);
    let mut n = 0;
    while s.len() < SCRIPT_BYTES {
        s.push_str(&block(n));
        n += 1;
    }
    s
}

fn checksum_and_split(c: &mut Criterion<CpuTime>) {
    let sql = script();
    let statements = split(&sql).expect("the generated script splits").len();
    assert!(
        statements > 100_000,
        "only {statements} statements: the generator broke"
    );
    let mut g = c.benchmark_group("core");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::BytesDecimal(sql.len() as u64));
    g.bench_function("checksum_split_50MB", |b| {
        b.iter(|| {
            let sum = checksum(black_box(&sql));
            let stmts = split(black_box(&sql)).unwrap();
            (sum, stmts.len())
        })
    });
    g.bench_function("checksum_50MB", |b| b.iter(|| checksum(black_box(&sql))));
    g.bench_function("split_50MB", |b| {
        b.iter(|| split(black_box(&sql)).unwrap().len())
    });
    g.finish();
}

/// A small migration like the end-to-end benchmark's: a table, an index, ten rows.
fn migration(i: usize) -> String {
    let rows: Vec<String> = (1..=10)
        .map(|r| format!("({r}, 'row {r} of t{i:05}')"))
        .collect();
    format!(
        "-- V{i}: a table, an index and 10 rows\nCREATE TABLE t{i:05} (\n    id integer NOT NULL,\n    \
         name text NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n\
         CREATE INDEX t{i:05}_name_idx ON t{i:05} (name);\nINSERT INTO t{i:05} (id, name) VALUES {};\n",
        rows.join(", ")
    )
}

fn entries() -> Vec<Entry> {
    // Reverse order, in two folders: discovery has to sort.
    (1..=FILES)
        .rev()
        .map(|i| {
            let path = format!(
                "{}/V{i}__create_t{i:05}.sql",
                if i % 2 == 0 { "a" } else { "b" }
            );
            Entry {
                display: format!("/migrations/{path}"),
                path,
                bytes: migration(i).into_bytes(),
            }
        })
        .collect()
}

fn values() -> Values {
    Values {
        user: Default::default(),
        schema: "public".into(),
        table: "schemagate_history".into(),
        db_user: "app".into(),
        database: "app".into(),
        syntax: Default::default(),
    }
}

/// The run's no-op path after reading the files: discover, resolve placeholders, plan.
fn discover_and_plan(entries: Vec<Entry>, applied: &[Applied], values: &Values) -> usize {
    let scripts = discover(entries).expect("valid entries");
    let locals: Vec<Local> = scripts
        .migrations
        .iter()
        .map(|s| {
            let r = resolve(s, values).expect("no placeholders to miss");
            Local {
                name: s.name.clone(),
                path: s.path.clone(),
                checksum: r.checksum,
                raw_checksum: r.raw_checksum,
                phase: s.phase,
            }
        })
        .collect();
    let p = plan(&locals, applied, &Policy::default());
    assert!(p.pending.is_empty() && p.problems.is_empty());
    p.entries.len()
}

fn discover_plan(c: &mut Criterion<CpuTime>) {
    let input = entries();
    let values = values();
    // The history that a previous run wrote: one successful row per file, in version order.
    let scripts = discover(input.clone()).expect("valid entries");
    let applied: Vec<Applied> = scripts
        .migrations
        .iter()
        .enumerate()
        .map(|(rank, s)| Applied {
            installed_rank: rank as i32 + 1,
            version: s.name.version().map(|v| v.as_str().to_string()),
            description: s.name.description.clone(),
            kind: "SQL".into(),
            script: s.path.clone(),
            checksum: Some(s.checksum),
            installed_by: "app".into(),
            installed_on: "2026-01-01 00:00:00".into(),
            execution_time: 3,
            success: true,
        })
        .collect();
    assert_eq!(discover_and_plan(input.clone(), &applied, &values), FILES);
    let mut g = c.benchmark_group("core");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("discover_plan_10000", |b| {
        b.iter_batched(
            || input.clone(),
            |entries| discover_and_plan(entries, &applied, &values),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = checksum_and_split, discover_plan
}
criterion_main!(benches);
