//! HTTP(S) client for the Kinesis SDK: connect timeout, idle-pool bound and HTTP proxy,
//! over the TLS settings of `tls_config`.

use crate::tls_config::client_tls_config;
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::client::legacy::connect::{proxy::Tunnel, HttpConnector as TcpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::{future::Future, io, pin::Pin, task::Poll, time::Duration};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Stream = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

/// Transport settings shared by every request of one producer.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Bound on TCP connect + proxy CONNECT + TLS handshake when the SDK gives none.
    pub connect_timeout: Duration,
    /// `false` accepts any server certificate (test endpoints only).
    pub verify_certificate: bool,
    /// PEM certificates trusted in addition to the system roots.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// `http://[user:pass@]host:port` proxy for all traffic; `None` honours HTTP(S)_PROXY/NO_PROXY.
    pub proxy: Option<String>,
    /// Idle keep-alive connections kept per host.
    pub max_idle_per_host: usize,
}

/// Builds the SDK HTTP client described by `opts`.
///
/// The SDK's per-operation connect timeout (TimeoutConfig) wins over `opts.connect_timeout`;
/// each distinct value gets its own pool (Kinesis calls share one, IMDS/STS get theirs).
pub fn build_http_client(opts: &HttpOptions) -> Result<SharedHttpClient, String> {
    let proxy = match &opts.proxy {
        Some(url) => proxy_matcher(url)?,
        None => Matcher::from_env(),
    };
    let mut tcp = TcpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let base = Connector {
        tcp,
        tls: Arc::new(client_tls_config(opts.verify_certificate, opts.ca_bundle_pem.as_deref())?).into(),
        proxy: Arc::new(proxy),
        timeout: opts.connect_timeout,
    };
    let max_idle = opts.max_idle_per_host;
    let pools = Mutex::new(HashMap::<Duration, SharedHttpConnector>::new());
    Ok(http_client_fn(move |settings, _| {
        let timeout = settings.connect_timeout().unwrap_or(base.timeout);
        let mut pools = pools.lock().unwrap_or_else(PoisonError::into_inner);
        let pool = pools.entry(timeout).or_insert_with(|| {
            let connector = Connector { timeout, ..base.clone() };
            let client = Client::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .pool_max_idle_per_host(max_idle)
                .build(connector);
            SharedHttpConnector::new(Adapter(client))
        });
        pool.clone()
    }))
}

fn proxy_matcher(url: &str) -> Result<Matcher, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid proxy URL {url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(format!("proxy URL must be http://host:port, got {url:?}"));
    }
    Ok(Matcher::builder().all(url.to_owned()).build())
}

/// Opens a TCP connection (directly or through a CONNECT tunnel), then TLS for https.
#[derive(Clone)]
struct Connector {
    tcp: TcpConnector,
    tls: tokio_rustls::TlsConnector,
    proxy: Arc<Matcher>,
    timeout: Duration,
}

impl Connector {
    async fn connect(self, dst: http::Uri) -> Result<Stream, BoxError> {
        use tower_service::Service;
        let tcp = match self.proxy.intercept(&dst) {
            Some(proxy) => {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), self.tcp.clone());
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                tunnel.call(dst.clone()).await?
            }
            None => self.tcp.clone().call(dst.clone()).await?,
        };
        if dst.scheme_str() != Some("https") {
            return Ok(MaybeHttpsStream::Http(tcp));
        }
        let host = dst.host().unwrap_or_default().trim_matches(|c| c == '[' || c == ']');
        let name = ServerName::try_from(host.to_owned())?;
        let tls = self.tls.connect(name, TokioIo::new(tcp)).await?;
        Ok(MaybeHttpsStream::Https(TokioIo::new(tls)))
    }
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let (limit, connecting) = (self.timeout, self.clone().connect(dst));
        Box::pin(async move {
            match tokio::time::timeout(limit, connecting).await {
                Ok(result) => result,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out").into()),
            }
        })
    }
}

/// Bridges the hyper client to the SDK's `HttpConnector` trait.
#[derive(Debug, Clone)]
struct Adapter(Client<Connector, SdkBody>);

impl HttpConnector for Adapter {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let request = request.try_into_http1x().map_err(|e| ConnectorError::user(e.into()))?;
            let response = client.request(request).await.map_err(classify)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Timeouts stay timeouts; every other transport failure is reported as I/O.
fn classify(err: hyper_util::client::legacy::Error) -> ConnectorError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if e.downcast_ref::<io::Error>().map(io::Error::kind) == Some(io::ErrorKind::TimedOut) {
            return ConnectorError::timeout(err.into());
        }
        source = e.source();
    }
    ConnectorError::io(err.into())
}
