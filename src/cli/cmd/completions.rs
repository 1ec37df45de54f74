//! `trctl completions SHELL`: completion scripts generated from the clap tree.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::{Cli, CliError, Ctx};

/// Flags of `completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    pub shell: Shell,
}

/// Print the completion script.
pub fn run(ctx: &mut Ctx, args: CompletionsArgs) -> Result<(), CliError> {
    let mut command = Cli::command();
    let mut buffer = Vec::new();
    clap_complete::generate(args.shell, &mut command, "trctl", &mut buffer);
    ctx.print_text(&String::from_utf8_lossy(&buffer))
}
