//! One module per command: each adds its flow to [`crate::app::Run`], whose shared plumbing (settings, connecting, the history, the plan, the lock) lives in `app.rs`.

mod baseline;
pub mod compare;
mod info;
pub mod lint;
mod migrate;
mod repair;
mod undo;
mod validate;
mod wait;
