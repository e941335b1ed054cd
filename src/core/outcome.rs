//! The run's outcome, the failure categories, and the one function that maps them to exit codes (SPEC §3).

use std::fmt;

/// Why a run did not succeed. Every error in the program ends as one of these; nothing else
/// decides an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// A script's SQL failed inside its transaction; the transaction was rolled back.
    MigrationFailed,
    /// A non-transactional script stopped part-way; a `success=false` row records it.
    Partial,
    /// Unknown command or flag.
    Usage,
    /// Bad file name, duplicate version, drift, missing, failed row, unknown placeholder.
    InvalidMigrations,
    /// The database did not accept a connection within the wait timeout.
    Unavailable,
    /// A bug.
    Internal,
    /// Lock not acquired in time, or lock_timeout/serialization/deadlock retries exhausted.
    Busy,
    /// Authentication failed, privilege missing, TLS verification failed.
    Denied,
    /// A setting is missing, unknown or malformed; a secret file is unreadable.
    Config,
    /// `SCHEMAGATE_DEADLINE` expired.
    Deadline,
    /// SIGINT arrived.
    Interrupted,
    /// SIGTERM arrived.
    Terminated,
}

/// One row of the public exit-code table.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct ExitCodeInfo {
    pub code: u8,
    pub name: &'static str,
    pub meaning: &'static str,
    pub retryable: bool,
}

/// SPEC §3, in order. `version --exit-codes` prints this table and the chart's tests read it,
/// so it is the single source of truth for the codes.
pub const EXIT_CODES: &[ExitCodeInfo] = &[
    ExitCodeInfo {
        code: 0,
        name: "ok",
        meaning: "up to date: migrations applied, or nothing to do; wait satisfied",
        retryable: false,
    },
    ExitCodeInfo {
        code: 1,
        name: "migration-failed",
        meaning: "a script's SQL failed; its transaction was rolled back; the database is as before that script",
        retryable: false,
    },
    ExitCodeInfo {
        code: 3,
        name: "partial",
        meaning: "a non-transactional script stopped part-way; its row is recorded with success=false; every later run exits 3 until repair",
        retryable: false,
    },
    ExitCodeInfo {
        code: 64,
        name: "usage",
        meaning: "unknown command or flag",
        retryable: false,
    },
    ExitCodeInfo {
        code: 65,
        name: "invalid-migrations",
        meaning: "bad file name, duplicate version, checksum or description drift, applied migration missing locally, unknown placeholder; a lint error finding; compare found a difference",
        retryable: false,
    },
    ExitCodeInfo {
        code: 69,
        name: "unavailable",
        meaning: "database did not accept a connection within SCHEMAGATE_WAIT_TIMEOUT",
        retryable: true,
    },
    ExitCodeInfo {
        code: 70,
        name: "internal",
        meaning: "a bug (panic); the lock is released by closing the session",
        retryable: false,
    },
    ExitCodeInfo {
        code: 75,
        name: "busy",
        meaning: "lock not acquired in time, or lock_timeout/serialization/deadlock retries exhausted; compare's differences kept changing across re-checks (a live source)",
        retryable: true,
    },
    ExitCodeInfo {
        code: 77,
        name: "denied",
        meaning: "authentication failed, privilege missing, TLS verification failed",
        retryable: false,
    },
    ExitCodeInfo {
        code: 78,
        name: "config",
        meaning: "a setting is missing, unknown or malformed; a secret file is unreadable",
        retryable: false,
    },
    ExitCodeInfo {
        code: 124,
        name: "deadline",
        meaning: "SCHEMAGATE_DEADLINE expired; the run was cancelled cleanly",
        retryable: true,
    },
    ExitCodeInfo {
        code: 130,
        name: "interrupted",
        meaning: "SIGINT arrived; the run was cancelled cleanly",
        retryable: true,
    },
    ExitCodeInfo {
        code: 143,
        name: "terminated",
        meaning: "SIGTERM arrived; the run was cancelled cleanly",
        retryable: true,
    },
];

impl FailureKind {
    /// The exit code for this failure. The only place a failure becomes a number.
    pub const fn exit_code(self) -> u8 {
        match self {
            FailureKind::MigrationFailed => 1,
            FailureKind::Partial => 3,
            FailureKind::Usage => 64,
            FailureKind::InvalidMigrations => 65,
            FailureKind::Unavailable => 69,
            FailureKind::Internal => 70,
            FailureKind::Busy => 75,
            FailureKind::Denied => 77,
            FailureKind::Config => 78,
            FailureKind::Deadline => 124,
            FailureKind::Interrupted => 130,
            FailureKind::Terminated => 143,
        }
    }

    /// The stable name of the exit code, as in the table.
    pub fn name(self) -> &'static str {
        let code = self.exit_code();
        EXIT_CODES
            .iter()
            .find(|e| e.code == code)
            .map_or("internal", |e| e.name)
    }
}

/// A failure with the message an on-call engineer reads first. The message never holds a
/// password: every producer redacts before building one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code of a whole run: 0 on success, else the failure's code.
pub fn exit_code(outcome: &Result<(), Failure>) -> u8 {
    match outcome {
        Ok(()) => 0,
        Err(f) => f.kind.exit_code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[FailureKind] = &[
        FailureKind::MigrationFailed,
        FailureKind::Partial,
        FailureKind::Usage,
        FailureKind::InvalidMigrations,
        FailureKind::Unavailable,
        FailureKind::Internal,
        FailureKind::Busy,
        FailureKind::Denied,
        FailureKind::Config,
        FailureKind::Deadline,
        FailureKind::Interrupted,
        FailureKind::Terminated,
    ];

    #[test]
    fn every_kind_has_a_row_in_the_public_table_and_every_row_a_kind() {
        for k in ALL {
            assert!(
                EXIT_CODES.iter().any(|e| e.code == k.exit_code()),
                "{k:?} has no table row"
            );
        }
        for e in EXIT_CODES.iter().filter(|e| e.code != 0) {
            assert!(
                ALL.iter().any(|k| k.exit_code() == e.code),
                "row {} has no kind",
                e.code
            );
        }
    }

    #[test]
    fn success_is_zero_and_a_failure_is_its_code() {
        assert_eq!(exit_code(&Ok(())), 0);
        assert_eq!(exit_code(&Err(Failure::new(FailureKind::Busy, "x"))), 75);
        assert_eq!(FailureKind::Terminated.name(), "terminated");
    }
}
