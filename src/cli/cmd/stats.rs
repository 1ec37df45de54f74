//! `trctl stats …`: real-time, cumulative, or both, for the workspace, a queue, all
//! queues, a workflow, all workers, or one worker.

use clap::{Args, Subcommand};

use super::print_pages;
use crate::api::resources::*;
use crate::cli::resolve::Kind;
use crate::cli::{CliError, Ctx};

/// Statistics commands.
#[derive(Subcommand, Debug)]
pub enum StatsCommand {
    /// The workspace's statistics.
    Workspace {
        #[command(flatten)]
        window: Window,
    },
    /// One task queue's statistics.
    Queue {
        /// Task queue SID or friendly name.
        queue: String,
        #[command(flatten)]
        window: Window,
    },
    /// Every task queue's statistics (a list); with --realtime, the bulk real-time
    /// statistics of the queues named by --queue.
    Queues {
        /// Only the queue with this friendly name.
        #[arg(long, visible_alias = "name")]
        friendly_name: Option<String>,
        /// With --realtime: queues (SID or name) to report on, 1-50.
        #[arg(long = "queue", value_delimiter = ',')]
        queues: Vec<String>,
        #[command(flatten)]
        window: Window,
    },
    /// One workflow's statistics.
    Workflow {
        /// Workflow SID or friendly name.
        workflow: String,
        #[command(flatten)]
        window: Window,
    },
    /// Statistics of all workers.
    Workers {
        /// Only workers eligible for this queue (SID or name).
        #[arg(long = "task-queue-sid", visible_aliases = ["task-queue", "queue"])]
        task_queue_sid: Option<String>,
        /// Only workers eligible for queues whose name contains this.
        #[arg(long)]
        task_queue_name: Option<String>,
        /// Only workers whose friendly name contains this.
        #[arg(long, visible_alias = "name")]
        friendly_name: Option<String>,
        #[command(flatten)]
        window: Window,
    },
    /// One worker's cumulative statistics.
    Worker {
        /// Worker SID or friendly name.
        worker: String,
        #[command(flatten)]
        window: Window,
    },
}

/// Which statistics and over which window.
#[derive(Args, Debug, Clone, Default)]
pub struct Window {
    /// Only the real-time statistics.
    #[arg(long, conflicts_with = "cumulative")]
    pub realtime: bool,
    /// Only the cumulative statistics.
    #[arg(long)]
    pub cumulative: bool,
    /// Window length in minutes, ending now (TaskRouter's default: 15).
    #[arg(long)]
    pub minutes: Option<i64>,
    /// Window start (ISO 8601, e.g. 2024-01-02T00:00:00Z).
    #[arg(long)]
    pub start_date: Option<String>,
    /// Window end (ISO 8601).
    #[arg(long)]
    pub end_date: Option<String>,
    /// Only tasks of this channel (SID or unique name).
    #[arg(long, visible_alias = "channel")]
    pub task_channel: Option<String>,
    /// Comma-separated wait-time thresholds in seconds, e.g. 5,30.
    #[arg(long)]
    pub split_by_wait_time: Option<String>,
}

impl Window {
    /// Real-time statistics have no window: refuse the window flags with them.
    fn check_realtime(&self) -> Result<(), CliError> {
        let window_flags = [
            ("--minutes", self.minutes.is_some()),
            ("--start-date", self.start_date.is_some()),
            ("--end-date", self.end_date.is_some()),
            ("--split-by-wait-time", self.split_by_wait_time.is_some()),
        ];
        match window_flags.iter().find(|(_, set)| *set) {
            Some((flag, _)) => Err(CliError::usage(format!(
                "{flag} does not apply to --realtime statistics (drop it, or drop --realtime)"
            ))),
            None => Ok(()),
        }
    }

    fn refuse_split(&self, scope: &str) -> Result<(), CliError> {
        if self.split_by_wait_time.is_some() {
            return Err(CliError::usage(format!(
                "--split-by-wait-time is not available for {scope} statistics"
            )));
        }
        Ok(())
    }
}

/// Run a statistics command.
pub async fn run(ctx: &mut Ctx, command: StatsCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    let resolver = ctx.resolver(&client).await?;
    let ws = resolver.workspace()?.to_string();
    match command {
        StatsCommand::Workspace { window: w } => {
            if w.realtime {
                w.check_realtime()?;
                let params = FetchWorkspaceRealTimeStatisticsParams {
                    task_channel: w.task_channel,
                };
                ctx.print_one(
                    &client
                        .fetch_workspace_real_time_statistics_received(&ws, &params)
                        .await?,
                )
            } else if w.cumulative {
                let params = FetchWorkspaceCumulativeStatisticsParams {
                    end_date: w.end_date,
                    minutes: w.minutes,
                    start_date: w.start_date,
                    task_channel: w.task_channel,
                    split_by_wait_time: w.split_by_wait_time,
                };
                ctx.print_one(
                    &client
                        .fetch_workspace_cumulative_statistics_received(&ws, &params)
                        .await?,
                )
            } else {
                let params = FetchWorkspaceStatisticsParams {
                    minutes: w.minutes,
                    start_date: w.start_date,
                    end_date: w.end_date,
                    task_channel: w.task_channel,
                    split_by_wait_time: w.split_by_wait_time,
                };
                ctx.print_one(
                    &client
                        .fetch_workspace_statistics_received(&ws, &params)
                        .await?,
                )
            }
        }
        StatsCommand::Queue { queue, window: w } => {
            let queue = resolver.resolve(Kind::TaskQueue, &queue).await?;
            if w.realtime {
                w.check_realtime()?;
                let params = FetchTaskQueueRealTimeStatisticsParams {
                    task_channel: w.task_channel,
                };
                ctx.print_one(
                    &client
                        .fetch_task_queue_real_time_statistics_received(&ws, &queue, &params)
                        .await?,
                )
            } else if w.cumulative {
                let params = FetchTaskQueueCumulativeStatisticsParams {
                    end_date: w.end_date,
                    minutes: w.minutes,
                    start_date: w.start_date,
                    task_channel: w.task_channel,
                    split_by_wait_time: w.split_by_wait_time,
                };
                ctx.print_one(
                    &client
                        .fetch_task_queue_cumulative_statistics_received(&ws, &queue, &params)
                        .await?,
                )
            } else {
                let params = FetchTaskQueueStatisticsParams {
                    end_date: w.end_date,
                    minutes: w.minutes,
                    start_date: w.start_date,
                    task_channel: w.task_channel,
                    split_by_wait_time: w.split_by_wait_time,
                };
                ctx.print_one(
                    &client
                        .fetch_task_queue_statistics_received(&ws, &queue, &params)
                        .await?,
                )
            }
        }
        StatsCommand::Queues {
            friendly_name,
            queues,
            window: w,
        } => {
            if w.realtime {
                w.check_realtime()?;
                if w.task_channel.is_some() || friendly_name.is_some() {
                    return Err(CliError::usage(
                        "bulk real-time statistics take only --queue (drop --task-channel / --friendly-name)",
                    ));
                }
                if queues.is_empty() || queues.len() > 50 {
                    return Err(CliError::usage(format!(
                        "--realtime needs 1 to 50 --queue values, got {}",
                        queues.len()
                    )));
                }
                let mut queue_sids = Vec::with_capacity(queues.len());
                for queue in &queues {
                    queue_sids.push(resolver.resolve(Kind::TaskQueue, queue).await?);
                }
                let params = CreateTaskQueueBulkRealTimeStatisticsParams { queue_sids };
                return ctx.print_one(
                    &client
                        .create_task_queue_bulk_real_time_statistics_received(&ws, &params)
                        .await?,
                );
            }
            if !queues.is_empty() {
                return Err(CliError::usage("--queue only applies with --realtime"));
            }
            if w.cumulative {
                return Err(CliError::usage(
                    "the queue statistics list always has both parts (drop --cumulative)",
                ));
            }
            let params = ListTaskQueuesStatisticsParams {
                end_date: w.end_date,
                friendly_name,
                minutes: w.minutes,
                start_date: w.start_date,
                task_channel: w.task_channel,
                split_by_wait_time: w.split_by_wait_time,
                page_size: ctx.page_size(),
                ..Default::default()
            };
            let page = client
                .list_task_queues_statistics_received(&ws, &params)
                .await?;
            print_pages(ctx, &client, "task_queue_statistics", page).await
        }
        StatsCommand::Workflow {
            workflow,
            window: w,
        } => {
            let workflow = resolver.resolve(Kind::Workflow, &workflow).await?;
            if w.realtime {
                w.check_realtime()?;
                let params = FetchWorkflowRealTimeStatisticsParams {
                    task_channel: w.task_channel,
                };
                ctx.print_one(
                    &client
                        .fetch_workflow_real_time_statistics_received(&ws, &workflow, &params)
                        .await?,
                )
            } else if w.cumulative {
                let params = FetchWorkflowCumulativeStatisticsParams {
                    end_date: w.end_date,
                    minutes: w.minutes,
                    start_date: w.start_date,
                    task_channel: w.task_channel,
                    split_by_wait_time: w.split_by_wait_time,
                };
                ctx.print_one(
                    &client
                        .fetch_workflow_cumulative_statistics_received(&ws, &workflow, &params)
                        .await?,
                )
            } else {
                let params = FetchWorkflowStatisticsParams {
                    minutes: w.minutes,
                    start_date: w.start_date,
                    end_date: w.end_date,
                    task_channel: w.task_channel,
                    split_by_wait_time: w.split_by_wait_time,
                };
                ctx.print_one(
                    &client
                        .fetch_workflow_statistics_received(&ws, &workflow, &params)
                        .await?,
                )
            }
        }
        StatsCommand::Workers {
            task_queue_sid,
            task_queue_name,
            friendly_name,
            window: w,
        } => {
            w.refuse_split("worker")?;
            let filtered =
                task_queue_sid.is_some() || task_queue_name.is_some() || friendly_name.is_some();
            if (w.realtime || w.cumulative) && filtered {
                return Err(CliError::usage(
                    "--task-queue / --task-queue-name / --friendly-name only apply without --realtime or --cumulative",
                ));
            }
            if w.realtime {
                w.check_realtime()?;
                let params = FetchWorkersRealTimeStatisticsParams {
                    task_channel: w.task_channel,
                };
                ctx.print_one(
                    &client
                        .fetch_workers_real_time_statistics_received(&ws, &params)
                        .await?,
                )
            } else if w.cumulative {
                let params = FetchWorkersCumulativeStatisticsParams {
                    end_date: w.end_date,
                    minutes: w.minutes,
                    start_date: w.start_date,
                    task_channel: w.task_channel,
                };
                ctx.print_one(
                    &client
                        .fetch_workers_cumulative_statistics_received(&ws, &params)
                        .await?,
                )
            } else {
                let task_queue_sid = match task_queue_sid {
                    Some(queue) => Some(resolver.resolve(Kind::TaskQueue, &queue).await?),
                    None => None,
                };
                let params = FetchWorkerStatisticsParams {
                    minutes: w.minutes,
                    start_date: w.start_date,
                    end_date: w.end_date,
                    task_queue_sid,
                    task_queue_name,
                    friendly_name,
                    task_channel: w.task_channel,
                };
                ctx.print_one(
                    &client
                        .fetch_worker_statistics_received(&ws, &params)
                        .await?,
                )
            }
        }
        StatsCommand::Worker { worker, window: w } => {
            w.refuse_split("worker")?;
            if w.realtime {
                return Err(CliError::usage(
                    "one worker's statistics are cumulative only (drop --realtime; see `stats workers --realtime`)",
                ));
            }
            let worker = resolver.resolve(Kind::Worker, &worker).await?;
            let params = FetchWorkerInstanceStatisticsParams {
                minutes: w.minutes,
                start_date: w.start_date,
                end_date: w.end_date,
                task_channel: w.task_channel,
            };
            ctx.print_one(
                &client
                    .fetch_worker_instance_statistics_received(&ws, &worker, &params)
                    .await?,
            )
        }
    }
}
