//! A scripted HTTP/1.1 server on loopback: one request per connection, answered by writing
//! bytes and sleeping as the test says, then closing. It counts connections, so a test can
//! assert that nothing connected, and keeps request heads, so a test can look at headers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub enum Step {
    Write(Vec<u8>),
    Sleep(Duration),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub head: String,
}

impl Request {
    pub fn path(&self) -> &str {
        self.head.split(' ').nth(1).unwrap_or("")
    }

    pub fn method(&self) -> &str {
        self.head.split(' ').next().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

type Handler = dyn Fn(&Request) -> Vec<Step> + Send + Sync;

pub struct Server {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Serves on 127.0.0.1 on a free port.
    pub async fn start(handler: impl Fn(&Request) -> Vec<Step> + Send + Sync + 'static) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), handler)
            .await
            .expect("bind")
    }

    pub async fn start_on(
        addr: SocketAddr,
        handler: impl Fn(&Request) -> Vec<Step> + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        assert!(addr.ip().is_loopback(), "test servers stay on loopback");
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let connections = connections.clone();
            let requests = requests.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve(stream, handler.clone(), requests.clone()));
                }
            });
        }
        Ok(Self {
            addr,
            connections,
            requests,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }
}

async fn serve(mut stream: TcpStream, handler: Arc<Handler>, requests: Arc<Mutex<Vec<Request>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let request = Request {
        head: String::from_utf8_lossy(&buf[..head_end]).into_owned(),
    };
    // Read a request body too, or closing with unread bytes would reset the connection.
    let body_len: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + body_len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    requests.lock().expect("lock").push(request.clone());
    for step in handler(&request) {
        match step {
            Step::Write(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
                let _ = stream.flush().await;
            }
            Step::Sleep(d) => tokio::time::sleep(d).await,
        }
    }
    let _ = stream.shutdown().await;
}

/// A complete response with `Content-Length` and `Connection: close`.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<Step> {
    let mut out = format!("HTTP/1.1 {status} X\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    vec![Step::Write(bytes)]
}

pub fn ok(body: &[u8]) -> Vec<Step> {
    response(200, &[], body)
}

pub fn redirect(status: u16, location: &str) -> Vec<Step> {
    response(status, &[("Location", location)], b"")
}

/// Only the status line and headers; the test writes (or withholds) the body.
pub fn head(status: u16, headers: &[(&str, &str)]) -> Step {
    let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    Step::Write(out.into_bytes())
}

/// A resolver with fixed answers (possibly different per call, for rebinding) that records
/// every name it was asked about.
pub struct ScriptedResolver {
    answers: Mutex<std::collections::HashMap<String, Vec<Vec<std::net::IpAddr>>>>,
    pub asked: Mutex<Vec<String>>,
}

impl ScriptedResolver {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(Default::default()),
            asked: Mutex::new(Vec::new()),
        })
    }

    /// Answers `host` with `addrs` on every lookup.
    pub fn map(self: &Arc<Self>, host: &str, addrs: &[&str]) -> Arc<Self> {
        self.script(host, &[addrs])
    }

    /// Answers the n-th lookup of `host` with `answers[n]`, the last one for all after.
    pub fn script(self: &Arc<Self>, host: &str, answers: &[&[&str]]) -> Arc<Self> {
        let answers = answers
            .iter()
            .map(|a| a.iter().map(|s| s.parse().expect("address")).collect())
            .collect();
        self.answers
            .lock()
            .expect("lock")
            .insert(host.to_owned(), answers);
        self.clone()
    }

    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().expect("lock").clone()
    }
}

impl seedgate_fetch::Resolve for ScriptedResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
    ) -> futures::future::BoxFuture<'a, std::io::Result<Vec<std::net::IpAddr>>> {
        let mut asked = self.asked.lock().expect("lock");
        let n = asked.iter().filter(|h| *h == host).count();
        asked.push(host.to_owned());
        let answer = self
            .answers
            .lock()
            .expect("lock")
            .get(host)
            .and_then(|answers| answers.get(n).or(answers.last()).cloned())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"));
        Box::pin(async move { answer })
    }
}

/// Limits that keep tests fast.
pub fn quick_limits() -> seedgate_fetch::FetchLimits {
    seedgate_fetch::FetchLimits {
        total_timeout: Duration::from_secs(3),
        stall_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        ..Default::default()
    }
}

pub fn fetcher(
    policy: seedgate_fetch::AddressPolicy,
    resolver: &Arc<ScriptedResolver>,
) -> seedgate_fetch::Fetcher {
    seedgate_fetch::Fetcher::with_resolver(policy, quick_limits(), resolver.clone())
        .expect("fetcher")
}

pub fn url(s: &str) -> seedgate_fetch::Url {
    seedgate_fetch::Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn loopback() -> seedgate_fetch::AddressPolicy {
    seedgate_fetch::AddressPolicy::with_allowed(vec!["127.0.0.0/8".parse().expect("cidr")])
}
