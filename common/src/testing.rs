//! Test harness for real dependencies. Each process it starts lives on free loopback ports in a
//! temp dir, dies with its guard (`Drop`), and dies with the test process even when that is
//! killed outright (parent-death signal), so a failing or aborted test leaves nothing running.
//! [`Containerd`] (in `testing/containerd.rs`) runs a private containerd for the kubelet's tests;
//! [`pki`] makes the certificates of an [`ApiServer`] on HTTPS and of its clients.

mod containerd;
pub mod pki;
mod rest;

pub use containerd::Containerd;
pub use rest::Rest;

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
    #[error("building the release binaries {0:?} failed")]
    Build(Vec<String>),
    #[error("`{command}` failed ({status}): {output}")]
    Command { command: String, status: String, output: String },
    #[error("building the test images failed: {0}")]
    Images(String),
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
}

/// Builds the release binaries a benchmark runs (other packages' binaries, which `cargo bench -p`
/// does not build), unless `$APISERVER_BIN` says they are provided.
pub fn build_release_binaries(packages: &[&str]) -> Result<(), HarnessError> {
    if std::env::var_os("APISERVER_BIN").is_some() {
        return Ok(());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["build", "--release", "--locked"]);
    for package in packages {
        command.args(["-p", package, "--bin", package]);
    }
    if command.status()?.success() { Ok(()) } else { Err(HarnessError::Build(packages.iter().map(|p| p.to_string()).collect())) }
}

/// One child process with its log file: started, polled until healthy, killed on drop.
struct Process {
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    fn new(log: PathBuf) -> Self {
        Self { child: None, log }
    }

    /// Starts `command` (after killing any earlier run) with its output appended to the log,
    /// then polls `healthy` until it answers true, the process exits, or 30 s pass.
    fn start(&mut self, mut command: Command, healthy: impl Fn() -> bool) -> Result<(), HarnessError> {
        self.kill();
        let program = command.get_program().to_string_lossy().into_owned();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        die_with_parent(&mut command);
        let child = command.spawn().map_err(|source| HarnessError::Spawn { program: program.clone(), source })?;
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if !self.is_running() {
                break;
            }
            if healthy() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        self.kill();
        Err(HarnessError::NotHealthy {
            program,
            waited: started.elapsed(),
            log: self.log.display().to_string(),
            tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        })
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the process to stop (SIGTERM), and kills it if it has not within `grace`.
    fn terminate(&mut self, grace: Duration) {
        if let Some(pid) = self.pid() {
            send_signal("TERM", &[pid]);
            let asked = Instant::now();
            while self.is_running() && asked.elapsed() < grace {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.kill();
    }

    fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `command` with `input` written to its standard input (then closed) and collects its
/// output, as a client fed a manifest on stdin.
pub fn output_with_input(command: &mut std::process::Command, input: &[u8]) -> std::io::Result<std::process::Output> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input)?;
    }
    child.wait_with_output()
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> Result<u16, HarnessError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A single-member etcd (the system's `etcd` binary, or `$ETCD_BIN`) with its own data dir.
pub struct EtcdServer {
    process: Process,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
}

impl EtcdServer {
    pub fn start() -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new().prefix("etcd-test-").tempdir()?;
        let mut server = Self {
            process: Process::new(dir.path().join("etcd.log")),
            dir,
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
        self.process.kill();
    }

    /// Starts etcd again on the same ports and data dir (after `kill`) and waits until healthy.
    pub fn start_again(&mut self) -> Result<(), HarnessError> {
        let program = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".to_string());
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(&program);
        command
            .arg("--name=test")
            .arg(format!("--data-dir={}", self.dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            .arg("--log-level=warn");
        let port = self.client_port;
        self.process.start(command, || http_get_ok(port, "/health", "\"true\""))
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

/// A new etcd for an apiserver on `storage` etcd.
fn own_etcd(storage: Storage) -> Result<Option<EtcdServer>, HarnessError> {
    Ok(match storage {
        Storage::Etcd => Some(EtcdServer::start()?),
        Storage::Embedded => None,
    })
}

/// Runs each named `async fn(Storage)` of the calling test file as two tests, `embedded::name`
/// and `etcd::name`, one on each store.
#[macro_export]
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::testing::Storage::Embedded).await;
                }
            )*
        }
        mod etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::testing::Storage::Etcd).await;
                }
            )*
        }
    };
}

/// Which store an [`ApiServer`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    Embedded,
    Etcd,
}

/// The real `apiserver` binary on a free loopback port, on its own embedded store or etcd, over
/// plain HTTP or (with [`start_https`](Self::start_https)) HTTPS.
pub struct ApiServer {
    process: Process,
    dir: tempfile::TempDir,
    port: u16,
    /// Kept alive (and killed) with the server when the storage is etcd.
    pub etcd: Option<EtcdServer>,
    /// Another server's etcd, when started [`beside`](Self::start_https_beside) it.
    shared_etcd: Option<String>,
    extra_args: Vec<String>,
    https: Option<Https>,
}

/// What an apiserver on HTTPS has besides: its serving certificate, and the loopback port of its
/// plain-HTTP health endpoints (`--health-bind-address`), which the harness polls, having no
/// HTTPS client of its own.
struct Https {
    certificate: pki::Certificate,
    files: pki::PemFiles,
    health_port: u16,
}

/// What the user of a kubeconfig written by [`ApiServer::kubeconfig_as`] presents.
pub enum Credentials<'a> {
    /// A bearer token (`--token-auth-file`'s, a ServiceAccount's).
    Token(&'a str),
    /// A client certificate and its key (see [`pki::Authority`]).
    Certificate(&'a pki::PemFiles),
}

impl ApiServer {
    pub fn start(storage: Storage) -> Result<Self, HarnessError> {
        Self::start_with_args(storage, &[])
    }

    /// Starts it with extra command-line flags.
    pub fn start_with_args(storage: Storage, args: &[&str]) -> Result<Self, HarnessError> {
        Self::start_serving(own_etcd(storage)?, None, args, false)
    }

    /// Starts it on HTTPS, with a self-signed serving certificate for 127.0.0.1 (see
    /// [`tls_certificate`](Self::tls_certificate) and
    /// [`certificate_authority`](Self::certificate_authority)) and extra command-line flags.
    pub fn start_https(storage: Storage, args: &[&str]) -> Result<Self, HarnessError> {
        Self::start_serving(own_etcd(storage)?, None, args, true)
    }

    /// Starts another apiserver on HTTPS on this one's etcd, as the apiservers of an HA control
    /// plane share one, with its own port, serving certificate and extra flags.
    pub fn start_https_beside(&self, args: &[&str]) -> Result<Self, HarnessError> {
        let endpoint = self.etcd_endpoint().ok_or_else(|| HarnessError::Io(std::io::Error::other("only an apiserver on etcd shares its storage")))?;
        Self::start_serving(None, Some(endpoint), args, true)
    }

    fn start_serving(etcd: Option<EtcdServer>, shared_etcd: Option<String>, args: &[&str], https: bool) -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new().prefix("apiserver-test-").tempdir()?;
        let https = if https {
            let certificate = pki::serving_certificate()?;
            let files = certificate.write(dir.path(), "tls")?;
            Some(Https { certificate, files, health_port: free_port()? })
        } else {
            None
        };
        let mut server = Self {
            process: Process::new(dir.path().join("apiserver.log")),
            dir,
            port: free_port()?,
            etcd,
            shared_etcd,
            extra_args: args.iter().map(|arg| arg.to_string()).collect(),
            https,
        };
        server.write_kubeconfig()?;
        server.start_again()?;
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`, or `https://` when started with [`start_https`](Self::start_https).
    pub fn url(&self) -> String {
        let scheme = if self.https.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The address the API is served on.
    pub fn address(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// On HTTPS, the serving certificate, which clients trust as it is (it is self-signed).
    pub fn tls_certificate(&self) -> Option<&pki::Certificate> {
        self.https.as_ref().map(|https| &https.certificate)
    }

    /// On HTTPS, the PEM file of the serving certificate, for `curl --cacert` and kubeconfigs.
    pub fn certificate_authority(&self) -> Option<&Path> {
        self.https.as_ref().map(|https| https.files.certificate.as_path())
    }

    /// A kubeconfig (kubectl's format) pointing at this server, with no credentials.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn write_kubeconfig(&self) -> Result<(), HarnessError> {
        std::fs::write(self.kubeconfig(), self.kubeconfig_text("default", " {}"))?;
        Ok(())
    }

    /// Writes a kubeconfig `<name>.kubeconfig` pointing at this server (trusting its certificate
    /// on HTTPS) as a user presenting `credentials`, `namespace` its default namespace.
    pub fn kubeconfig_as(&self, name: &str, namespace: &str, credentials: Credentials<'_>) -> Result<PathBuf, HarnessError> {
        let user = match credentials {
            Credentials::Token(token) => format!("\n    token: {token}"),
            Credentials::Certificate(files) => {
                format!("\n    client-certificate: {}\n    client-key: {}", files.certificate.display(), files.key.display())
            }
        };
        let path = self.dir.path().join(format!("{name}.kubeconfig"));
        std::fs::write(&path, self.kubeconfig_text(namespace, &user))?;
        Ok(path)
    }

    fn kubeconfig_text(&self, namespace: &str, user: &str) -> String {
        let authority = match self.certificate_authority() {
            Some(path) => format!("\n    certificate-authority: {}", path.display()),
            None => String::new(),
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}{authority}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: {namespace}\ncurrent-context: test\nusers:\n- name: test\n  user:{user}\n",
            self.url()
        )
    }

    /// Kills the apiserver with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    fn etcd_endpoint(&self) -> Option<String> {
        self.etcd.as_ref().map(EtcdServer::endpoint).or_else(|| self.shared_etcd.clone())
    }

    /// Stops it as an operator would (SIGTERM), waiting up to 10 s before killing it.
    pub fn stop(&mut self) {
        self.process.terminate(Duration::from_secs(10));
    }

    /// Starts the apiserver again on the same port and data (after `kill`), waits until ready.
    pub fn start_again(&mut self) -> Result<(), HarnessError> {
        let mut command = Command::new(workspace_binary("apiserver"));
        command
            .arg(format!("--bind-address=127.0.0.1:{}", self.port))
            .arg(format!("--data-dir={}", self.dir.path().join("data").display()))
            .args(&self.extra_args)
            .env("RUST_LOG", "info");
        match self.etcd_endpoint() {
            Some(endpoint) => command.arg("--storage=etcd").arg(format!("--etcd-servers={endpoint}")),
            None => command.arg("--storage=embedded"),
        };
        let ready_port = match &self.https {
            Some(https) => {
                command
                    .arg(format!("--tls-cert-file={}", https.files.certificate.display()))
                    .arg(format!("--tls-private-key-file={}", https.files.key.display()))
                    .arg(format!("--health-bind-address=127.0.0.1:{}", https.health_port));
                https.health_port
            }
            None => self.port,
        };
        self.process.start(command, || http_get_ok(ready_port, "/readyz", "ok"))
    }

    pub fn log_path(&self) -> PathBuf {
        self.process.log.clone()
    }

    /// The apiserver's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Whether the process is still running (it has not crashed).
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }
}

/// A component binary of this workspace (scheduler, controller-manager, ...) run with its
/// arguments, its output in a log file; killed on drop.
pub struct Component {
    process: Process,
    binary: PathBuf,
    args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Component {
    /// Starts `name` (see [`workspace_binary`]) with `args` and `RUST_LOG=info`.
    pub fn start(name: &str, args: &[String]) -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new().prefix(&format!("{name}-test-")).tempdir()?;
        let mut component = Self {
            process: Process::new(dir.path().join(format!("{name}.log"))),
            binary: workspace_binary(name),
            args: args.to_vec(),
            _dir: dir,
        };
        component.start_again()?;
        Ok(component)
    }

    /// Starts it again after `kill`, with the same arguments.
    pub fn start_again(&mut self) -> Result<(), HarnessError> {
        let mut command = Command::new(&self.binary);
        command.args(&self.args).env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
        // Components have no health endpoint of their own yet: started is what can be waited for.
        self.process.start(command, || true)
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.process.log).unwrap_or_default()
    }
}

/// The peak resident set size (VmHWM) of a process, in KiB, from `/proc`.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The CPU time (user and system, every thread) a running process has used so far, from
/// `/proc/<pid>/stat`. Its clock ticks are `USER_HZ`, which Linux fixes at 100 for user space.
/// Benchmarks print it per operation: unlike throughput, it hardly moves when other work
/// shares the machine.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields after its last `)` are fixed.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// A process's CPU time over one phase of a benchmark: started before it, read per operation
/// after it.
pub struct CpuMeter {
    pid: Option<u32>,
    before: Option<Duration>,
}

impl CpuMeter {
    pub fn start(pid: Option<u32>) -> Self {
        Self { pid, before: pid.and_then(cpu_time) }
    }

    /// The microseconds of CPU the process used per operation since `start`, when `/proc` has
    /// them.
    pub fn per_operation(self, operations: usize) -> Option<f64> {
        let (before, after) = (self.before?, self.pid.and_then(cpu_time)?);
        Some(after.saturating_sub(before).as_secs_f64() * 1e6 / operations.max(1) as f64)
    }
}

/// What one run of a command cost: its wall time and the peak RSS the kernel counted for it.
pub struct Measured {
    pub elapsed: Duration,
    pub peak_rss_kib: u64,
    pub success: bool,
    pub stdout: Vec<u8>,
}

/// Runs a command to its end, keeping its stdout, and reads its peak RSS from `wait4`'s rusage,
/// which (unlike `/proc`) is still there once the process has exited.
#[allow(unsafe_code)]
pub fn run_measured(command: &mut Command) -> std::io::Result<Measured> {
    let started = Instant::now();
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).spawn()?;
    let mut stdout_pipe = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout pipe"))?;
    let reader = std::thread::spawn(move || {
        let mut stdout = Vec::new();
        stdout_pipe.read_to_end(&mut stdout).map(|_| stdout)
    });
    let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 only writes into the two locals.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, which std has not reaped (we never call `wait` on it).
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    if reaped != pid {
        return Err(std::io::Error::last_os_error());
    }
    let stdout = reader.join().map_err(|_| std::io::Error::other("stdout reader panicked"))??;
    Ok(Measured {
        elapsed,
        peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        stdout,
    })
}

/// Sends `signal` (a name: `TERM`, `KILL`) to the processes, ignoring those already gone. It is
/// the shell's builtin `kill` rather than `libc::kill`, which would need `unsafe`, or procps'
/// binary, which minimal images lack.
fn send_signal(signal: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("sh")
        .args(["-c", "signal=$1; shift; kill -s \"$signal\" \"$@\" 2>/dev/null", "sh", signal])
        .args(pids.iter().map(u32::to_string))
        .stdin(Stdio::null())
        .status();
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

/// Throughput and latency of a measured operation, for benchmarks.
pub struct Stats {
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl Stats {
    /// From each operation's latency and the wall time all of them took.
    pub fn of(mut latencies: Vec<Duration>, elapsed: Duration) -> Self {
        latencies.sort_unstable();
        let at = |quantile: f64| {
            let index = ((latencies.len() as f64 * quantile).ceil() as usize).saturating_sub(1);
            latencies.get(index).copied().unwrap_or_default()
        };
        Self { per_second: latencies.len() as f64 / elapsed.as_secs_f64(), p50: at(0.5), p99: at(0.99) }
    }
}

/// Runs `op(0..total)` on `concurrency` tasks that take indices from a shared counter, timing
/// each call.
pub async fn measure<F, Fut>(total: usize, concurrency: usize, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (op, next) = (op.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return latencies;
                }
                let began = Instant::now();
                op(index).await;
                latencies.push(began.elapsed());
            }
        });
    }
    let latencies: Vec<Duration> = tasks.join_all().await.into_iter().flatten().collect();
    Stats::of(latencies, started.elapsed())
}
