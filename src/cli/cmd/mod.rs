//! One module per noun of the command tree; each has a clap `…Command` enum and a `run`.
// Enum variants and fields here are documented by their clap help text; flattened
// flag groups have none of their own.
#![allow(missing_docs)]
// Parsed once per process; boxing the bigger flag sets would buy nothing.
#![allow(clippy::large_enum_variant)]

pub mod activity;
pub mod api;
pub mod completions;
pub mod emulator;
pub mod event;
pub mod expr;
pub mod queue;
pub mod quickstart;
pub mod reservation;
pub mod serve;
pub mod stats;
pub mod task;
pub mod task_channel;
pub mod token;
pub mod trigger;
pub mod worker;
pub mod workflow;
pub mod workflow_offline;
pub mod workspace;

use crate::api::{Client, Page, Received};
use crate::cli::{CliError, Ctx};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Follow the pages of `first` up to the context's limit and print the items.
pub(crate) async fn print_pages<T: DeserializeOwned + Serialize>(
    ctx: &mut Ctx,
    client: &Client,
    resource: &str,
    first: Page<Received<T>>,
) -> Result<(), CliError> {
    let items = client.collect(first, ctx.limit()).await?;
    ctx.print_many(resource, &items)
}

/// A command with no flags of its own.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct NoFlags {}

/// The part of a command every workspace-scoped resource shares: list, get, create,
/// update, delete. Resource-specific verbs go in an `extra` subcommand enum that is
/// flattened in, and are run by the given function.
macro_rules! crud_commands {
    (
        $(#[$meta:meta])*
        pub enum $Enum:ident {
            noun: $noun:literal,
            plural: $plural:literal,
            a_noun: $a_noun:literal,
            resource: $resource:literal,
            kind: $kind:expr,
            list: $ListArgs:ident => $list:ident,
            get: $get:ident,
            create: $CreateArgs:ident => $create:ident,
            update: $UpdateArgs:ident => $update:ident,
            delete: |$dc:ident, $dw:ident, $ds:ident, $da:ident: $DeleteArgs:ty| $delete:expr,
            extra: $Extra:ty => $extra_run:path,
        }
    ) => {
        $(#[$meta])*
        #[derive(clap::Subcommand, Debug)]
        pub enum $Enum {
            #[command(about = concat!("List ", $plural, "."), visible_alias = "ls")]
            List(crate::cli::params::$ListArgs),
            #[command(about = concat!("Show one ", $noun, "."), visible_alias = "fetch")]
            Get {
                #[arg(help = concat!("The ", $noun, " (SID, or friendly name where it has one)."))]
                target: String,
            },
            #[command(about = concat!("Create ", $a_noun, "."))]
            Create(crate::cli::params::$CreateArgs),
            #[command(about = concat!("Change ", $a_noun, "."))]
            Update {
                #[arg(help = concat!("The ", $noun, " (SID, or friendly name where it has one)."))]
                target: String,
                #[command(flatten)]
                args: crate::cli::params::$UpdateArgs,
            },
            #[command(about = concat!("Delete ", $a_noun, "."), visible_alias = "rm")]
            Delete {
                #[arg(help = concat!("The ", $noun, " (SID, or friendly name where it has one)."))]
                target: String,
                #[command(flatten)]
                args: $DeleteArgs,
            },
            #[command(flatten)]
            #[allow(missing_docs)]
            Extra($Extra),
        }

        #[doc = concat!("Run a ", $noun, " command.")]
        pub async fn run(ctx: &mut crate::cli::Ctx, command: $Enum) -> Result<(), crate::cli::CliError> {
            let client = ctx.client()?;
            let resolver = ctx.resolver(&client).await?;
            let workspace = resolver.workspace()?.to_string();
            let kind: Option<crate::cli::resolve::Kind> = $kind;
            let target_sid = |target: String| async {
                match kind {
                    Some(kind) => resolver.resolve(kind, &target).await,
                    None => Ok(target),
                }
            };
            match command {
                $Enum::List(args) => {
                    let mut params = args.to_params(&resolver).await?;
                    params.page_size = ctx.page_size();
                    let page = client.$list(&workspace, &params).await?;
                    crate::cli::cmd::print_pages(ctx, &client, $resource, page).await
                }
                $Enum::Get { target } => {
                    let sid = target_sid(target).await?;
                    let item = client.$get(&workspace, &sid).await?;
                    ctx.print_one(&item)
                }
                $Enum::Create(args) => {
                    let params = args.to_params(&resolver).await?;
                    let item = client.$create(&workspace, &params).await?;
                    ctx.print_one(&item)
                }
                $Enum::Update { target, args } => {
                    let sid = target_sid(target).await?;
                    let params = args.to_params(&resolver).await?;
                    let item = client.$update(&workspace, &sid, &params).await?;
                    ctx.print_one(&item)
                }
                $Enum::Delete { target, args } => {
                    let $ds = target_sid(target).await?;
                    let $dc = &client;
                    let $dw = workspace.as_str();
                    let $da = args;
                    ($delete).await?;
                    ctx.note(&format!(concat!("deleted ", $noun, " {}"), $ds));
                    Ok(())
                }
                $Enum::Extra(extra) => $extra_run(ctx, &client, &resolver, &workspace, extra).await,
            }
        }
    };
}
pub(crate) use crud_commands;

/// An empty set of resource-specific verbs.
#[derive(clap::Subcommand, Debug)]
pub enum NoExtra {}

/// Run nothing: [`NoExtra`] has no values.
pub async fn no_extra(
    _ctx: &mut Ctx,
    _client: &Client,
    _resolver: &crate::cli::resolve::Resolver<'_>,
    _workspace: &str,
    extra: NoExtra,
) -> Result<(), CliError> {
    match extra {}
}
