//! The integration tests: one binary (`cargo test --test it`), one module per area, and the
//! shared support (the emulator world, the config, the bot in-process or as a process).

mod support;

mod api_calls;
mod bad_input;
mod check;
mod cli;
mod commands_reference;
mod deploy;
mod details;
mod doctor;
mod durability;
mod e2e;
mod engine_trust;
mod faults;
mod forgejo;
mod gitea_client;
mod inbox_cli;
mod lifecycle;
mod metrics;
mod official;
mod ops;
mod parser_props;
mod policies;
mod repos;
mod scopes;
mod setup;
mod simulation;
mod store;
mod threads;
mod tls;
mod webhook_server;
