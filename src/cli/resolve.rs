//! Friendly names to SIDs.
//!
//! Wherever a flag takes the SID of a workspace, workflow, queue, activity, worker or
//! task channel, it also takes the friendly name. A well-formed SID of the right kind
//! is used as is (no request); anything else costs one list call (PageSize 1000) and
//! must match exactly one resource, else the error lists the candidates.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::api::resources::*;
use crate::api::sid::{self, prefix};
use crate::api::Client;
use crate::cli::CliError;

/// Kinds of resource that can be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `WS…`
    Workspace,
    /// `WW…`
    Workflow,
    /// `WQ…`
    TaskQueue,
    /// `WA…`
    Activity,
    /// `WK…`
    Worker,
    /// `TC…` (also matched by unique name)
    TaskChannel,
}

impl Kind {
    /// SID prefix of the kind.
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Workspace => prefix::WORKSPACE,
            Kind::Workflow => prefix::WORKFLOW,
            Kind::TaskQueue => prefix::TASK_QUEUE,
            Kind::Activity => prefix::ACTIVITY,
            Kind::Worker => prefix::WORKER,
            Kind::TaskChannel => prefix::TASK_CHANNEL,
        }
    }
    /// Name of the kind in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Workspace => "workspace",
            Kind::Workflow => "workflow",
            Kind::TaskQueue => "task queue",
            Kind::Activity => "activity",
            Kind::Worker => "worker",
            Kind::TaskChannel => "task channel",
        }
    }
}

/// Resolves names within one workspace, remembering what it looked up.
pub struct Resolver<'a> {
    client: &'a Client,
    workspace: Option<String>,
    cache: Mutex<HashMap<(Kind, String), String>>,
}

/// A named candidate: (sid, names it answers to).
type Candidate = (String, Vec<String>);

const LOOKUP_PAGE_SIZE: i64 = 1000;

impl<'a> Resolver<'a> {
    /// A resolver for `workspace` (a resolved `WS…` SID; `None` for account-level use).
    pub fn new(client: &'a Client, workspace: Option<String>) -> Resolver<'a> {
        Resolver {
            client,
            workspace,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The workspace SID this resolver works in.
    pub fn workspace(&self) -> Result<&str, CliError> {
        self.workspace.as_deref().ok_or_else(|| {
            CliError::usage(
                "no workspace: pass --workspace WS… (or a workspace name), or set TWILIO_WORKSPACE_SID",
            )
        })
    }

    /// The SID for `value`: itself if it is a well-formed SID of `kind`, else the one
    /// resource whose friendly name (or unique name, for channels) is `value`.
    pub async fn resolve(&self, kind: Kind, value: &str) -> Result<String, CliError> {
        if sid::is_sid(kind.prefix(), value) {
            return Ok(value.to_string());
        }
        if sid::is_any_sid(value) {
            return Err(CliError::usage(format!(
                "{value} is not a {} SID (those start with {})",
                kind.noun(),
                kind.prefix()
            )));
        }
        if value.is_empty() {
            return Err(CliError::usage(format!(
                "empty {} name or SID",
                kind.noun()
            )));
        }
        let key = (kind, value.to_string());
        if let Some(found) = self.cache_get(&key) {
            return Ok(found);
        }
        let candidates = self.candidates(kind).await?;
        let found = pick(kind, value, &candidates)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, found.clone());
        }
        Ok(found)
    }

    fn cache_get(&self, key: &(Kind, String)) -> Option<String> {
        self.cache.lock().ok()?.get(key).cloned()
    }

    async fn candidates(&self, kind: Kind) -> Result<Vec<Candidate>, CliError> {
        let client = self.client;
        let named = |sid: Option<String>, names: Vec<Option<String>>| -> Candidate {
            (
                sid.unwrap_or_default(),
                names.into_iter().flatten().collect(),
            )
        };
        let size = Some(LOOKUP_PAGE_SIZE);
        Ok(match kind {
            Kind::Workspace => {
                let params = ListWorkspaceParams {
                    page_size: size,
                    ..Default::default()
                };
                client
                    .list_workspace(&params)
                    .await?
                    .items
                    .into_iter()
                    .map(|item| named(item.sid, vec![item.friendly_name]))
                    .collect()
            }
            Kind::Workflow => {
                let params = ListWorkflowParams {
                    page_size: size,
                    ..Default::default()
                };
                client
                    .list_workflow(self.workspace()?, &params)
                    .await?
                    .items
                    .into_iter()
                    .map(|item| named(item.sid, vec![item.friendly_name]))
                    .collect()
            }
            Kind::TaskQueue => {
                let params = ListTaskQueueParams {
                    page_size: size,
                    ..Default::default()
                };
                client
                    .list_task_queue(self.workspace()?, &params)
                    .await?
                    .items
                    .into_iter()
                    .map(|item| named(item.sid, vec![item.friendly_name]))
                    .collect()
            }
            Kind::Activity => {
                let params = ListActivityParams {
                    page_size: size,
                    ..Default::default()
                };
                client
                    .list_activity(self.workspace()?, &params)
                    .await?
                    .items
                    .into_iter()
                    .map(|item| named(item.sid, vec![item.friendly_name]))
                    .collect()
            }
            Kind::Worker => {
                let params = ListWorkerParams {
                    page_size: size,
                    ..Default::default()
                };
                client
                    .list_worker(self.workspace()?, &params)
                    .await?
                    .items
                    .into_iter()
                    .map(|item| named(item.sid, vec![item.friendly_name]))
                    .collect()
            }
            Kind::TaskChannel => {
                let params = ListTaskChannelParams {
                    page_size: size,
                    ..Default::default()
                };
                client
                    .list_task_channel(self.workspace()?, &params)
                    .await?
                    .items
                    .into_iter()
                    .map(|item| named(item.sid, vec![item.unique_name, item.friendly_name]))
                    .collect()
            }
        })
    }
}

/// Choose the one candidate named `value`: exact matches first, then case-insensitive.
fn pick(kind: Kind, value: &str, candidates: &[Candidate]) -> Result<String, CliError> {
    let exact: Vec<&Candidate> = candidates
        .iter()
        .filter(|(_, names)| names.iter().any(|name| name == value))
        .collect();
    let matches = if exact.is_empty() {
        candidates
            .iter()
            .filter(|(_, names)| names.iter().any(|name| name.eq_ignore_ascii_case(value)))
            .collect()
    } else {
        exact
    };
    match matches.as_slice() {
        [(sid, _)] => Ok(sid.clone()),
        [] => {
            let mut names: Vec<String> = candidates
                .iter()
                .filter_map(|(_, names)| names.first().cloned())
                .collect();
            names.sort();
            let listing = if names.is_empty() {
                "there are none".to_string()
            } else {
                let shown: Vec<String> = names.iter().take(20).map(|n| format!("{n:?}")).collect();
                let more = names.len().saturating_sub(20);
                if more > 0 {
                    format!("candidates: {} and {more} more", shown.join(", "))
                } else {
                    format!("candidates: {}", shown.join(", "))
                }
            };
            Err(CliError::usage(format!(
                "no {} named {value:?} ({listing})",
                kind.noun()
            )))
        }
        several => {
            let listing: Vec<String> = several
                .iter()
                .map(|(sid, names)| {
                    format!("{sid} ({})", names.first().cloned().unwrap_or_default())
                })
                .collect();
            Err(CliError::usage(format!(
                "{} name {value:?} is ambiguous; use one of the SIDs: {}",
                kind.noun(),
                listing.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates() -> Vec<Candidate> {
        vec![
            ("WQ1".into(), vec!["English".into()]),
            ("WQ2".into(), vec!["Spanish".into()]),
            ("WQ3".into(), vec!["spanish".into()]),
            ("WQ4".into(), vec!["Twin".into()]),
            ("WQ5".into(), vec!["Twin".into()]),
        ]
    }

    #[test]
    fn exact_name_wins() {
        assert_eq!(
            pick(Kind::TaskQueue, "Spanish", &candidates()).unwrap(),
            "WQ2"
        );
        assert_eq!(
            pick(Kind::TaskQueue, "english", &candidates()).unwrap(),
            "WQ1"
        );
    }

    #[test]
    fn unknown_name_lists_candidates() {
        let err = pick(Kind::TaskQueue, "French", &candidates()).unwrap_err();
        assert!(
            err.message.contains("no task queue named \"French\""),
            "{}",
            err.message
        );
        assert!(err.message.contains("\"English\""), "{}", err.message);
    }

    #[test]
    fn ambiguous_name_lists_sids() {
        let err = pick(Kind::TaskQueue, "Twin", &candidates()).unwrap_err();
        assert!(
            err.message.contains("WQ4") && err.message.contains("WQ5"),
            "{}",
            err.message
        );
        let err = pick(Kind::TaskQueue, "SPANISH", &candidates()).unwrap_err();
        assert!(err.message.contains("ambiguous"), "{}", err.message);
    }
}
