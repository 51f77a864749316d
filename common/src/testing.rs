//! Test harness for real dependencies. Each process it starts lives on free loopback ports in a
//! temp dir, dies with its guard (`Drop`), and dies with the test process even when that is
//! killed outright (parent-death signal), so a failing or aborted test leaves nothing running.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cannot start {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("{program} did not become healthy within {waited:?}; its log ({log}) ends with:\n{tail}")]
    NotHealthy { program: String, waited: Duration, log: String, tail: String },
    #[error("harness I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> Result<u16, HarnessError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A single-member etcd (the system's `etcd` binary, or `$ETCD_BIN`) with its own data dir.
pub struct EtcdServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
}

impl EtcdServer {
    pub fn start() -> Result<Self, HarnessError> {
        let mut server = Self {
            child: None,
            dir: tempfile::Builder::new().prefix("etcd-test-").tempdir()?,
            client_port: free_port()?,
            peer_port: free_port()?,
        };
        server.start_again()?;
        Ok(server)
    }

    /// The client URL, e.g. `http://127.0.0.1:23790`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills etcd with SIGKILL (no clean shutdown), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same ports and data dir (after `kill`) and waits until healthy.
    pub fn start_again(&mut self) -> Result<(), HarnessError> {
        self.kill();
        let program = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".to_string());
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log_path = self.log_path();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
        let mut command = Command::new(&program);
        command
            .arg("--name=test")
            .arg(format!("--data-dir={}", self.dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .map_err(|source| HarnessError::Spawn { program: program.clone(), source })?;
        self.child = Some(child);
        self.wait_healthy(&program, Duration::from_secs(30))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    fn wait_healthy(&mut self, program: &str, limit: Duration) -> Result<(), HarnessError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_status)) = child.try_wait() {
                    break;
                }
            }
            if http_get_ok(self.client_port, "/health", "\"true\"") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        self.kill();
        Err(HarnessError::NotHealthy {
            program: program.to_string(),
            waited: started.elapsed(),
            log: self.log_path().display().to_string(),
            tail,
        })
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP/1.0 GET on loopback that reports whether the answer was `200` with a body
/// containing `expect`; enough for a health probe without pulling an HTTP client into the harness.
fn http_get_ok(port: u16, path: &str, expect: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.") && answer.contains(" 200 ") && answer.contains(expect)
}

/// The path of a binary of this workspace: `$<NAME>_BIN` if set, else beside the running test
/// (tests run from `target/<profile>/deps/`, binaries live in `target/<profile>/`), which
/// `cargo test --workspace` builds.
pub fn workspace_binary(name: &str) -> PathBuf {
    let variable = format!("{}_BIN", name.to_ascii_uppercase().replace('-', "_"));
    if let Ok(path) = std::env::var(variable) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    profile_dir.join(name)
}

/// Which store an [`ApiServer`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    Embedded,
    Etcd,
}

/// The real `apiserver` binary on a free loopback port, on its own embedded store or etcd.
pub struct ApiServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    /// Kept alive (and killed) with the server when the storage is etcd.
    pub etcd: Option<EtcdServer>,
    extra_args: Vec<String>,
}

impl ApiServer {
    pub fn start(storage: Storage) -> Result<Self, HarnessError> {
        Self::start_with_args(storage, &[])
    }

    /// Starts it with extra command-line flags.
    pub fn start_with_args(storage: Storage, args: &[&str]) -> Result<Self, HarnessError> {
        let etcd = match storage {
            Storage::Etcd => Some(EtcdServer::start()?),
            Storage::Embedded => None,
        };
        let mut server = Self {
            child: None,
            dir: tempfile::Builder::new().prefix("apiserver-test-").tempdir()?,
            port: free_port()?,
            etcd,
            extra_args: args.iter().map(|arg| arg.to_string()).collect(),
        };
        server.write_kubeconfig()?;
        server.start_again()?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A kubeconfig (kubectl's format) pointing at this server.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn write_kubeconfig(&self) -> Result<(), HarnessError> {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: default\ncurrent-context: test\nusers:\n- name: test\n  user: {{}}\n",
            self.url()
        );
        std::fs::write(self.kubeconfig(), text)?;
        Ok(())
    }

    /// Kills the apiserver with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the apiserver again on the same port and data (after `kill`), waits until ready.
    pub fn start_again(&mut self) -> Result<(), HarnessError> {
        self.kill();
        let program = workspace_binary("apiserver");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let mut command = Command::new(&program);
        command
            .arg(format!("--bind-address=127.0.0.1:{}", self.port))
            .arg(format!("--data-dir={}", self.dir.path().join("data").display()))
            .args(&self.extra_args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        match &self.etcd {
            Some(etcd) => command.arg("--storage=etcd").arg(format!("--etcd-servers={}", etcd.endpoint())),
            None => command.arg("--storage=embedded"),
        };
        die_with_parent(&mut command);
        let program_name = program.display().to_string();
        let child = command
            .spawn()
            .map_err(|source| HarnessError::Spawn { program: program_name.clone(), source })?;
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
            }
            if http_get_ok(self.port, "/readyz", "ok") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        self.kill();
        Err(HarnessError::NotHealthy {
            program: program_name,
            waited: started.elapsed(),
            log: self.log_path().display().to_string(),
            tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        })
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("apiserver.log")
    }

    /// The apiserver's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running (it has not crashed).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The peak resident set size (VmHWM) of a process, in KiB, from `/proc`.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Asks the kernel to SIGKILL the child when the process that started it goes away, so that a
/// test binary killed mid-run does not leave its etcd behind.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}
