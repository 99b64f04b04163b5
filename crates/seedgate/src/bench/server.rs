//! Child processes of this binary: a seedgate server or the baseline, each on a free port, and
//! their memory as the kernel reports it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Seedgate {
    child: Child,
    pub addr: SocketAddr,
    pub key: String,
    pub data_dir: PathBuf,
}

impl Drop for Seedgate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

async fn wait_for_port(addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "server on {addr} did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

impl Seedgate {
    /// `seedgate serve` on a fresh data dir with the instant renderer; `env` adds settings.
    pub async fn start(name: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_at(name, free_addr()?, env).await
    }

    /// As [`Seedgate::start`], listening on `addr` (known beforehand, e.g. for a config file
    /// naming the server's own URL, passed as `SEEDGATE_CONFIG` in `env`).
    pub async fn start_at(
        name: &str,
        addr: SocketAddr,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let (mut child, data_dir) = Self::spawn(name, addr, env, Stdio::piped())?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let key = tokio::task::spawn_blocking(move || {
            BufReader::new(stdout).lines().map_while(Result::ok).nth(1)
        })
        .await?
        .ok_or_else(|| anyhow::anyhow!("seedgate printed no development key"))?;
        wait_for_port(addr).await?;
        // Enough credits for any run.
        let status = Command::new(&exe)
            .args([
                "credits",
                "grant",
                "development",
                "1000000000000",
                "--data-dir",
            ])
            .arg(&data_dir)
            .env_remove("SEEDGATE_CONFIG")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "granting credits failed");
        Ok(Self {
            child,
            addr,
            key,
            data_dir,
        })
    }

    /// Another replica on the database `env` names, which a first one (whose `key` is given)
    /// set up: it prints no key of its own, and the credits are there already.
    pub async fn start_replica(
        name: &str,
        env: &[(&str, &str)],
        key: &str,
    ) -> anyhow::Result<Self> {
        let addr = free_addr()?;
        let (child, data_dir) = Self::spawn(name, addr, env, Stdio::null())?;
        let replica = Self {
            child,
            addr,
            key: key.to_string(),
            data_dir,
        };
        wait_for_port(addr).await?;
        Ok(replica)
    }

    /// `seedgate serve` on `addr` and a fresh data dir of its own, its standard output to
    /// `stdout`.
    fn spawn(
        name: &str,
        addr: SocketAddr,
        env: &[(&str, &str)],
        stdout: Stdio,
    ) -> anyhow::Result<(Child, PathBuf)> {
        let data_dir =
            std::env::temp_dir().join(format!("seedgate-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(&data_dir)
            .env("SEEDGATE_LOCAL__INSTANT", "true")
            .env("SEEDGATE_WORKER__IDLE_POLL_MS", "200")
            .env("SEEDGATE_LOG__FILTER", "warn")
            .env_remove("SEEDGATE_CONFIG")
            .stdout(stdout)
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        Ok((command.spawn()?, data_dir))
    }

    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        rss_bytes(self.child.id())
    }

    /// The server process's id (to stop and continue it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

pub struct Baseline {
    child: Child,
    pub addr: SocketAddr,
    files: Vec<PathBuf>,
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

impl Baseline {
    pub async fn start(get_body: &[u8], post_body: &[u8]) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir();
        let get_file = dir.join(format!("seedgate-bench-{}-get.json", std::process::id()));
        let post_file = dir.join(format!("seedgate-bench-{}-post.json", std::process::id()));
        std::fs::write(&get_file, get_body)?;
        std::fs::write(&post_file, post_body)?;
        let addr = free_addr()?;
        let child = Command::new(std::env::current_exe()?)
            .arg("bench-baseline")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--get-body")
            .arg(&get_file)
            .arg("--post-body")
            .arg(&post_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        wait_for_port(addr).await?;
        Ok(Self {
            child,
            addr,
            files: vec![get_file, post_file],
        })
    }

    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        rss_bytes(self.child.id())
    }
}

/// Resident set size of a process, from /proc.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))?;
    Ok(kb * 1024)
}
