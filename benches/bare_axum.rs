//! The ceiling for `trctl serve` on this machine: an axum handler that answers every
//! `POST /assignment_callback` with `200 {}` and does nothing else (no form parsing, no
//! signature, no logging). `scripts/bench.sh` loads it with `trctl trigger` exactly as it
//! loads `trctl serve`, so the two figures compare like with like.
//!
//! Not a criterion benchmark: `cargo bench --bench bare_axum -- PORT` serves on
//! 127.0.0.1:PORT (0 picks a free port) until killed, and prints `listening on URL`.

use axum::http::header;
use axum::routing::post;
use axum::Router;

async fn empty_object() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/json")], "{}")
}

fn main() -> std::io::Result<()> {
    // cargo bench passes `--bench`; the port is the first argument that is a number.
    let port: u16 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(0);
    // The same runtime shape as `trctl serve`: tokio's multi-threaded scheduler.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let app = Router::new().route("/assignment_callback", post(empty_object));
        axum::serve(listener, app).await
    })
}
