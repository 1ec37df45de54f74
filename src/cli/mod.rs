//! The `trctl` command tree (clap derive) and its dispatch.
//!
//! Nouns then verbs: `trctl task create`, `trctl reservation accept`. Each noun has a
//! module in [`cmd`]; this module holds the top-level parser, the shared command
//! context ([`Ctx`]) and the mapping from outcomes to exit codes. Flag structs for the
//! API's parameters are generated into [`params`]. No HTTP details live here: commands
//! call the typed client in `crate::api`.

pub mod cmd;
pub mod config;
pub mod error;
pub mod generated;
pub mod input;
pub mod output;
pub mod resolve;
pub mod server_flags;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

pub use error::CliError;
pub use generated::params;

use crate::api::{Client, Received};
use config::GlobalArgs;
use output::Renderer;
use resolve::{Kind, Resolver};

/// trctl: drive Twilio TaskRouter from a terminal or a script.
#[derive(Parser, Debug)]
#[command(name = "trctl", version, about, propagate_version = true)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level nouns.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Workspaces: list, get, create, update, delete.
    #[command(subcommand)]
    Workspace(cmd::workspace::WorkspaceCommand),
    /// Activities (worker states).
    #[command(subcommand)]
    Activity(cmd::activity::ActivityCommand),
    /// Task channels (voice, chat, …).
    #[command(subcommand, name = "task-channel")]
    TaskChannel(cmd::task_channel::TaskChannelCommand),
    /// Task queues.
    #[command(subcommand, visible_alias = "task-queue")]
    Queue(cmd::queue::QueueCommand),
    /// Workflows, and offline checks of workflow configurations.
    #[command(subcommand)]
    Workflow(cmd::workflow::WorkflowCommand),
    /// Workers and their channels.
    #[command(subcommand)]
    Worker(cmd::worker::WorkerCommand),
    /// Tasks.
    #[command(subcommand)]
    Task(cmd::task::TaskCommand),
    /// Reservations, by task or by worker.
    #[command(subcommand)]
    Reservation(cmd::reservation::ReservationCommand),
    /// Access Tokens for TaskRouter's worker SDK (signed with an API key).
    #[command(subcommand)]
    Token(cmd::token::TokenCommand),
    /// The workspace's event log.
    #[command(subcommand)]
    Event(cmd::event::EventCommand),
    /// Statistics of the workspace, queues, workflows and workers.
    #[command(subcommand, visible_alias = "statistics")]
    Stats(cmd::stats::StatsCommand),
    /// Send any request to the API (an escape hatch, like `gh api`).
    Api(cmd::api::ApiArgs),
    /// Evaluate and check TaskRouter expressions offline.
    #[command(subcommand)]
    Expr(cmd::expr::ExprCommand),
    /// Print a shell completion script.
    Completions(cmd::completions::CompletionsArgs),
    /// The TaskRouter quickstart as a walkthrough: on an in-process emulator by default.
    Quickstart(cmd::quickstart::QuickstartArgs),
    /// Run the local TaskRouter emulator (REST API in memory, Twilio's wire format).
    Emulator(cmd::emulator::EmulatorArgs),
    /// Answer TaskRouter's assignment and event callbacks locally (checks signatures).
    Serve(cmd::serve::ServeArgs),
    /// Send a signed assignment or event callback to a URL and judge the reply as
    /// TaskRouter would (one request, or a load test with --count).
    Trigger(cmd::trigger::TriggerArgs),
}

/// What every command gets: the global flags, the renderer and standard output.
pub struct Ctx {
    /// The global flags.
    pub global: GlobalArgs,
    /// How results are printed.
    pub renderer: Renderer,
    out: Box<dyn Write>,
}

impl Ctx {
    /// A context printing to `out`.
    pub fn new(global: GlobalArgs, out: Box<dyn Write>) -> Ctx {
        let renderer = Renderer {
            format: global.output,
            fields: global.fields.clone(),
        };
        Ctx {
            global,
            renderer,
            out,
        }
    }

    /// The API client, built from the global flags (credentials are checked here).
    pub fn client(&self) -> Result<Client, CliError> {
        config::client(&self.global)
    }

    /// A resolver for the workspace given by `--workspace` (resolving its name if need be).
    pub async fn resolver<'a>(&self, client: &'a Client) -> Result<Resolver<'a>, CliError> {
        let workspace = match self.global.workspace.as_deref().filter(|w| !w.is_empty()) {
            Some(value) => Some(
                Resolver::new(client, None)
                    .resolve(Kind::Workspace, value)
                    .await?,
            ),
            None => None,
        };
        Ok(Resolver::new(client, workspace))
    }

    /// Client, resolver and workspace SID for a workspace-scoped command.
    pub async fn scoped(&self) -> Result<(Client, String), CliError> {
        let client = self.client()?;
        let workspace = self.resolver(&client).await?.workspace()?.to_string();
        Ok((client, workspace))
    }

    /// Most items to print: `None` with `--all`.
    pub fn limit(&self) -> Option<usize> {
        if self.global.all {
            None
        } else {
            Some(self.global.limit)
        }
    }

    /// The `PageSize` to request: `--page-size`, else just enough for `--limit` (≤ 1000).
    pub fn page_size(&self) -> Option<i64> {
        if self.global.page_size.is_some() {
            return self.global.page_size;
        }
        match self.limit() {
            Some(limit) if limit > 0 && limit < 50 => Some(limit as i64),
            _ => None,
        }
    }

    /// Print one resource: json/ndjson show it as the API sent it, tables and tsv
    /// through its model (so every spec field has a column).
    pub fn print_one<T: Serialize>(&mut self, item: &Received<T>) -> Result<(), CliError> {
        let value = self.view(item)?;
        let result = self.renderer.one(&mut self.out, &value);
        io_result(result)
    }

    /// Print a list of resources of the given kind (`task`, `worker`, …), each as
    /// [`Ctx::print_one`] would.
    pub fn print_many<T: Serialize>(
        &mut self,
        resource: &str,
        items: &[Received<T>],
    ) -> Result<(), CliError> {
        let values = items
            .iter()
            .map(|item| self.view(item))
            .collect::<Result<Vec<_>, _>>()?;
        let result = self.renderer.many(&mut self.out, resource, &values);
        io_result(result)
    }

    /// The value to render: the JSON as received for json/ndjson, the model otherwise.
    fn view<T: Serialize>(&self, item: &Received<T>) -> Result<serde_json::Value, CliError> {
        if self.json_output() {
            Ok(item.json.clone())
        } else {
            to_value(&item.item)
        }
    }

    /// Write raw text to standard output.
    pub fn print_text(&mut self, text: &str) -> Result<(), CliError> {
        let result = self.out.write_all(text.as_bytes());
        io_result(result)
    }

    /// Whether a machine-readable format was asked for.
    pub fn json_output(&self) -> bool {
        matches!(
            self.global.output,
            config::OutputFormat::Json | config::OutputFormat::Ndjson
        )
    }

    /// Standard output, for commands that write themselves.
    pub fn out(&mut self) -> &mut dyn Write {
        &mut self.out
    }

    /// Flush standard output (before a long-running command waits).
    pub fn flush(&mut self) -> Result<(), CliError> {
        let result = self.out.flush();
        io_result(result)
    }

    /// Report on standard error (never standard output, which scripts parse).
    pub fn note(&self, text: &str) {
        eprintln!("{text}");
    }
}

fn to_value<T: Serialize>(item: &T) -> Result<serde_json::Value, CliError> {
    serde_json::to_value(item)
        .map_err(|err| CliError::state(format!("cannot render the response: {err}")))
}

fn io_result(result: std::io::Result<()>) -> Result<(), CliError> {
    match result {
        Ok(()) => Ok(()),
        // A closed pipe (`trctl task list | head`) is not an error (ripgrep does the same).
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(CliError::usage(format!("cannot write output: {err}"))),
    }
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let out: Box<dyn Write> = Box::new(std::io::stdout());
    let mut ctx = Ctx::new(cli.global, out);
    let result = match cli.command {
        Command::Workspace(command) => cmd::workspace::run(&mut ctx, command).await,
        Command::Activity(command) => cmd::activity::run(&mut ctx, command).await,
        Command::TaskChannel(command) => cmd::task_channel::run(&mut ctx, command).await,
        Command::Queue(command) => cmd::queue::run(&mut ctx, command).await,
        Command::Workflow(command) => cmd::workflow::run_command(&mut ctx, command).await,
        Command::Worker(command) => cmd::worker::run(&mut ctx, command).await,
        Command::Task(command) => cmd::task::run(&mut ctx, command).await,
        Command::Reservation(command) => cmd::reservation::run(&mut ctx, command).await,
        Command::Event(command) => cmd::event::run(&mut ctx, command).await,
        Command::Token(command) => cmd::token::run(&mut ctx, command).await,
        Command::Stats(command) => cmd::stats::run(&mut ctx, command).await,
        Command::Api(args) => cmd::api::run(&mut ctx, args).await,
        Command::Completions(args) => cmd::completions::run(&mut ctx, args),
        Command::Expr(command) => {
            let json = ctx.json_output();
            let code = cmd::expr::run(&command, json, ctx.out(), &mut std::io::stderr());
            CliError::from_exit_code(code)
        }
        Command::Emulator(args) => cmd::emulator::run(&mut ctx, args).await,
        Command::Quickstart(args) => cmd::quickstart::run(&mut ctx, args).await,
        Command::Serve(args) => cmd::serve::run(&mut ctx, args).await,
        Command::Trigger(args) => cmd::trigger::run(&mut ctx, args).await,
    };
    let flushed = ctx.out.flush();
    result?;
    io_result(flushed)
}

/// The binary's entry point: `.env`, parse, run, print the error, exit code.
pub fn main() -> ExitCode {
    let dotenv_warning = config::load_dotenv();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version on stdout (exit 0) and usage errors on stderr (exit 2).
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                error::EXIT_USAGE
            } else {
                error::EXIT_OK
            });
        }
    };
    if let Some(warning) = dotenv_warning {
        eprintln!("{warning}");
    }
    // Servers and load runs get a worker per core; a one-shot API command needs one
    // thread, and not starting others is a measurable part of its run time.
    let servers = matches!(
        cli.command,
        Command::Emulator(_) | Command::Quickstart(_) | Command::Serve(_) | Command::Trigger(_)
    );
    let mut builder = if servers {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(error::EXIT_USAGE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(error::EXIT_OK),
        Err(err) => {
            // An empty message means the command has reported the problem itself.
            if !err.message.is_empty() {
                eprintln!("error: {}", err.message);
            }
            ExitCode::from(err.exit_code)
        }
    }
}
