//! The end-to-end harness: a kind-style cluster made by the real `cluster` tool from the
//! workspace's release binaries, driven by `kubectl` and `ctl`, deleted when the test ends
//! (also when it fails).

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The release directory beside the test binary's (`target/debug/deps/..` → `target/release`).
fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(Path::parent).and_then(Path::parent).expect("target dir").join("release")
}

/// Builds the release binaries the node image and the tests use, once per test process.
pub fn build_release() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--locked", "--bins"])
            .args(["-p", "apiserver", "-p", "scheduler", "-p", "controller-manager", "-p", "kubelet", "-p", "dns", "-p", "loadbalancer", "-p", "ctl", "-p", "e2e"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .expect("cargo");
        assert!(status.success(), "building the release binaries failed");
        release_dir()
    })
}

pub struct Cluster {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub binaries: PathBuf,
}

pub fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn ok(output: Output) -> String {
    assert!(output.status.success(), "failed: {}{}", text(&output), String::from_utf8_lossy(&output.stderr));
    text(&output)
}

impl Cluster {
    /// A cluster of `nodes` nodes, with `config` (YAML) for `--config` when given.
    pub fn create(nodes: usize, config: Option<&str>) -> Self {
        Self::create_with(nodes, config, &[])
    }

    /// The same with more `cluster create` flags.
    pub fn create_with(nodes: usize, config: Option<&str>, flags: &[&str]) -> Self {
        let binaries = build_release().to_path_buf();
        let name = format!("e2e-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let dir = tempfile::Builder::new().prefix("e2e-").tempdir().expect("temp dir");
        let cluster = Self { name, dir, binaries };
        let mut args = vec!["create".to_string(), "--name".into(), cluster.name.clone(), "--nodes".into(), nodes.to_string()];
        args.extend(flags.iter().map(|flag| flag.to_string()));
        if let Some(config) = config {
            let path = cluster.dir.path().join("cluster.yaml");
            std::fs::write(&path, config).expect("config");
            args.extend(["--config".to_string(), path.display().to_string()]);
        }
        let output = cluster.tool(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(output.status.success(), "cluster create failed: {}{}", text(&output), String::from_utf8_lossy(&output.stderr));
        cluster
    }

    /// Builds the test images (`localhost/busybox:local`, `localhost/pause:local`) into the
    /// host's Docker engine, from which tests tag, push or load them.
    pub fn load_test_images_into_docker(&self) {
        let images = self.dir.path().join("images");
        ok(Command::new("bash").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/build-test-images.sh")).arg(&images).output().unwrap());
        ok(self.docker(&["load", "-i", &images.join("images.tar").display().to_string()]));
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The cluster tool, with its kubeconfig kept in the test's directory.
    pub fn tool(&self, args: &[&str]) -> Output {
        Command::new(self.binaries.join("cluster")).args(args).env("KUBECONFIG", self.kubeconfig()).output().expect("cluster tool")
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl").arg(format!("--kubeconfig={}", self.kubeconfig().display())).args(args).output().expect("kubectl")
    }

    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut command = Command::new("kubectl");
        command.arg(format!("--kubeconfig={}", self.kubeconfig().display())).args(args);
        common::testing::output_with_input(&mut command, input.as_bytes()).expect("kubectl")
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(self.binaries.join("ctl")).env("KUBECONFIG", self.kubeconfig()).args(args).output().expect("ctl")
    }

    /// `client` is "kubectl" or "ctl": the same verbs through either.
    pub fn client(&self, client: &str, args: &[&str]) -> Output {
        if client == "ctl" { self.ctl(args) } else { self.kubectl(args) }
    }

    pub fn node(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker").args(args).output().expect("docker")
    }

    /// A node container's address on the cluster network.
    pub fn node_ip(&self, node: &str) -> String {
        ok(self.docker(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", node])).trim().to_string()
    }

    /// `kubectl get ... -o jsonpath=...`.
    pub fn jsonpath(&self, args: &[&str], path: &str) -> String {
        let mut all: Vec<&str> = vec!["get"];
        all.extend(args);
        let output_arg = format!("-o=jsonpath={path}");
        all.push(&output_arg);
        text(&self.kubectl(&all))
    }

    /// Polls `check` every 250 ms until it holds, failing after `seconds` with what `describe`
    /// returns.
    pub fn wait(&self, what: &str, seconds: u64, check: impl Fn() -> bool, describe: impl Fn() -> String) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !check() {
            if Instant::now() > deadline {
                // Outside the test's directory, so that they outlive the cluster.
                let logs = std::env::temp_dir().join(format!("{}-logs", self.name));
                let _ = self.tool(&["export", "logs", &logs.display().to_string(), "--name", &self.name]);
                panic!("{what}: not within {seconds} s; {}\n(node logs exported to {})", describe(), logs.display());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Runs `script` under busybox's sh in a pod on `node` (any taint tolerated) and returns its
    /// log once it has finished.
    pub fn run_on(&self, namespace: &str, name: &str, node: &str, script: &str) -> String {
        let overrides = format!(r#"{{"spec":{{"nodeName":"{node}","tolerations":[{{"operator":"Exists"}}]}}}}"#);
        ok(self.kubectl(&["run", name, "-n", namespace, "--image=localhost/busybox:local", "--restart=Never", &format!("--overrides={overrides}"), "--", "sh", "-c", script]));
        let finished = || matches!(self.jsonpath(&["pod", name, "-n", namespace], "{.status.phase}").as_str(), "Succeeded" | "Failed");
        self.wait(&format!("pod {name} finished"), 120, finished, || text(&self.kubectl(&["describe", "pod", name, "-n", namespace])));
        text(&self.kubectl(&["logs", name, "-n", namespace]))
    }

    /// curl's flags to reach the apiserver as the kubeconfig's administrator: the cluster CA,
    /// the client certificate and its key, written beside the kubeconfig.
    pub fn curl_credentials(&self) -> Vec<String> {
        use base64::Engine;
        let mut flags = Vec::new();
        for (flag, file, field) in [
            ("--cacert", "ca.crt", "{.clusters[0].cluster.certificate-authority-data}"),
            ("--cert", "admin.crt", "{.users[0].user.client-certificate-data}"),
            ("--key", "admin.key", "{.users[0].user.client-key-data}"),
        ] {
            let path = self.dir.path().join(file);
            if !path.exists() {
                let data = ok(self.kubectl(&["config", "view", "--raw", "-o", &format!("jsonpath={field}")]));
                std::fs::write(&path, base64::engine::general_purpose::STANDARD.decode(data.trim()).expect("base64 in the kubeconfig")).expect("write");
            }
            flags.extend([flag.to_string(), path.display().to_string()]);
        }
        flags
    }

    pub fn http_get(url: &str) -> Result<String, String> {
        let output = Command::new("curl").args(["-sS", "-m", "2", "-f", url]).output().map_err(|err| err.to_string())?;
        if output.status.success() { Ok(text(&output)) } else { Err(String::from_utf8_lossy(&output.stderr).trim().to_string()) }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let output = self.tool(&["delete", "--name", &self.name]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // A test that deleted its cluster itself left none to delete.
        if !output.status.success() && !stderr.contains("no cluster named") {
            eprintln!("deleting cluster {} failed: {stderr}", self.name);
        }
    }
}

impl Cluster {
    /// `client` ("kubectl" or "ctl") as a command pointed at this cluster, for callers that run
    /// it themselves (in the background, with stdin, with a deadline).
    pub fn command(&self, client: &str, args: &[&str]) -> Command {
        let mut command = if client == "ctl" {
            let mut command = Command::new(self.binaries.join("ctl"));
            command.env("KUBECONFIG", self.kubeconfig());
            command
        } else {
            let mut command = Command::new("kubectl");
            command.arg(format!("--kubeconfig={}", self.kubeconfig().display()));
            command
        };
        command.args(args);
        command
    }
}

/// A process running in the background (a port-forward, an attach, an exec fed by the test):
/// its output gathered as it comes, killed (SIGKILL) when dropped.
pub struct Background {
    pub what: String,
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// How a process run with [`Background::finish`] or [`run_timed`] ended.
#[derive(Debug)]
pub struct Finished {
    /// None when it was killed at the deadline (or by a signal).
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Finished {
    /// Exited by itself with `code`.
    pub fn exited(&self, code: i32) -> bool {
        !self.timed_out && self.code == Some(code)
    }
}

fn gather(mut from: impl std::io::Read + Send + 'static, into: std::sync::Arc<std::sync::Mutex<Vec<u8>>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => into.lock().unwrap().extend_from_slice(&buffer[..read]),
            }
        }
    })
}

impl Background {
    pub fn start(mut command: Command) -> Self {
        use std::process::Stdio;
        let what = format!("{command:?}");
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|err| panic!("{what}: {err}"));
        let (stdout, stderr) = (std::sync::Arc::default(), std::sync::Arc::default());
        let readers = vec![gather(child.stdout.take().unwrap(), std::sync::Arc::clone(&stdout)), gather(child.stderr.take().unwrap(), std::sync::Arc::clone(&stderr))];
        Self { what, stdin: child.stdin.take(), child, stdout, stderr, readers }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    pub fn stdout_bytes(&self) -> Vec<u8> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Writes to its stdin (which stays open).
    pub fn write(&mut self, data: &[u8]) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin still open");
        if let Err(err) = stdin.write_all(data).and_then(|()| stdin.flush()) {
            panic!("writing to {}: {err}; stderr: {}", self.what, self.stderr());
        }
    }

    /// Feeds `data` to its stdin from another thread, then closes stdin (EOF).
    pub fn feed(&mut self, data: Vec<u8>) {
        use std::io::Write;
        if let Some(mut stdin) = self.stdin.take() {
            std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            });
        }
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls until `check` holds for its stdout so far; fails after `seconds`, with both outputs.
    pub fn wait_stdout(&mut self, what: &str, seconds: u64, check: impl Fn(&str) -> bool) {
        self.wait_output(what, seconds, |stdout, _| check(stdout));
    }

    /// The same with stdout and stderr.
    pub fn wait_output(&mut self, what: &str, seconds: u64, check: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            if check(&self.stdout(), &self.stderr()) {
                return;
            }
            if Instant::now() > deadline {
                let state = match self.child.try_wait() {
                    Ok(Some(status)) => format!("exited: {status}"),
                    _ => "still running".to_string(),
                };
                panic!("{what}: not within {seconds} s from {} ({state})\nstdout: {:?}\nstderr: {:?}", self.what, self.stdout(), self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for it to exit, closing its stdin first; killed after `seconds`.
    pub fn finish(&mut self, seconds: u64) -> Finished {
        let started = Instant::now();
        self.stdin = None;
        let deadline = started + Duration::from_secs(seconds);
        let (status, timed_out) = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break (Some(status), false),
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    break (self.child.wait().ok(), true);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(err) => panic!("waiting for {}: {err}", self.what),
            }
        };
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        Finished { code: status.and_then(|status| status.code()), timed_out, stdout: self.stdout(), stderr: self.stderr(), elapsed: started.elapsed() }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `command` with `input` on its stdin (then EOF), killing it after `seconds`.
pub fn run_timed(command: Command, input: &[u8], seconds: u64) -> Finished {
    let started = Instant::now();
    let mut process = Background::start(command);
    process.feed(input.to_vec());
    let mut finished = process.finish(seconds);
    finished.elapsed = started.elapsed();
    finished
}

/// A TCP port free on 127.0.0.1 just now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
