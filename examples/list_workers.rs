//! Library use of the typed client: list a workspace's workers and their activities.
//!
//! ```sh
//! TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=… TWILIO_WORKSPACE_SID=WS… \
//!     cargo run --example list_workers
//! ```
//! `TRCTL_BASE_URL` points it at another server (an emulator on loopback, say).

use trctl::api::resources::ListWorkerParams;
use trctl::api::{Client, Credentials, Secret, DEFAULT_BASE_URL};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let var = |name: &str| {
        std::env::var(name).map_err(|_| anyhow::anyhow!("set {name} (see the comment at the top)"))
    };
    let credentials = Credentials {
        username: var("TWILIO_ACCOUNT_SID")?,
        password: Secret::new(var("TWILIO_AUTH_TOKEN")?),
    };
    let workspace = var("TWILIO_WORKSPACE_SID")?;
    let base_url = std::env::var("TRCTL_BASE_URL").unwrap_or_else(|_| DEFAULT_BASE_URL.to_string());
    let client = Client::builder(credentials).base_url(base_url).build()?;
    let first = client
        .list_worker(&workspace, &ListWorkerParams::default())
        .await?;
    for worker in client.collect(first, None).await? {
        println!(
            "{}  {:<20} {}",
            worker.sid.unwrap_or_default(),
            worker.friendly_name.unwrap_or_default(),
            worker.activity_name.unwrap_or_default()
        );
    }
    Ok(())
}
