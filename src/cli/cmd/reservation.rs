//! `trctl reservation …`: reservations, addressed through their task or their worker.
//!
//! `accept` and `reject` may omit the reservation SID: they then act on the single
//! pending reservation of the task or worker, and refuse when there is none or several.

use clap::{ArgGroup, Args, Subcommand};

use super::print_pages;
use crate::api::resources::*;
use crate::api::Client;
use crate::cli::params::UpdateTaskReservationArgs;
use crate::cli::resolve::{Kind, Resolver};
use crate::cli::{CliError, Ctx};

/// Reservation commands.
#[derive(Subcommand, Debug)]
pub enum ReservationCommand {
    /// List the reservations of a task or of a worker.
    #[command(visible_alias = "ls")]
    List {
        #[command(flatten)]
        scope: Scope,
        /// Only reservations in this status.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(TASK_RESERVATION_ENUM_STATUS))]
        status: Option<String>,
    },
    /// Show one reservation.
    #[command(visible_alias = "fetch")]
    Get {
        /// Reservation SID (WR…).
        reservation: String,
        #[command(flatten)]
        scope: Scope,
    },
    /// Accept a reservation (ReservationStatus=accepted): the task becomes assigned.
    Accept {
        /// Reservation SID (WR…); default: the single pending one.
        reservation: Option<String>,
        #[command(flatten)]
        scope: Scope,
    },
    /// Reject a reservation (ReservationStatus=rejected): the task is routed again.
    Reject {
        /// Reservation SID (WR…); default: the single pending one.
        reservation: Option<String>,
        #[command(flatten)]
        scope: Scope,
        /// Activity (SID or name) to move the worker to.
        #[arg(long)]
        activity: Option<String>,
    },
    /// Update a reservation with any parameter of the API (instructions: dequeue,
    /// call, conference, redirect, supervise).
    Update {
        /// Reservation SID (WR…).
        reservation: String,
        #[command(flatten)]
        scope: Scope,
        #[command(flatten)]
        args: Box<UpdateTaskReservationArgs>,
    },
}

/// Whose reservation: a task's or a worker's (exactly one of the two, except that
/// `list --task T --worker W` filters the task's reservations by worker).
#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("scope").required(true).multiple(true).args(["task", "worker"])))]
pub struct Scope {
    /// Task SID (WT…).
    #[arg(long)]
    pub task: Option<String>,
    /// Worker SID or friendly name.
    #[arg(long)]
    pub worker: Option<String>,
}

enum Target {
    Task(String),
    Worker(String),
}

impl Scope {
    async fn target(&self, resolver: &Resolver<'_>) -> Result<Target, CliError> {
        match (&self.task, &self.worker) {
            (Some(task), None) => Ok(Target::Task(task.clone())),
            (None, Some(worker)) => Ok(Target::Worker(resolver.resolve(Kind::Worker, worker).await?)),
            _ => Err(CliError::usage(
                "--task and --worker both given: a reservation is addressed through one of them (pass only one)",
            )),
        }
    }
}

/// Run a reservation command.
pub async fn run(ctx: &mut Ctx, command: ReservationCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    let resolver = ctx.resolver(&client).await?;
    let workspace = resolver.workspace()?.to_string();
    match command {
        ReservationCommand::List { scope, status } => {
            if let (Some(task), Some(worker)) = (&scope.task, &scope.worker) {
                let params = ListTaskReservationParams {
                    reservation_status: status,
                    worker_sid: Some(resolver.resolve(Kind::Worker, worker).await?),
                    page_size: ctx.page_size(),
                    ..Default::default()
                };
                let page = client
                    .list_task_reservation_received(&workspace, task, &params)
                    .await?;
                return print_pages(ctx, &client, "reservation", page).await;
            }
            match scope.target(&resolver).await? {
                Target::Task(task) => {
                    let params = ListTaskReservationParams {
                        reservation_status: status,
                        page_size: ctx.page_size(),
                        ..Default::default()
                    };
                    let page = client
                        .list_task_reservation_received(&workspace, &task, &params)
                        .await?;
                    print_pages(ctx, &client, "reservation", page).await
                }
                Target::Worker(worker) => {
                    let params = ListWorkerReservationParams {
                        reservation_status: status,
                        page_size: ctx.page_size(),
                        ..Default::default()
                    };
                    let page = client
                        .list_worker_reservation_received(&workspace, &worker, &params)
                        .await?;
                    print_pages(ctx, &client, "reservation", page).await
                }
            }
        }
        ReservationCommand::Get { reservation, scope } => match scope.target(&resolver).await? {
            Target::Task(task) => {
                let item = client
                    .fetch_task_reservation_received(&workspace, &task, &reservation)
                    .await?;
                ctx.print_one(&item)
            }
            Target::Worker(worker) => {
                let item = client
                    .fetch_worker_reservation_received(&workspace, &worker, &reservation)
                    .await?;
                ctx.print_one(&item)
            }
        },
        ReservationCommand::Accept { reservation, scope } => {
            let params = UpdateTaskReservationParams {
                reservation_status: Some("accepted".to_string()),
                ..Default::default()
            };
            let target = scope.target(&resolver).await?;
            update(ctx, &client, &workspace, target, reservation, &params).await
        }
        ReservationCommand::Reject {
            reservation,
            scope,
            activity,
        } => {
            let activity = match activity {
                Some(activity) => Some(resolver.resolve(Kind::Activity, &activity).await?),
                None => None,
            };
            let params = UpdateTaskReservationParams {
                reservation_status: Some("rejected".to_string()),
                worker_activity_sid: activity,
                ..Default::default()
            };
            let target = scope.target(&resolver).await?;
            update(ctx, &client, &workspace, target, reservation, &params).await
        }
        ReservationCommand::Update {
            reservation,
            scope,
            args,
        } => {
            let params = args.to_params(&resolver).await?;
            let target = scope.target(&resolver).await?;
            if matches!(target, Target::Worker(_))
                && (params.supervisor.is_some() || params.supervisor_mode.is_some())
            {
                return Err(CliError::usage(
                    "--supervisor and --supervisor-mode only work through the task (use --task instead of --worker)",
                ));
            }
            if params.reservation_status.is_none() && params.instruction.is_none() {
                return Err(CliError::usage(
                    "nothing to update: pass --reservation-status or --instruction",
                ));
            }
            update(ctx, &client, &workspace, target, Some(reservation), &params).await
        }
    }
}

async fn update(
    ctx: &mut Ctx,
    client: &Client,
    workspace: &str,
    target: Target,
    reservation: Option<String>,
    params: &UpdateTaskReservationParams,
) -> Result<(), CliError> {
    match target {
        Target::Task(task) => {
            let reservation = match reservation {
                Some(sid) => sid,
                None => {
                    let pending = ListTaskReservationParams {
                        reservation_status: Some("pending".to_string()),
                        page_size: Some(50),
                        ..Default::default()
                    };
                    let page = client
                        .list_task_reservation(workspace, &task, &pending)
                        .await?;
                    let sids = client.collect(page, Some(50)).await?;
                    single_pending(
                        "task",
                        &task,
                        sids.into_iter().filter_map(|r| r.sid).collect(),
                    )?
                }
            };
            let item = client
                .update_task_reservation_received(workspace, &task, &reservation, params)
                .await?;
            ctx.print_one(&item)
        }
        Target::Worker(worker) => {
            let reservation = match reservation {
                Some(sid) => sid,
                None => {
                    let pending = ListWorkerReservationParams {
                        reservation_status: Some("pending".to_string()),
                        page_size: Some(50),
                        ..Default::default()
                    };
                    let page = client
                        .list_worker_reservation(workspace, &worker, &pending)
                        .await?;
                    let sids = client.collect(page, Some(50)).await?;
                    single_pending(
                        "worker",
                        &worker,
                        sids.into_iter().filter_map(|r| r.sid).collect(),
                    )?
                }
            };
            let params = UpdateWorkerReservationParams::from_task_params(params);
            let item = client
                .update_worker_reservation_received(workspace, &worker, &reservation, &params)
                .await?;
            ctx.print_one(&item)
        }
    }
}

fn single_pending(noun: &str, sid: &str, pending: Vec<String>) -> Result<String, CliError> {
    match pending.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(CliError::state(format!(
            "{noun} {sid} has no pending reservation"
        ))),
        several => Err(CliError::state(format!(
            "{noun} {sid} has {} pending reservations; name one: {}",
            several.len(),
            several.join(", ")
        ))),
    }
}
