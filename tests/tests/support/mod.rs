//! A scripted HTTP/1.1 server on loopback, raw TCP so that it can fail the
//! ways real servers and networks do: cut a body short, reset a connection
//! after reading the request, never answer.
//!
//! Each request gets the next reply of the script; once the script is
//! spent, `200 ok`. Every connection serves one request and is closed
//! (`Connection: close`), so each attempt of a client is a new connection.

#![allow(dead_code)] // each test file uses part of it

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the server answers one request.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// A whole response.
    Status {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// `200` with `Content-Length: 100`, 10 bytes of body, then the
    /// connection closes: the answer is lost mid-transfer.
    CutBody,
    /// The request is read in full, then the connection is reset: it may
    /// have been processed, the answer never comes.
    ResetAfterRequest,
    /// The request is read, and nothing is answered for this long.
    Stall(Duration),
}

/// A reply with a status and no headers.
pub(crate) fn status(status: u16) -> Reply {
    Reply::Status {
        status,
        headers: Vec::new(),
        body: format!("status {status}"),
    }
}

/// A reply with a status and one header.
pub(crate) fn with_header(status: u16, name: &'static str, value: impl Into<String>) -> Reply {
    Reply::Status {
        status,
        headers: vec![(name, value.into())],
        body: format!("status {status}"),
    }
}

/// A `200` with `body`.
pub(crate) fn ok(body: &str) -> Reply {
    Reply::Status {
        status: 200,
        headers: Vec::new(),
        body: body.to_owned(),
    }
}

/// One request the server read.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    /// Header names lowercased, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    script: Vec<Reply>,
    seen: Vec<Seen>,
}

/// A running scripted server; it stops when dropped.
pub(crate) struct Server {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub(crate) async fn start(script: impl IntoIterator<Item = Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut script: Vec<Reply> = script.into_iter().collect();
        script.reverse();
        let state = Arc::new(Mutex::new(State {
            script,
            seen: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&shared)));
            }
        });
        Server { addr, state, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The requests read so far, in order.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seen
            .clone()
    }

    pub(crate) fn count(&self) -> usize {
        self.seen().len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback URL on which nothing listens: connections are refused.
pub(crate) async fn refusing_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/")
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let Some(seen) = read_request(&mut stream).await else {
        return;
    };
    let reply = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        state.seen.push(seen);
        state.script.pop().unwrap_or_else(|| ok("ok"))
    };
    match reply {
        Reply::Status {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\nconnection: close\r\n",
                reason(status),
                body.len()
            );
            for (name, value) in headers {
                head.push_str(name);
                head.push_str(": ");
                head.push_str(&value);
                head.push_str("\r\n");
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Reply::CutBody => {
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(b"0123456789").await;
            let _ = stream.flush().await;
            drop(stream);
        }
        Reply::ResetAfterRequest => {
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        Reply::Stall(duration) => {
            tokio::time::sleep(duration).await;
            drop(stream);
        }
    }
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}

/// Reads one request: its head, then a `Content-Length` or chunked body.
async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let value = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = buffer[head_end + 4..].to_vec();
    if let Some(length) = value("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while body.len() < length {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if value("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while find(&body, b"0\r\n\r\n").is_none() {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
