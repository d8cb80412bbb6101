//! The command line: argument parsing, output, and the one place where
//! errors become user output and exit codes.

mod audit;
mod config;
#[cfg(feature = "sim")]
mod demo;
mod error;
mod history;
mod load;
mod output;
mod policy;
mod process;
mod run;
#[cfg(feature = "sim")]
mod sim;
mod status;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::{CommandError, ExitKind};
pub use load::CommonArgs;
pub use output::OutputFormat;

/// Baton moves application versions through GitOps environments. Every
/// decision is made by a sandboxed WebAssembly policy; Baton executes it.
#[derive(Debug, Parser)]
#[command(name = "baton", version, after_help = crate::exit::help_text(), max_term_width = 100)]
pub struct Cli {
    /// More output on stderr (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Promote a new version: run in the app repo's CI when a tag is pushed.
    Promote(run::PromoteArgs),
    /// Gate the stages changed by the last env repo push, then advance or
    /// roll back: run in the env repo's CI on every push to its branch.
    Advance(run::AdvanceArgs),
    /// Ask the policy about every stage again, changed or not, so held
    /// promotions resume: run on a schedule (same as `advance --all`).
    Reconcile(run::ReconcileArgs),
    /// Roll a stage back (to the last good version unless --to is given).
    Rollback(run::RollbackArgs),
    /// Show each stage: version, Argo CD health, open merge requests,
    /// rollback target.
    Status(status::StatusArgs),
    /// Every promotion, gate, rollback, approval and out-of-band change of
    /// an app over a period, from the env repo joined with audit records.
    History(history::HistoryArgs),
    /// Verify audit records: replay, coherence, chain, signature, env repo.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Run the whole flow against in-process simulators, no setup needed.
    #[cfg(feature = "sim")]
    Demo(demo::DemoArgs),
    /// Check the configuration or print its JSON Schema.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Inspect, evaluate and check policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Run a simulated Argo CD, GitLab or GitHub on loopback.
    #[cfg(feature = "sim")]
    #[command(subcommand)]
    Sim(sim::SimCommand),
}

/// Runs the CLI from `std::env::args` and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.print();
            ExitCode::from(e.kind().code())
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info,baton=debug",
        _ => "debug,baton=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| output::RedactedStderr)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CommandError> {
    match cli.command {
        Command::Promote(args) => run::promote(args),
        Command::Advance(args) => run::advance(args),
        Command::Reconcile(args) => run::reconcile(args),
        Command::Rollback(args) => run::rollback(args),
        Command::Status(args) => status::run(args),
        Command::History(args) => history::run(args),
        Command::Audit(cmd) => audit::run(cmd),
        #[cfg(feature = "sim")]
        Command::Demo(args) => demo::run(args),
        Command::Config(cmd) => config::run(cmd),
        Command::Policy(cmd) => policy::run(cmd),
        #[cfg(feature = "sim")]
        Command::Sim(cmd) => sim::run(cmd),
    }
}
