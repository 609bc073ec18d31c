//! An HTTP CONNECT proxy on 127.0.0.1 for tests. It records each tunnel and, because the tests
//! tunnel plain `http://` endpoints, every request sent through it (head and body). It can
//! demand proxy credentials, refuse tunnels (an unreachable service), and give STS AssumeRole
//! calls a short DurationSeconds (AWS's minimum is 900 s; moto takes any).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request seen inside a tunnel.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `host:port` of the tunnel.
    pub target: String,
    /// Request line and headers.
    pub head: String,
    /// Body as sent upstream (after any rewriting).
    pub body: Vec<u8>,
}

impl Recorded {
    /// The access key id in the SigV4 Authorization header.
    pub fn access_key_id(&self) -> Option<String> {
        let line = self.head.lines().find(|l| l.to_ascii_lowercase().starts_with("authorization:"))?;
        let credential = line.split("Credential=").nth(1)?;
        Some(credential.split('/').next()?.to_owned())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Default)]
struct State {
    tunnels: Mutex<Vec<(String, Option<String>)>>,
    requests: Mutex<Vec<Recorded>>,
    refuse: AtomicBool,
    /// 0 = leave AssumeRole alone.
    assume_role_seconds: AtomicU32,
}

/// A running proxy; it stops with the runtime that drives it.
pub struct RecordingProxy {
    pub port: u16,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

impl RecordingProxy {
    pub fn start() -> RecordingProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("recording-proxy")
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(tunnel(client, shared.clone()));
            }
        });
        RecordingProxy { port, state, _runtime: runtime }
    }

    /// `http://127.0.0.1:PORT`, with `user:password@` when given.
    pub fn url(&self, auth: Option<(&str, &str)>) -> String {
        match auth {
            Some((user, password)) => format!("http://{user}:{password}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// Answers CONNECT with 502 from now on (true) or tunnels again (false).
    pub fn refuse(&self, refuse: bool) {
        self.state.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Sets DurationSeconds of every AssumeRole sent through the proxy from now on.
    pub fn assume_role_duration(&self, seconds: u32) {
        self.state.assume_role_seconds.store(seconds, Ordering::SeqCst);
    }

    /// `(host:port, Proxy-Authorization value)` of every CONNECT.
    pub fn tunnels(&self) -> Vec<(String, Option<String>)> {
        self.state.tunnels.lock().expect("tunnels").clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("requests").clone()
    }

    /// Requests whose head contains `marker` (e.g. "Kinesis_20131202.PutRecords").
    pub fn requests_with(&self, marker: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.head.contains(marker) || r.body_text().contains(marker)).collect()
    }
}

async fn tunnel(mut client: TcpStream, state: Arc<State>) {
    let Some((head, _)) = read_head(&mut client, &mut Vec::new()).await else { return };
    let mut lines = head.lines();
    let target = lines.next().and_then(|l| l.strip_prefix("CONNECT ")).and_then(|l| l.split(' ').next());
    let Some(target) = target.map(str::to_owned) else {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n").await;
        return;
    };
    let auth = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization")))
        .map(|(_, v)| v.trim().to_owned());
    state.tunnels.lock().expect("tunnels").push((target.clone(), auth));
    if state.refuse.load(Ordering::SeqCst) {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n").await;
        return;
    }
    let Ok(upstream) = TcpStream::connect(&target).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n").await;
        return;
    };
    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
        return;
    }
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_upstream, mut to_upstream) = upstream.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_upstream, &mut to_client).await;
    });
    // Requests are read one by one (Content-Length bodies: what the SDK sends to these peers).
    let mut buffer = Vec::new();
    loop {
        let Some((head, body_start)) = read_head(&mut from_client, &mut buffer).await else { return };
        let length = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        let mut body = buffer.split_off(body_start);
        buffer.clear();
        while body.len() < length {
            let mut chunk = [0u8; 8192];
            match from_client.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        buffer = body.split_off(length);
        let (head, body) = rewrite(&state, head, body);
        state.requests.lock().expect("requests").push(Recorded {
            target: target.clone(),
            head: head.clone(),
            body: body.clone(),
        });
        if to_upstream.write_all(head.as_bytes()).await.is_err() || to_upstream.write_all(&body).await.is_err() {
            return;
        }
    }
}

/// Adds DurationSeconds to AssumeRole bodies when asked to, fixing Content-Length.
fn rewrite(state: &State, head: String, body: Vec<u8>) -> (String, Vec<u8>) {
    let seconds = state.assume_role_seconds.load(Ordering::SeqCst);
    let text = String::from_utf8_lossy(&body);
    if seconds == 0 || !text.contains("Action=AssumeRole") || text.contains("DurationSeconds=") {
        return (head, body);
    }
    let body = format!("{text}&DurationSeconds={seconds}").into_bytes();
    let head = head
        .split("\r\n")
        .map(|line| match line.split_once(':') {
            Some((name, _)) if name.eq_ignore_ascii_case("content-length") => format!("{name}: {}", body.len()),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    (head, body)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
}

/// Reads up to the end of a request head; returns the head (with its final CRLFCRLF) and
/// where the bytes after it start in `buffer`.
async fn read_head<R: AsyncReadExt + Unpin>(reader: &mut R, buffer: &mut Vec<u8>) -> Option<(String, usize)> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end + 4]).into_owned();
            return Some((head, end + 4));
        }
        let mut chunk = [0u8; 8192];
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}
