//! `trctl event …`: the workspace's event log.

use clap::Subcommand;

use super::print_pages;
use crate::cli::params::ListEventArgs;
use crate::cli::{CliError, Ctx};

/// Event commands.
#[derive(Subcommand, Debug)]
pub enum EventCommand {
    /// List events (default window: the last 15 minutes, as TaskRouter does).
    #[command(visible_alias = "ls")]
    List(ListEventArgs),
    /// Show one event.
    #[command(visible_alias = "fetch")]
    Get {
        /// Event SID (EV…).
        event: String,
    },
}

/// Run an event command.
pub async fn run(ctx: &mut Ctx, command: EventCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    let resolver = ctx.resolver(&client).await?;
    let workspace = resolver.workspace()?.to_string();
    match command {
        EventCommand::List(args) => {
            let mut params = args.to_params(&resolver).await?;
            params.page_size = ctx.page_size();
            let page = client.list_event_received(&workspace, &params).await?;
            print_pages(ctx, &client, "event", page).await
        }
        EventCommand::Get { event } => {
            let item = client.fetch_event_received(&workspace, &event).await?;
            ctx.print_one(&item)
        }
    }
}
