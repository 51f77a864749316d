//! The kubelet's storage against a real apiserver and containerd: claim-backed volumes wait for
//! their claim, then mount with subPath and readOnly; deleted local-path volumes of the node are
//! reclaimed (directory, then finalizer) and nothing else is.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{Node, phase};

const PV_DELETION: &str = "external-provisioner.volume.kubernetes.io/finalizer";

/// Directories a test made under the node's real local-path root, removed however it ends.
struct RemoveOnDrop(Vec<std::path::PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn eventually(what: &str, seconds: u64, node: &Node, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(Instant::now() < deadline, "not {what} within {seconds} s; kubelet log:\n{}", node.log_tail());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claims_volume_waits_for_binding_then_mounts_with_sub_path_and_read_only() {
    let node = Node::start().await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(node.client.clone(), "default");
    let volumes: Api<PersistentVolume> = Api::all(node.client.clone());
    let data = node.dirs.path().join("pv-data");
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": "pv-kubelet-test",
                 "resources": {"requests": {"storage": "1Gi"}}},
    }))
    .unwrap();
    let claim = claims.create(&PostParams::default(), &claim).await.expect("create claim");
    let mut manifest = support::busybox("claimant", "echo hello > /data/out; touch /ro/x 2>/dev/null || echo read-only; ls /ro/app; sleep 3600");
    manifest["spec"]["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]);
    manifest["spec"]["containers"][0]["volumeMounts"] = json!([
        {"name": "data", "mountPath": "/data", "subPath": "app/logs"},
        {"name": "data", "mountPath": "/ro", "readOnly": true},
    ]);
    node.run_pod(manifest).await;

    // Not Bound: the containers wait, and the kubelet says why as Kubernetes does.
    let expected = "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to process volumes=[data]: error processing PVC default/data: PVC is not bound";
    eventually("a FailedMount event", 30, &node, async || {
        node.events("claimant").await.iter().any(|event| event.reason.as_deref() == Some("FailedMount") && event.message.as_deref() == Some(expected))
    })
    .await;
    let pod = node.pods().get("claimant").await.unwrap();
    assert_eq!(phase(Some(&pod)), "Pending");
    assert!(support::container(Some(&pod)).and_then(|c| c.state?.running).is_none(), "no container runs before the claim is bound");

    // Bound to a hostPath volume whose directory is made (DirectoryOrCreate).
    let volume: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": "pv-kubelet-test"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                 "hostPath": {"path": data.to_string_lossy(), "type": "DirectoryOrCreate"},
                 "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "default", "name": "data", "uid": claim.metadata.uid}},
    }))
    .unwrap();
    volumes.create(&PostParams::default(), &volume).await.expect("create volume");
    claims.patch_status("data", &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}}))).await.expect("bind claim");
    node.wait_pod("claimant", "Running", 60, |pod| phase(pod) == "Running").await;
    let out = data.join("app/logs/out");
    eventually("the file written through the subPath", 20, &node, async || std::fs::read_to_string(&out).is_ok_and(|text| text == "hello\n")).await;
    eventually("the container's report", 20, &node, async || {
        String::from_utf8_lossy(&node.kubectl(&["logs", "claimant"]).stdout) == "read-only\nlogs\n"
    })
    .await;
    assert!(!data.join("x").exists(), "the readOnly mount was not written");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o7777, 0o755, "a plain hostPath directory is made 0755");

    // The subPath was bind mounted under the pod's volume-subpaths; when the pod goes, the mount
    // goes before the pod's directory, and the volume's data stays.
    let uid = node.pods().get("claimant").await.unwrap().metadata.uid.unwrap();
    let mounted = || std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().any(|line| line.contains(&format!("{uid}/volume-subpaths")));
    assert!(mounted(), "the subPath is a bind mount of its own");
    node.pods().delete("claimant", &DeleteParams { grace_period_seconds: Some(1), ..DeleteParams::default() }).await.expect("delete pod");
    eventually("the pod gone", 60, &node, async || node.pods().get_opt("claimant").await.unwrap().is_none()).await;
    eventually("the subPath unmounted", 20, &node, async || !mounted()).await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n", "the volume's data stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sub_path_leading_out_of_the_volume_is_refused() {
    let node = Node::start().await;
    let volume = node.dirs.path().join("shared");
    let outside = node.dirs.path().join("outside");
    std::fs::create_dir_all(&volume).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, volume.join("escape")).unwrap();
    let mut manifest = support::busybox("escaper", "echo pwned > /data/x; sleep 3600");
    manifest["spec"]["volumes"] = json!([{"name": "data", "hostPath": {"path": volume.to_string_lossy(), "type": "Directory"}}]);
    manifest["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data", "subPath": "escape"}]);
    node.run_pod(manifest).await;
    let pod = node.wait_pod("escaper", "refused", 60, |pod| support::waiting_reason(pod).as_deref() == Some("CreateContainerConfigError")).await;
    let message = support::container(pod.as_ref()).and_then(|c| c.state?.waiting?.message).unwrap_or_default();
    assert_eq!(message, "failed to prepare subPath for volumeMount \"data\" of container \"main\"");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written outside the volume");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_local_path_volumes_of_the_node_are_reclaimed_and_nothing_else() {
    // The kubelet reclaims only under the one root the provisioner writes to, so the test's
    // directories are there, named for this test alone and removed by the guard whatever happens.
    let node = Node::start().await;
    let root = std::path::Path::new(common::storage::LOCAL_PATH_ROOT);
    let unique = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let volumes: Api<PersistentVolume> = Api::all(node.client.clone());
    let outside_dir = tempfile::Builder::new().prefix("local-path-outside-").tempdir().unwrap();
    let name_of = |what: &str| format!("pvc-{unique}-{what}");
    let dir_of = |what: &str| root.join(format!("{}_default_data", name_of(what)));
    let _cleanup = RemoveOnDrop(["mine", "kept", "other", "live"].map(dir_of).to_vec());
    let make = |name: &str, host: &str, path: &std::path::Path, policy: &str| -> PersistentVolume {
        serde_json::from_value(json!({
            "metadata": {"name": name, "finalizers": [PV_DELETION], "annotations": {"pv.kubernetes.io/provisioned-by": "cluster.local/local-path"}},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                     "persistentVolumeReclaimPolicy": policy,
                     "hostPath": {"path": path.to_string_lossy(), "type": "DirectoryOrCreate"},
                     "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "default", "name": "data"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}},
        }))
        .unwrap()
    };
    let mine = dir_of("mine");
    let kept = dir_of("kept");
    let other = dir_of("other");
    // A live volume's directory, which a copied object (`kubectl get pv -o yaml`, renamed) names.
    let live = dir_of("live");
    let outside = outside_dir.path().join("outside");
    for dir in [&mine, &kept, &other, &live, &outside] {
        std::fs::create_dir_all(dir.join("nested")).unwrap();
        std::fs::write(dir.join("nested/file"), "data").unwrap();
    }
    std::os::unix::fs::symlink(&outside, mine.join("link")).unwrap();
    // Created and deleted in this order: the kubelet's watch handles them in order, so the
    // Warnings about the last two show that the first ones were looked at too.
    let cases = [
        (name_of("other"), "another-node".to_string(), other.clone(), "Delete"),
        (name_of("mine"), node.name.clone(), mine.clone(), "Delete"),
        (name_of("kept"), node.name.clone(), kept.clone(), "Retain"),
        (name_of("outside"), node.name.clone(), outside.clone(), "Delete"),
        (name_of("copy"), node.name.clone(), live.clone(), "Delete"),
    ];
    for (name, host, path, policy) in &cases {
        volumes.create(&PostParams::default(), &make(name, host, path, policy)).await.expect("create volume");
        volumes.delete(name, &DeleteParams::default()).await.expect("delete volume");
        // Only the provisioner's finalizer is left (no pv-protection controller runs here).
        volumes.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": [PV_DELETION]}}))).await.expect("leave the finalizer");
    }
    for name in [name_of("mine"), name_of("kept")] {
        eventually(&format!("{name} gone"), 30, &node, async || volumes.get_opt(&name).await.unwrap().is_none()).await;
    }
    assert!(!mine.exists(), "the deleted volume's directory is removed");
    assert!(kept.join("nested/file").exists(), "Retain keeps the data");
    assert!(outside.join("nested/file").exists(), "a link inside the volume is not followed");
    // A volume whose path is not its own directory is not reclaimed, and the kubelet says so.
    for (name, says) in [(name_of("outside"), "is outside"), (name_of("copy"), "is not its own directory")] {
        eventually(&format!("a VolumeFailedDelete event on {name}"), 30, &node, async || {
            node.events(&name).await.iter().any(|event| {
                event.reason.as_deref() == Some("VolumeFailedDelete") && event.type_.as_deref() == Some("Warning") && event.message.as_deref().is_some_and(|message| message.contains(says))
            })
        })
        .await;
    }
    // Others' volumes, and volumes whose path is not their own directory, keep their finalizer.
    let unreclaimed = [name_of("other"), name_of("outside"), name_of("copy")];
    for name in &unreclaimed {
        let volume = volumes.get_opt(name).await.unwrap().expect("still there");
        assert_eq!(volume.metadata.finalizers.as_deref(), Some(&[PV_DELETION.to_string()][..]), "{name}");
    }
    assert!(other.join("nested/file").exists());
    assert!(live.join("nested/file").exists(), "another volume's directory is never removed");
    assert!(node.events(&name_of("other")).await.is_empty(), "another node's volume is not this kubelet's");
    for name in &unreclaimed {
        volumes.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.expect("release");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ephemeral_volume_uses_only_the_claim_its_pod_owns() {
    let node = Node::start().await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(node.client.clone(), "default");
    let volumes: Api<PersistentVolume> = Api::all(node.client.clone());
    let mut manifest = support::busybox("eph", "echo scratch > /scratch/out; sleep 3600");
    manifest["spec"]["volumes"] = json!([{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}}]);
    manifest["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "scratch", "mountPath": "/scratch"}]);
    let pod = node.run_pod(manifest).await;
    // A same-named claim someone else made, bound, is still not the pod's.
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "eph-scratch"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": "pv-eph", "resources": {"requests": {"storage": "1Gi"}}},
    }))
    .unwrap();
    let claim = claims.create(&PostParams::default(), &claim).await.expect("create claim");
    let data = node.dirs.path().join("eph-data");
    // Made by the local-path provisioner: its directory is world-writable, as kind's.
    let volume: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": "pv-eph", "annotations": {"pv.kubernetes.io/provisioned-by": "cluster.local/local-path"}},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                 "hostPath": {"path": data.to_string_lossy(), "type": "DirectoryOrCreate"},
                 "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "default", "name": "eph-scratch", "uid": claim.metadata.uid}},
    }))
    .unwrap();
    volumes.create(&PostParams::default(), &volume).await.expect("create volume");
    claims.patch_status("eph-scratch", &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": "Bound"}}))).await.expect("bind claim");
    let expected = "Unable to attach or mount volumes: unmounted volumes=[scratch], unattached volumes=[], failed to process volumes=[scratch]: PVC default/eph-scratch was not created for pod default/eph (pod is not owner)";
    eventually("a FailedMount event", 30, &node, async || {
        node.events("eph").await.iter().any(|event| event.reason.as_deref() == Some("FailedMount") && event.message.as_deref() == Some(expected))
    })
    .await;
    assert!(!data.exists(), "the volume was not set up");
    // Owned by the pod (as the ephemeral controller makes it): used.
    let owner = json!([{"apiVersion": "v1", "kind": "Pod", "name": "eph", "uid": pod.metadata.uid, "controller": true, "blockOwnerDeletion": true}]);
    claims.patch("eph-scratch", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"ownerReferences": owner}}))).await.expect("own claim");
    node.wait_pod("eph", "Running", 60, |pod| phase(pod) == "Running").await;
    eventually("the file written to the claim's volume", 20, &node, async || std::fs::read_to_string(data.join("out")).is_ok_and(|text| text == "scratch\n")).await;
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o7777, 0o777, "a local-path directory is made 0777");
}
