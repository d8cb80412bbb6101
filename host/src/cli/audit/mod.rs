//! `baton audit ...`: tools for auditors. `verify` checks records the way
//! an auditor needs to trust them (see [`verify`]); `public-key` prints the
//! public half of the signing key, to hand to whoever verifies.

mod chain;
mod checks;
mod repo;
mod verify;

use clap::{Args, Subcommand};

use super::error::CommandError;
use crate::config::Config;
use crate::engine::audit::integrity::{KeyError, Signer};

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check audit records: replay their decisions, check that each is
    /// complete and coherent, that the chain per app has no gap or fork,
    /// their signatures, and that they match the env repo (exit 1 on any
    /// finding).
    Verify(verify::VerifyArgs),
    /// Print the Ed25519 public key of the signing key in an environment
    /// variable (64 hex digits), for `audit.public_key` or `--public-key`.
    PublicKey(PublicKeyArgs),
}

/// Arguments of `baton audit public-key`.
#[derive(Debug, Args)]
pub struct PublicKeyArgs {
    /// The environment variable holding the signing key.
    #[arg(long, value_name = "VAR", default_value = "BATON_AUDIT_KEY")]
    from_env: String,
}

/// Runs an audit subcommand.
pub fn run(cmd: AuditCommand) -> Result<(), CommandError> {
    match cmd {
        AuditCommand::Verify(args) => verify::run(args),
        AuditCommand::PublicKey(args) => {
            let signer = Signer::from_env(&args.from_env).map_err(CommandError::usage)?;
            super::output::print(&format!("{}\n", signer.public_key_hex()));
            Ok(())
        }
    }
}

/// The key that signs records, when `audit.signing_key_env` is set; an
/// unset variable or a malformed key is a configuration error before the
/// run starts.
pub(super) fn signer(config: &Config) -> Result<Option<Signer>, CommandError> {
    let Some(var) = &config.audit().signing_key_env else {
        return Ok(None);
    };
    Signer::from_env(var).map(Some).map_err(|e: KeyError| {
        CommandError::usage(e).at_config_key(config.path(), "audit.signing_key_env")
    })
}
