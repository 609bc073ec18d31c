//! The server handle: listener, connections, outages and shutdown.

use crate::config::{Limits, ServerConfig};
use crate::conn_io::{ConnIo, ConnectionControl};
use crate::error::ServiceError;
use crate::faults::Faults;
use crate::http;
use crate::state::State;
use crate::stats::{FaultKind, Stats};
use crate::store::{Registry, ShardRecords};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// How long connections may finish a request in flight when the server stops or an
/// outage begins, before they are cut.
const CLOSE_GRACE: Duration = Duration::from_millis(100);
/// Pause after a failed accept.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);
/// Retry delay when the port cannot be bound again after an outage.
const REBIND_RETRY: Duration = Duration::from_millis(20);

/// What request handlers share: the state and a way to reach the accept loop.
pub(crate) struct Context {
    pub state: State,
    pub commands: mpsc::UnboundedSender<Command>,
}

/// Orders for the accept loop.
pub(crate) enum Command {
    /// Stop listening and drop connections for a while; acknowledged once closed.
    Outage(Duration, oneshot::Sender<()>),
    /// Stop for good.
    Stop,
}

/// A running Kinesis-compatible test server on 127.0.0.1.
pub struct TestServer {
    context: Arc<Context>,
    address: SocketAddr,
    tls: bool,
    cert_pem: Option<String>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Binds 127.0.0.1:`config.port`, creates the configured streams and starts serving.
    pub async fn start(config: ServerConfig) -> io::Result<TestServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let address = listener.local_addr()?;
        let (acceptor, cert_pem) = if config.tls {
            let (acceptor, pem) = crate::tls::self_signed_acceptor()?;
            if let Some(path) = &config.cert_pem_path {
                write_file(path, &pem)?;
            }
            (Some(acceptor), Some(pem))
        } else {
            (None, None)
        };
        let region = config.region.unwrap_or_else(|| "us-east-1".to_string());
        let registry = Registry::new(region, config.blackhole);
        for (name, shards) in &config.streams {
            registry.create(name, *shards).map_err(io::Error::other)?;
        }
        let seed = config.seed.unwrap_or_else(rand::random);
        let (commands, receiver) = mpsc::unbounded_channel();
        let context = Arc::new(Context { state: State::new(registry, config.faults, config.limits, seed), commands });
        let task = tokio::spawn(accept_loop(listener, address, acceptor, context.clone(), receiver));
        Ok(TestServer { context, address, tls: config.tls, cert_pem, task: Some(task) })
    }

    /// Base URL for clients: `http://127.0.0.1:PORT` (or `https://` with TLS).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The self-signed certificate (PEM) when serving TLS.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// The seed of the fault dice (drawn at start when none was configured).
    pub fn seed(&self) -> u64 {
        self.context.state.seed
    }

    /// Replaces the injected faults.
    pub fn set_faults(&self, faults: Faults) {
        self.context.state.set_faults(faults);
    }

    /// The injected faults now.
    pub fn faults(&self) -> Faults {
        (*self.context.state.faults()).clone()
    }

    /// Replaces the size and count limits.
    pub fn set_limits(&self, limits: Limits) {
        self.context.state.set_limits(limits);
    }

    /// Creates a stream with `shards` evenly split shards.
    pub fn create_stream(&self, name: &str, shards: u32) -> Result<(), ServiceError> {
        self.context.state.registry.create(name, shards).map(|_| ())
    }

    /// Every shard of `stream` (closed ones included) with its records; empty if the
    /// stream does not exist.
    pub fn records(&self, stream: &str) -> Vec<ShardRecords> {
        self.context.state.registry.get(stream).map(|s| s.snapshot()).unwrap_or_default()
    }

    /// Names of all streams, sorted.
    pub fn stream_names(&self) -> Vec<String> {
        self.context.state.registry.names()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.context.state.counters.snapshot()
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.context.state.counters.clear();
    }

    /// Splits an open shard at `new_starting_hash_key`; returns the two children's ids.
    pub fn split_shard(
        &self,
        stream: &str,
        shard_id: &str,
        new_starting_hash_key: u128,
    ) -> Result<(String, String), ServiceError> {
        let stream = self.context.state.registry.get(stream)?;
        stream.split(shard_id, new_starting_hash_key)
    }

    /// Merges two adjacent open shards; returns the child's id.
    pub fn merge_shards(&self, stream: &str, shard_id: &str, adjacent_shard_id: &str) -> Result<String, ServiceError> {
        let stream = self.context.state.registry.get(stream)?;
        stream.merge(shard_id, adjacent_shard_id)
    }

    /// Starts an outage: the listener closes (connections are refused) and open
    /// connections are dropped; after `duration` the server listens on the same port
    /// again, with its streams and records intact. Returns once the outage has begun.
    pub async fn outage(&self, duration: Duration) {
        let (ack, started) = oneshot::channel();
        if self.context.commands.send(Command::Outage(duration, ack)).is_ok() {
            let _ = started.await;
        }
    }

    /// Stops listening, closes every connection and waits until all are gone.
    pub async fn stop(mut self) {
        let _ = self.context.commands.send(Command::Stop);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    /// A server dropped without `stop()` still stops, without waiting for its connections.
    fn drop(&mut self) {
        let _ = self.context.commands.send(Command::Stop);
    }
}

fn write_file(path: &Path, text: &str) -> io::Result<()> {
    std::fs::write(path, text)
}

async fn accept_next(listener: &Option<TcpListener>) -> io::Result<TcpStream> {
    match listener {
        Some(listener) => listener.accept().await.map(|(stream, _)| stream),
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Accepts connections until stopped; handles outages by closing and re-binding.
async fn accept_loop(
    listener: TcpListener,
    address: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    context: Arc<Context>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut listener = Some(listener);
    let mut resume_at: Option<Instant> = None;
    let (close_all, _) = watch::channel(0u64);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = accept_next(&listener) => match accepted {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    context.state.counters.connection();
                    connections.spawn(serve_connection(
                        stream,
                        acceptor.clone(),
                        context.clone(),
                        close_all.subscribe(),
                    ));
                }
                // Out of file descriptors and the like: wait instead of spinning.
                Err(_) => tokio::time::sleep(ACCEPT_RETRY).await,
            },
            _ = sleep_until(resume_at) => {
                match TcpListener::bind(address).await {
                    Ok(bound) => {
                        listener = Some(bound);
                        resume_at = None;
                    }
                    Err(_) => resume_at = Some(Instant::now() + REBIND_RETRY),
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            command = commands.recv() => match command {
                Some(Command::Outage(duration, ack)) => {
                    listener = None;
                    close_all.send_modify(|generation| *generation += 1);
                    context.state.counters.fault(FaultKind::Outage, 1);
                    resume_at = Some(Instant::now() + duration);
                    let _ = ack.send(());
                }
                Some(Command::Stop) | None => break,
            },
        }
    }
    drop(listener);
    close_all.send_modify(|generation| *generation += 1);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection (after the TLS handshake, if any) until it ends, a handler ends
/// it, or the server closes all connections.
async fn serve_connection(
    stream: TcpStream,
    acceptor: Option<TlsAcceptor>,
    context: Arc<Context>,
    mut close: watch::Receiver<u64>,
) {
    let control = Arc::new(ConnectionControl::default());
    let io = ConnIo::new(stream, control.clone());
    match acceptor {
        None => drive(TokioIo::new(io), context, control, close).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                result = acceptor.accept(io) => result,
                _ = close.changed() => return,
            };
            if let Ok(tls) = handshake {
                drive(TokioIo::new(tls), context, control, close).await;
            }
        }
    }
}

async fn drive<I>(
    io: TokioIo<I>,
    context: Arc<Context>,
    control: Arc<ConnectionControl>,
    mut close: watch::Receiver<u64>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let handler_control = control.clone();
    let service = service_fn(move |request| http::handle(context.clone(), handler_control.clone(), request));
    let connection = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = control.ended() => {}
        _ = close.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, connection.as_mut()).await;
        }
    }
}
