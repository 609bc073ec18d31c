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
#[derive(Clone)]
pub struct HttpOptions {
    /// Bound on TCP connect + proxy CONNECT + TLS handshake when the SDK gives none.
    pub connect_timeout: Duration,
    /// `false` accepts any server certificate (test endpoints only).
    pub verify_certificate: bool,
    /// PEM certificates trusted in addition to the system roots.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// `http://[user:pass@]host:port` proxy for all traffic; `None` honours HTTP(S)_PROXY.
    /// NO_PROXY and the instance/container metadata addresses always bypass the proxy.
    pub proxy: Option<String>,
    /// Idle keep-alive connections kept per host.
    pub max_idle_per_host: usize,
}

impl std::fmt::Debug for HttpOptions {
    /// Never shows the proxy URL: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("verify_certificate", &self.verify_certificate)
            .field("ca_bundle_pem", &self.ca_bundle_pem.as_ref().map(Vec::len))
            .field("proxy", &self.proxy.as_ref().map(|_| "<redacted>"))
            .field("max_idle_per_host", &self.max_idle_per_host)
            .finish()
    }
}

/// Builds the SDK HTTP client described by `opts`.
///
/// The SDK's per-operation connect timeout (TimeoutConfig) wins over `opts.connect_timeout`;
/// each distinct value gets its own pool (Kinesis calls share one, IMDS/STS get theirs).
pub fn build_http_client(opts: &HttpOptions) -> Result<SharedHttpClient, String> {
    let proxy = proxy_matcher(opts.proxy.as_deref())?;
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

/// Addresses of the EC2 instance metadata service and the ECS/EKS container credential
/// endpoints: reached directly, never through a proxy (as the AWS SDKs do).
const METADATA_HOSTS: &str = "169.254.169.254,169.254.170.2,169.254.170.23,fd00:ec2::254,fd00:ec2::23";

/// Which destinations go through which proxy: `url` for all, else the HTTP(S)_PROXY variables;
/// NO_PROXY and the metadata endpoints always bypass it.
fn proxy_matcher(url: Option<&str>) -> Result<Matcher, String> {
    let no_proxy = format!("{METADATA_HOSTS},{}", first_env(&["NO_PROXY", "no_proxy"]));
    let builder = match url {
        Some(url) => {
            // The URL may hold a password: it never appears in a message.
            let invalid = || "option \"proxy\": must be an http://[user:password@]host:port URL".to_owned();
            let uri: http::Uri = url.parse().map_err(|_| invalid())?;
            if uri.scheme_str() != Some("http") || uri.host().is_none() {
                return Err(invalid());
            }
            Matcher::builder().all(url.to_owned())
        }
        None => Matcher::builder()
            .all(first_env(&["ALL_PROXY", "all_proxy"]))
            .http(first_env(&["HTTP_PROXY", "http_proxy"]))
            .https(first_env(&["HTTPS_PROXY", "https_proxy"])),
    };
    Ok(builder.no(no_proxy).build())
}

/// The first of these environment variables that is set, or "".
fn first_env(names: &[&str]) -> String {
    names.iter().find_map(|name| std::env::var(name).ok()).unwrap_or_default()
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
