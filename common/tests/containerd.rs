//! The containerd harness against the real containerd: the images are there, containers run,
//! and dropping it leaves nothing on the host, even when containerd was killed with containers
//! and pods running.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::testing::{Containerd, free_port};

/// What an instance is known by, kept to look for its leftovers once it is dropped.
struct Traces {
    socket: PathBuf,
    dir: PathBuf,
    cgroup_root: String,
    bridge: String,
}

impl Traces {
    fn of(containerd: &Containerd) -> Self {
        Self {
            socket: containerd.socket(),
            dir: containerd.dir().to_path_buf(),
            cgroup_root: containerd.cgroup_root().to_string(),
            bridge: containerd.bridge_name().to_string(),
        }
    }

    fn assert_all_gone(&self) {
        assert_eq!(processes_with_socket(&self.socket), Vec::<u32>::new(), "processes with -address {:?}", self.socket);
        assert_eq!(mounts_under(&self.dir), Vec::<String>::new(), "mounts under {:?}", self.dir);
        assert!(!self.dir.exists(), "{:?} is still there", self.dir);
        assert_eq!(cgroups_named(&self.cgroup_root), Vec::<PathBuf>::new(), "cgroups left");
        assert!(!Path::new("/sys/class/net").join(&self.bridge).exists(), "bridge {} is still there", self.bridge);
    }
}

/// Processes whose command line has `-address <socket>`: the instance's shims.
fn processes_with_socket(socket: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmdline.split(|&byte| byte == 0).collect();
        if args
            .windows(2)
            .any(|pair| pair[0] == b"-address" && Path::new(std::str::from_utf8(pair[1]).unwrap_or("")) == socket)
        {
            pids.push(pid);
        }
    }
    pids
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|mount| mount.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

fn cgroups_named(root: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|hierarchy| hierarchy.path().join(root.trim_start_matches('/')))
        .filter(|path| path.exists())
        .collect()
}

fn is_alive(pid: u32) -> bool {
    // A zombie has an empty command line.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| !cmdline.is_empty())
}

/// `ctr run` arguments that keep the container inside the instance: its runc root, its FIFOs,
/// and a cgroup under its cgroup root.
fn run_args(containerd: &Containerd, id: &str) -> Vec<String> {
    let fifo_dir = containerd.dir().join("fifo");
    vec![
        "run".into(),
        "--snapshotter".into(),
        "overlayfs".into(),
        "--cgroup".into(),
        format!("{}/{id}", containerd.cgroup_root()),
        "--runc-root".into(),
        containerd.runc_root().display().to_string(),
        "--fifo-dir".into(),
        fifo_dir.display().to_string(),
    ]
}

fn ctr(containerd: &Containerd, args: &[String]) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    containerd.ctr(&args).unwrap_or_else(|err| panic!("{err}\ncontainerd log:\n{}", containerd.log()))
}

/// Polls `condition` for up to 10 s.
fn eventually(what: &str, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn task_status(containerd: &Containerd, id: &str) -> Option<String> {
    let tasks = containerd.ctr(&["tasks", "ls"]).ok()?;
    // TASK PID STATUS
    tasks
        .lines()
        .find(|line| line.split_whitespace().next() == Some(id))
        .and_then(|line| line.split_whitespace().nth(2))
        .map(str::to_string)
}

#[test]
fn images_are_imported_containers_run_and_drop_leaves_nothing() {
    let containerd = Containerd::start().unwrap();
    let traces = Traces::of(&containerd);

    let images = containerd.ctr(&["images", "ls", "-q"]).unwrap();
    for image in ["localhost/pause:local", "localhost/busybox:local"] {
        assert!(images.lines().any(|line| line == image), "{image} missing from:\n{images}");
    }

    // The output goes through a bind mount: `ctr run` can lose what a short-lived container
    // prints on stdout (containerd#770).
    let out_dir = containerd.dir().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut args = run_args(&containerd, "echo");
    args.extend([
        "--rm".into(),
        "--mount".into(),
        format!("type=bind,src={},dst=/out,options=rbind:rw", out_dir.display()),
        "localhost/busybox:local".into(),
        "echo".into(),
        "sh".into(),
        "-c".into(),
        "{ echo hi; id nobody; ls -ld /tmp; } >/out/result".into(),
    ]);
    ctr(&containerd, &args);
    let output = std::fs::read_to_string(out_dir.join("result")).unwrap();
    assert!(output.contains("hi\nuid=65534(nobody) gid=65534(nogroup)"), "unexpected output: {output}");
    assert!(output.contains("drwxrwxrwt"), "/tmp is not 1777: {output}");

    // The pause binary exits 0 on SIGTERM: `ctr run` (not detached) exits with the task's code.
    let mut args = run_args(&containerd, "pause");
    args.extend(["--rm", "localhost/pause:local", "pause"].map(String::from));
    let mut pause = Command::new("ctr")
        .arg("--address")
        .arg(containerd.socket())
        .args(["--namespace", "k8s.io"])
        .args(&args)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    eventually("the pause container to run", || task_status(&containerd, "pause").as_deref() == Some("RUNNING"));
    containerd.ctr(&["tasks", "kill", "--signal", "SIGTERM", "pause"]).unwrap();
    let status = pause.wait().unwrap();
    assert!(status.success(), "pause ended with {status}");

    drop(containerd);
    traces.assert_all_gone();
}

#[test]
fn after_kill_the_shims_keep_running_and_drop_still_removes_everything() {
    let mut containerd = Containerd::start().unwrap();
    let traces = Traces::of(&containerd);
    let mut args = run_args(&containerd, "sleeper");
    args.extend(["--detach", "localhost/busybox:local", "sleeper", "sleep", "1000"].map(String::from));
    ctr(&containerd, &args);
    eventually("the container to run", || task_status(&containerd, "sleeper").as_deref() == Some("RUNNING"));
    let shims = processes_with_socket(&traces.socket);
    assert_eq!(shims.len(), 1, "one shim: {shims:?}");
    let tasks = containerd.ctr(&["tasks", "ls"]).unwrap();
    let sleeper: u32 = tasks
        .lines()
        .find(|line| line.starts_with("sleeper"))
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();

    containerd.kill();
    assert!(!containerd.is_running());
    assert!(shims.iter().all(|&pid| is_alive(pid)), "the shim died with containerd");
    assert!(is_alive(sleeper), "the container died with containerd");

    // Started again, containerd adopts the running task.
    containerd.start_again().unwrap();
    assert_eq!(task_status(&containerd, "sleeper").as_deref(), Some("RUNNING"));
    containerd.kill();

    drop(containerd);
    traces.assert_all_gone();
    assert!(!is_alive(sleeper), "the container's process is still running");
}

/// Run by `leftovers_of_a_killed_test_process_go_with_the_next_start` in a child process, which
/// kills it outright once its container runs.
#[test]
#[ignore = "a helper that another test runs in a child process"]
fn helper_runs_a_container_until_killed() {
    if std::env::var_os("CONTAINERD_HARNESS_HELPER").is_none() {
        return;
    }
    let containerd = Containerd::start().unwrap();
    let mut args = run_args(&containerd, "sleeper");
    args.extend(["--detach", "localhost/busybox:local", "sleeper", "sleep", "1000"].map(String::from));
    ctr(&containerd, &args);
    println!("READY {}", containerd.dir().display());
    std::thread::sleep(Duration::from_secs(60));
}

/// A test process killed outright (a timeout, ^C) runs no `Drop`: its containerd dies with it
/// (parent-death signal), but the shims, containers, mounts and cgroups stay until the next
/// `Containerd::start` on the host finds its dir without a live owner.
#[test]
fn leftovers_of_a_killed_test_process_go_with_the_next_start() {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "helper_runs_a_container_until_killed", "--nocapture"])
        .env("CONTAINERD_HARNESS_HELPER", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(helper.stdout.take().unwrap());
    let ready = std::io::BufRead::lines(stdout)
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("READY ").map(str::to_string));
    helper.kill().unwrap();
    helper.wait().unwrap();
    let dir = PathBuf::from(ready.expect("the helper did not get its container running"));
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let traces = Traces {
        socket: dir.join("containerd.sock"),
        cgroup_root: format!("/ktest-{}", name.strip_prefix("ktest-containerd-").unwrap()),
        bridge: format!("ktest{}", name.split('-').nth(2).unwrap()),
        dir,
    };
    assert!(!processes_with_socket(&traces.socket).is_empty(), "the shim did not outlive its test process");

    let containerd = Containerd::start().unwrap();
    // Another test's `start` may be the one removing them, and still at it.
    eventually("the leftovers to go", || !traces.dir.exists());
    traces.assert_all_gone();
    drop(containerd);
}

/// A pod sandbox through the CRI, on a bridge network (as the kubelet would configure it) with a
/// hostPort, then containerd killed: dropping the harness undoes the network too (the IP lease,
/// the iptables rules, the veth, the bridge, the netns).
#[test]
fn a_pod_network_left_by_a_killed_containerd_is_torn_down() {
    let mut containerd = Containerd::start().unwrap();
    let traces = Traces::of(&containerd);
    let ipam_dir = containerd.dir().join("cni/ipam");
    let network = format!(
        r#"{{"cniVersion":"0.4.0","name":"{bridge}","plugins":[{{"type":"bridge","bridge":"{bridge}","isGateway":true,"ipMasq":true,"ipam":{{"type":"host-local","dataDir":"{ipam}","ranges":[[{{"subnet":"{cidr}"}}]],"routes":[{{"dst":"0.0.0.0/0"}}]}}}},{{"type":"portmap","capabilities":{{"portMappings":true}}}}]}}"#,
        bridge = containerd.bridge_name(),
        ipam = ipam_dir.display(),
        cidr = containerd.pod_cidr(),
    );
    std::fs::write(containerd.cni_conf_dir().join("10-test.conflist"), network).unwrap();

    let host_port = free_port().unwrap();
    let cgroup_parent = format!("{}/podtest", containerd.cgroup_root());
    let sandbox_id = run_pod_sandbox(&containerd, &cgroup_parent, host_port);
    assert!(Path::new("/sys/class/net").join(containerd.bridge_name()).exists(), "no bridge");
    assert!(nat_rules().contains(&sandbox_id), "no iptables rules for the sandbox");
    assert_eq!(cni_cache_files(&sandbox_id).len(), 2, "libcni cache (eth0 and lo)");

    containerd.kill();
    drop(containerd);
    traces.assert_all_gone();
    assert!(!nat_rules().contains(&sandbox_id), "iptables rules left:\n{}", nat_rules());
    assert_eq!(cni_cache_files(&sandbox_id), Vec::<PathBuf>::new(), "libcni cache left");
}

fn nat_rules() -> String {
    let output = Command::new("iptables-save").args(["-t", "nat"]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn cni_cache_files(sandbox_id: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/var/lib/cni/results") else { return Vec::new() };
    entries.flatten().map(|entry| entry.path()).filter(|path| path.to_string_lossy().contains(sandbox_id)).collect()
}

/// RunPodSandbox over the CRI socket with curl (HTTP/2 without TLS) and a request encoded by
/// hand, which is small enough not to need protobuf code here. Returns the sandbox id.
fn run_pod_sandbox(containerd: &Containerd, cgroup_parent: &str, host_port: u16) -> String {
    let metadata = [string(1, "test"), string(2, "uid-1"), string(3, "default")].concat();
    let port_mapping = [varint(2, 80), varint(3, u64::from(host_port))].concat();
    // pid: CONTAINER; network and ipc: POD, the zero value.
    let namespace_options = varint(2, 1);
    let linux = [string(1, cgroup_parent), message(2, &message(1, &namespace_options))].concat();
    let log_dir = containerd.dir().join("pods/test");
    let config = [
        message(1, &metadata),
        string(2, "test"),
        string(3, &log_dir.to_string_lossy()),
        message(5, &port_mapping),
        message(8, &linux),
    ]
    .concat();
    let request = message(1, &config);

    let mut framed = vec![0u8];
    framed.extend(u32::try_from(request.len()).unwrap().to_be_bytes());
    framed.extend(request);
    let headers = containerd.dir().join("grpc-headers");
    let mut curl = Command::new("curl")
        .args(["-sS", "--http2-prior-knowledge", "--unix-socket"])
        .arg(containerd.socket())
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers", "--data-binary", "@-", "-D"])
        .arg(&headers)
        .arg("http://localhost/runtime.v1.RuntimeService/RunPodSandbox")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    curl.stdin.take().unwrap().write_all(&framed).unwrap();
    let output = curl.wait_with_output().unwrap();
    let headers = std::fs::read_to_string(headers).unwrap();
    assert!(
        headers.contains("grpc-status: 0"),
        "RunPodSandbox failed:\n{headers}\ncontainerd log:\n{}",
        containerd.log()
    );
    // The response's field 1 (a string of 64 hex digits, so a one-byte length) after the 5-byte frame header.
    let body = &output.stdout;
    assert!(body.len() > 7 && body[5] == 0x0a, "unexpected response {body:?}");
    String::from_utf8(body[7..7 + usize::from(body[6])].to_vec()).unwrap()
}

fn key(field: u32, wire_type: u8) -> Vec<u8> {
    encode_varint((u64::from(field) << 3) | u64::from(wire_type))
}

fn encode_varint(mut value: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    while value >= 0x80 {
        bytes.push((value as u8) | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
    bytes
}

fn varint(field: u32, value: u64) -> Vec<u8> {
    [key(field, 0), encode_varint(value)].concat()
}

fn message(field: u32, bytes: &[u8]) -> Vec<u8> {
    [key(field, 2), encode_varint(bytes.len() as u64), bytes.to_vec()].concat()
}

fn string(field: u32, text: &str) -> Vec<u8> {
    message(field, text.as_bytes())
}
