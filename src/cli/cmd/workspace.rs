//! `trctl workspace …`: workspaces are account-level, so these commands need no `--workspace`.

use clap::Subcommand;

use crate::cli::cmd::print_pages;
use crate::cli::params::*;
use crate::cli::resolve::{Kind, Resolver};
use crate::cli::{CliError, Ctx};

/// Workspace commands.
#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// List workspaces.
    #[command(visible_alias = "ls")]
    List(ListWorkspaceArgs),
    /// Show one workspace (default: the one given by --workspace).
    #[command(visible_alias = "fetch")]
    Get {
        /// Workspace SID or friendly name.
        workspace_ref: Option<String>,
    },
    /// Create a workspace.
    Create(CreateWorkspaceArgs),
    /// Change a workspace.
    Update {
        /// Workspace SID or friendly name (default: --workspace).
        workspace_ref: Option<String>,
        #[command(flatten)]
        args: UpdateWorkspaceArgs,
    },
    /// Delete a workspace and everything in it.
    #[command(visible_alias = "rm")]
    Delete {
        /// Workspace SID or friendly name.
        workspace_ref: String,
    },
}

/// Run a workspace command.
pub async fn run(ctx: &mut Ctx, command: WorkspaceCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    let account = Resolver::new(&client, None);
    let target = |explicit: Option<String>, ctx: &Ctx| -> Result<String, CliError> {
        explicit
            .or_else(|| ctx.global.workspace.clone())
            .ok_or_else(|| CliError::usage("which workspace? pass its SID or name, or --workspace"))
    };
    match command {
        WorkspaceCommand::List(args) => {
            let mut params = args.to_params(&account).await?;
            params.page_size = ctx.page_size();
            let page = client.list_workspace_received(&params).await?;
            print_pages(ctx, &client, "workspace", page).await
        }
        WorkspaceCommand::Get { workspace_ref } => {
            let sid = account
                .resolve(Kind::Workspace, &target(workspace_ref, ctx)?)
                .await?;
            let item = client.fetch_workspace_received(&sid).await?;
            ctx.print_one(&item)
        }
        WorkspaceCommand::Create(args) => {
            let params = args.to_params(&account).await?;
            let item = client.create_workspace_received(&params).await?;
            ctx.print_one(&item)
        }
        WorkspaceCommand::Update {
            workspace_ref,
            args,
        } => {
            let sid = account
                .resolve(Kind::Workspace, &target(workspace_ref, ctx)?)
                .await?;
            // Activity names in the update resolve inside the workspace being updated.
            let inside = Resolver::new(&client, Some(sid.clone()));
            let params = args.to_params(&inside).await?;
            let item = client.update_workspace_received(&sid, &params).await?;
            ctx.print_one(&item)
        }
        WorkspaceCommand::Delete { workspace_ref } => {
            let sid = account.resolve(Kind::Workspace, &workspace_ref).await?;
            client.delete_workspace(&sid).await?;
            ctx.note(&format!("deleted workspace {sid}"));
            Ok(())
        }
    }
}
