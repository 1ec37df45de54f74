//! `trctl worker …`: workers, and `worker channel …` for their per-channel capacity.

use clap::Subcommand;

use super::{crud_commands, print_pages};
use crate::api::resources::{DeleteWorkerParams, ListWorkerChannelParams};
use crate::api::sid::{self, prefix};
use crate::api::Client;
use crate::cli::params::{DeleteWorkerArgs, UpdateWorkerChannelArgs};
use crate::cli::resolve::{Kind, Resolver};
use crate::cli::{CliError, Ctx};

crud_commands! {
    /// Worker commands.
    pub enum WorkerCommand {
        noun: "worker",
        plural: "workers",
        a_noun: "a worker",
        resource: "worker",
        kind: Some(Kind::Worker),
        list: ListWorkerArgs => list_worker_received,
        get: fetch_worker_received,
        create: CreateWorkerArgs => create_worker_received,
        update: UpdateWorkerArgs => update_worker_received,
        delete: |client, workspace, sid, flags: DeleteWorkerArgs| client.delete_worker(workspace, &sid, &DeleteWorkerParams { if_match: flags.if_match.clone() }),
        extra: WorkerExtra => run_extra,
    }
}

/// Worker verbs beyond the basic five.
#[derive(Subcommand, Debug)]
pub enum WorkerExtra {
    /// A worker's channels: capacity and availability per task channel.
    #[command(subcommand)]
    Channel(ChannelCommand),
}

/// Worker channel commands.
#[derive(Subcommand, Debug)]
pub enum ChannelCommand {
    /// List a worker's channels.
    #[command(visible_alias = "ls")]
    List {
        /// Worker SID or friendly name.
        worker: String,
    },
    /// Show one worker channel.
    #[command(visible_alias = "fetch")]
    Get {
        /// Worker SID or friendly name.
        worker: String,
        /// Worker channel SID (WC…) or task channel unique name (e.g. voice).
        channel: String,
    },
    /// Change a worker channel's capacity or availability.
    Update {
        /// Worker SID or friendly name.
        worker: String,
        /// Worker channel SID (WC…) or task channel unique name (e.g. voice).
        channel: String,
        #[command(flatten)]
        args: UpdateWorkerChannelArgs,
    },
}

async fn run_extra(
    ctx: &mut Ctx,
    client: &Client,
    resolver: &Resolver<'_>,
    workspace: &str,
    extra: WorkerExtra,
) -> Result<(), CliError> {
    let WorkerExtra::Channel(command) = extra;
    match command {
        ChannelCommand::List { worker } => {
            let worker = resolver.resolve(Kind::Worker, &worker).await?;
            let params = ListWorkerChannelParams {
                page_size: ctx.page_size(),
                ..Default::default()
            };
            let page = client
                .list_worker_channel_received(workspace, &worker, &params)
                .await?;
            print_pages(ctx, client, "worker_channel", page).await
        }
        ChannelCommand::Get { worker, channel } => {
            let worker = resolver.resolve(Kind::Worker, &worker).await?;
            let channel = channel_sid(client, workspace, &worker, &channel).await?;
            let item = client
                .fetch_worker_channel_received(workspace, &worker, &channel)
                .await?;
            ctx.print_one(&item)
        }
        ChannelCommand::Update {
            worker,
            channel,
            args,
        } => {
            let worker = resolver.resolve(Kind::Worker, &worker).await?;
            let channel = channel_sid(client, workspace, &worker, &channel).await?;
            let params = args.to_params(resolver).await?;
            let item = client
                .update_worker_channel_received(workspace, &worker, &channel, &params)
                .await?;
            ctx.print_one(&item)
        }
    }
}

/// A worker channel given as `WC…` or as its task channel's unique name or `TC…` SID.
async fn channel_sid(
    client: &Client,
    workspace: &str,
    worker: &str,
    channel: &str,
) -> Result<String, CliError> {
    if sid::is_sid(prefix::WORKER_CHANNEL, channel) {
        return Ok(channel.to_string());
    }
    let params = ListWorkerChannelParams {
        page_size: Some(1000),
        ..Default::default()
    };
    let channels = client
        .list_worker_channel(workspace, worker, &params)
        .await?
        .items;
    let found = channels.iter().find(|item| {
        item.task_channel_unique_name.as_deref() == Some(channel)
            || item.task_channel_sid.as_deref() == Some(channel)
    });
    match found.and_then(|item| item.sid.clone()) {
        Some(sid) => Ok(sid),
        None => {
            let names: Vec<String> = channels
                .iter()
                .filter_map(|item| item.task_channel_unique_name.clone())
                .collect();
            Err(CliError::usage(format!(
                "worker {worker} has no channel {channel:?} (its channels: {})",
                names.join(", ")
            )))
        }
    }
}
