//! The hardened listener both `trctl emulator` and `trctl serve` run on: half-sent
//! requests time out, SIGTERM stops the process whatever clients do, idle connections
//! are shed at the connection limit so a fresh request is still answered, and bodies
//! over the emulator's limit get 413.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{raw_status, ServerProcess};

const HEALTH: &str = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/// How long until the server closes `stream` (EOF or reset), up to `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            Err(_) => return Some(started.elapsed()),
        }
    }
}

fn emulator(extra: &[&str]) -> ServerProcess {
    let mut args = vec!["emulator"];
    args.extend_from_slice(extra);
    ServerProcess::start(&args)
}

#[test]
fn half_sent_headers_and_idle_connections_are_closed_at_the_header_timeout() {
    for server in [
        emulator(&["--header-timeout", "1"]),
        ServerProcess::start(&["serve", "--header-timeout", "1"]),
    ] {
        let mut idle = TcpStream::connect(server.addr).unwrap();
        let mut half = TcpStream::connect(server.addr).unwrap();
        half.write_all(b"POST /v1/Workspaces HTTP/1.1\r\nHost: t\r\nContent-Ty")
            .unwrap();
        for stream in [&mut idle, &mut half] {
            let closed = closed_within(stream, Duration::from_secs(10));
            assert!(closed.is_some(), "{}: still open after 10 s", server.url);
        }
        // The server itself is fine.
        assert!(raw_status(server.addr, HEALTH, Duration::from_secs(5)).is_some());
    }
}

#[test]
fn a_half_sent_body_is_answered_408_at_the_body_timeout() {
    let auth = "Authorization: Basic QUMwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDp0cmN0bC1lbXVsYXRvci10b2tlbg==\r\n";
    for (server, path) in [
        (emulator(&["--body-timeout", "1"]), "/v1/Workspaces"),
        (
            ServerProcess::start(&["serve", "--body-timeout", "1"]),
            "/assignment_callback",
        ),
    ] {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\n{auth}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nFriendlyName=a"
        );
        stream.write_all(request.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = [0u8; 12];
        let read = stream.read(&mut answer).unwrap_or(0);
        let status = String::from_utf8_lossy(&answer[..read]).to_string();
        assert_eq!(status, "HTTP/1.1 408", "{}: {status:?}", server.url);
    }
}

#[test]
fn sigterm_exits_within_the_shutdown_deadline_with_a_half_sent_request_pending() {
    for mut server in [
        emulator(&["--header-timeout", "60", "--shutdown-timeout", "2"]),
        ServerProcess::start(&["serve", "--header-timeout", "60", "--shutdown-timeout", "2"]),
    ] {
        let mut half = TcpStream::connect(server.addr).unwrap();
        half.write_all(b"POST /v1/Workspaces HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\nab")
            .unwrap();
        let idle = TcpStream::connect(server.addr).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        server.terminate();
        let status = server.wait_for_exit(Duration::from_secs(10));
        assert!(
            status.is_some(),
            "{} still running 10 s after SIGTERM",
            server.url
        );
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "took {:?}",
            started.elapsed()
        );
        drop((half, idle));
    }
}

#[test]
fn at_the_connection_limit_idle_connections_make_room_for_a_new_request() {
    let server = ServerProcess::start(&["serve", "--max-connections", "500"]);
    // A request in progress (its body half sent) is never shed.
    let mut busy = TcpStream::connect(server.addr).unwrap();
    busy.write_all(b"POST /assignment_callback HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\nConnection: close\r\n\r\nTaskSid=")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Far more idle connections than the limit (the kernel completes each handshake;
    // the server sheds the quietest as new ones arrive).
    let mut idle = Vec::new();
    for _ in 0..5_000 {
        match TcpStream::connect_timeout(&server.addr, Duration::from_secs(5)) {
            Ok(stream) => idle.push(stream),
            Err(err) => panic!("connect {} failed: {err}", idle.len()),
        }
    }
    assert_eq!(idle.len(), 5_000);
    let status = raw_status(server.addr, HEALTH, Duration::from_secs(10));
    assert_eq!(status, Some(200));
    busy.write_all(b"WT").unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = busy.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    drop(idle);
}

#[test]
fn emulator_bodies_over_the_limit_get_413() {
    let server = emulator(&[]);
    let body = "FriendlyName=".to_string() + &"a".repeat(3 * 1024 * 1024);
    let request = format!(
        "POST /v1/Workspaces HTTP/1.1\r\nHost: t\r\nAuthorization: Basic QUMwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDp0cmN0bC1lbXVsYXRvci10b2tlbg==\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(
        raw_status(server.addr, &request, Duration::from_secs(10)),
        Some(413)
    );
}
