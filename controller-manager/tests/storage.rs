//! The storage controllers (persistentvolume-binder, local-path, pvc-protection, pv-protection,
//! ephemeral-volume) in the real controller-manager binary against the real apiserver. No
//! scheduler or kubelet runs: the tests write the selected-node annotation as the scheduler
//! does, and remove a deleted volume's finalizer as the node's kubelet does.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Cluster;

const WITHIN: Duration = Duration::from_secs(30);
const STORAGE_CONTROLLERS: &str = "--controllers=persistentvolume-binder,local-path,pvc-protection,pv-protection,ephemeral-volume";

/// The controller-manager, whose log is printed when the test fails.
struct Manager(common::testing::Component);

impl Drop for Manager {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("controller-manager log:\n{}", self.0.log());
        }
    }
}

fn start(cluster: &Cluster) -> Manager {
    Manager(cluster.controller_manager(&[STORAGE_CONTROLLERS]))
}

fn volume(name: &str, size: &str, modes: Value, class: &str, extra: Value) -> Value {
    let mut volume = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
        "spec": {"capacity": {"storage": size}, "accessModes": modes, "storageClassName": class,
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": format!("/tmp/{name}")}}});
    merge(&mut volume, extra);
    volume
}

fn claim(name: &str, size: &str, modes: Value, class: &str, extra: Value) -> Value {
    let mut claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"accessModes": modes, "storageClassName": class, "resources": {"requests": {"storage": size}}}});
    merge(&mut claim, extra);
    claim
}

fn merge(target: &mut Value, extra: Value) {
    match (target, extra) {
        (Value::Object(target), Value::Object(extra)) => {
            for (key, value) in extra {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, extra) => *target = extra,
    }
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

/// Waits until the claim is Bound and returns it with its volume.
async fn bound(cluster: &Cluster, namespace: &str, name: &str) -> (Value, Value) {
    cluster
        .wait_for(&format!("claim {namespace}/{name} and its volume Bound"), WITHIN, || async {
            let claim = cluster.get(&format!("/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}")).await;
            let volume_name = claim["spec"]["volumeName"].as_str().unwrap_or_default().to_string();
            if claim["status"]["phase"] != "Bound" || volume_name.is_empty() {
                return Err(claim.to_string());
            }
            let volume = cluster.get(&format!("/api/v1/persistentvolumes/{volume_name}")).await;
            if volume["status"]["phase"] != "Bound" {
                return Err(volume.to_string());
            }
            Ok((claim, volume))
        })
        .await
}

/// Waits for an event with `reason` about the object `name` in `namespace`, returns its message.
async fn event(cluster: &Cluster, namespace: &str, name: &str, reason: &str) -> String {
    cluster
        .wait_for(&format!("event {reason} about {namespace}/{name}"), WITHIN, || async {
            let events = cluster.items(&format!("/api/v1/namespaces/{namespace}/events")).await;
            events
                .iter()
                .find(|event| event["involvedObject"]["name"] == name && event["reason"] == reason)
                .map(|event| event["message"].as_str().unwrap_or_default().to_string())
                .ok_or_else(|| events.iter().map(|event| format!("{} {}: {}", event["involvedObject"]["name"], event["reason"], event["message"])).collect::<Vec<_>>().join("; "))
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_volumes_bind_by_class_capacity_access_modes_selector_and_name() {
    let cluster = Cluster::start();
    let _manager = start(&cluster);
    cluster.namespace("static").await;
    let rwo = json!(["ReadWriteOnce"]);
    for body in [
        volume("pv-small", "1Gi", rwo.clone(), "manual", json!({})),
        volume("pv-big", "5Gi", rwo.clone(), "manual", json!({})),
        volume("pv-rox", "2Gi", json!(["ReadOnlyMany"]), "manual", json!({})),
        volume("pv-gold", "3Gi", rwo.clone(), "manual", json!({"metadata": {"labels": {"tier": "gold"}}})),
        volume("pv-named", "10Gi", rwo.clone(), "manual", json!({})),
        volume("pv-other-class", "2Gi", rwo.clone(), "slow", json!({})),
    ] {
        cluster.create("/api/v1/persistentvolumes", &body).await;
    }
    let claims = "/api/v1/namespaces/static/persistentvolumeclaims";

    // A selector: only the labelled volume, though it is not the smallest.
    cluster.create(claims, &claim("gold", "1Gi", rwo.clone(), "manual", json!({"spec": {"selector": {"matchLabels": {"tier": "gold"}}}}))).await;
    let (gold, gold_volume) = bound(&cluster, "static", "gold").await;
    assert_eq!(gold["spec"]["volumeName"], "pv-gold");
    assert_eq!(annotation(&gold, "pv.kubernetes.io/bind-completed"), Some("yes"));
    assert_eq!(annotation(&gold, "pv.kubernetes.io/bound-by-controller"), Some("yes"));
    assert_eq!(gold["status"]["capacity"]["storage"], "3Gi", "the claim's capacity is the volume's");
    assert_eq!(gold["status"]["accessModes"], rwo);
    assert_eq!(gold_volume["spec"]["claimRef"]["uid"], gold["metadata"]["uid"]);
    assert_eq!(gold_volume["spec"]["claimRef"]["kind"], "PersistentVolumeClaim");
    assert_eq!(annotation(&gold_volume, "pv.kubernetes.io/bound-by-controller"), Some("yes"));

    // Capacity: the smallest that is big enough (pv-small is too small, pv-gold is taken).
    cluster.create(claims, &claim("two", "2Gi", rwo.clone(), "manual", json!({}))).await;
    assert_eq!(bound(&cluster, "static", "two").await.0["spec"]["volumeName"], "pv-big");

    // Access modes: only the ReadOnlyMany volume offers them.
    cluster.create(claims, &claim("shared", "1Gi", json!(["ReadOnlyMany"]), "manual", json!({}))).await;
    assert_eq!(bound(&cluster, "static", "shared").await.0["spec"]["volumeName"], "pv-rox");

    // Class: the volume of class "slow", though bigger ones of "manual" are free.
    cluster.create(claims, &claim("slow", "1Gi", rwo.clone(), "slow", json!({}))).await;
    assert_eq!(bound(&cluster, "static", "slow").await.0["spec"]["volumeName"], "pv-other-class");

    // By name: the named volume, not the free smaller one; the user chose, so the claim has no
    // bound-by-controller annotation.
    cluster.create(claims, &claim("named", "1Gi", rwo.clone(), "manual", json!({"spec": {"volumeName": "pv-named"}}))).await;
    let (named, _) = bound(&cluster, "static", "named").await;
    assert_eq!(named["spec"]["volumeName"], "pv-named");
    assert_eq!(annotation(&named, "pv.kubernetes.io/bound-by-controller"), None);

    // Nothing left of class "manual" that is big enough, and no such StorageClass.
    cluster.create(claims, &claim("huge", "50Gi", rwo.clone(), "manual", json!({}))).await;
    let message = event(&cluster, "static", "huge", "ProvisioningFailed").await;
    assert_eq!(message, "storageclass.storage.k8s.io \"manual\" not found");
    // No class at all.
    cluster.create(claims, &claim("classless", "50Gi", rwo.clone(), "", json!({}))).await;
    let message = event(&cluster, "static", "classless", "FailedBinding").await;
    assert_eq!(message, "no persistent volumes available for this claim and no storage class is set");
    let huge = cluster.get(&format!("{claims}/huge")).await;
    assert_eq!(huge["status"]["phase"], "Pending");
    let small = cluster.get("/api/v1/persistentvolumes/pv-small").await;
    assert_eq!(small["status"]["phase"], "Available");

    // Half bound, as a controller-manager killed between the volume's write and the claim's
    // leaves it: the next one finishes the binding.
    let half = cluster.create(claims, &claim("half", "1Gi", rwo.clone(), "half", json!({"spec": {"volumeName": ""}}))).await;
    let reserved = volume("pv-half", "1Gi", rwo.clone(), "half", json!({"metadata": {"annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}},
        "spec": {"claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "static", "name": "half", "uid": half["metadata"]["uid"]}}}));
    cluster.create("/api/v1/persistentvolumes", &reserved).await;
    assert_eq!(bound(&cluster, "static", "half").await.0["spec"]["volumeName"], "pv-half");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_binding_claim_gets_a_local_volume_on_the_chosen_node_and_delete_removes_it() {
    let cluster = Cluster::start();
    let _manager = start(&cluster);
    cluster.namespace("late").await;
    cluster.node("node-1").await;
    cluster.node("node-2").await;

    // The default class.
    let class = cluster
        .wait_for("the default StorageClass", WITHIN, || async {
            cluster.get_opt("/apis/storage.k8s.io/v1/storageclasses/standard").await.ok_or_else(|| "absent".to_string())
        })
        .await;
    assert_eq!(annotation(&class, "storageclass.kubernetes.io/is-default-class"), Some("true"));
    assert_eq!(class["provisioner"], "cluster.local/local-path");
    assert_eq!(class["reclaimPolicy"], "Delete");
    assert_eq!(class["volumeBindingMode"], "WaitForFirstConsumer");

    let path = "/api/v1/namespaces/late/persistentvolumeclaims/data";
    let created = cluster.create("/api/v1/namespaces/late/persistentvolumeclaims", &claim("data", "1Gi", json!(["ReadWriteOnce"]), "standard", json!({}))).await;
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    let message = event(&cluster, "late", "data", "WaitForFirstConsumer").await;
    assert_eq!(message, "waiting for first consumer to be created before binding");
    // The event is the binder's decision for this claim: the same sync would otherwise have
    // handed it to the provisioner (the annotation), and the provisioner acts on nothing else.
    let waiting = cluster
        .wait_for("the claim Pending", WITHIN, || async {
            let claim = cluster.get(path).await;
            if claim["status"]["phase"] == "Pending" { Ok(claim) } else { Err(claim.to_string()) }
        })
        .await;
    assert_eq!(annotation(&waiting, "volume.kubernetes.io/storage-provisioner"), None, "not handed to a provisioner: {waiting}");
    assert!(cluster.get_opt(&format!("/api/v1/persistentvolumes/pvc-{uid}")).await.is_none(), "no volume before a node is chosen");

    // The scheduler's choice.
    cluster.merge_patch(path, &json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "node-2"}}})).await;
    let (data, volume) = bound(&cluster, "late", "data").await;
    assert_eq!(data["spec"]["volumeName"], format!("pvc-{uid}"));
    assert_eq!(annotation(&data, "volume.kubernetes.io/storage-provisioner"), Some("cluster.local/local-path"));
    assert_eq!(annotation(&data, "volume.beta.kubernetes.io/storage-provisioner"), Some("cluster.local/local-path"));
    assert_eq!(volume["spec"]["hostPath"]["path"], format!("/var/local-path-provisioner/pvc-{uid}_late_data"));
    assert_eq!(volume["spec"]["hostPath"]["type"], "DirectoryOrCreate");
    assert_eq!(volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0],
        json!({"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-2"]}));
    assert_eq!(volume["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(volume["spec"]["capacity"]["storage"], "1Gi");
    assert_eq!(annotation(&volume, "pv.kubernetes.io/provisioned-by"), Some("cluster.local/local-path"));
    assert!(volume["metadata"]["finalizers"].as_array().unwrap().iter().any(|finalizer| finalizer == "external-provisioner.volume.kubernetes.io/finalizer"));
    assert!(event(&cluster, "late", "data", "ExternalProvisioning").await.contains("'cluster.local/local-path'"));
    assert_eq!(event(&cluster, "late", "data", "Provisioning").await, "External provisioner is provisioning volume for claim \"late/data\"");
    assert_eq!(event(&cluster, "late", "data", "ProvisioningSucceeded").await, format!("Successfully provisioned volume pvc-{uid}"));

    // Delete: the claim goes, the volume is released and deleted, and stays until the node's
    // kubelet (played here) has removed the directory and the finalizer.
    cluster.delete(path, &json!({})).await;
    let volume_path = format!("/api/v1/persistentvolumes/pvc-{uid}");
    let deleting = cluster
        .wait_for("the released volume being deleted", WITHIN, || async {
            let volume = cluster.get_opt(&volume_path).await.ok_or_else(|| "gone already".to_string())?;
            let finalizers: Vec<Value> = volume["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
            // pv-protection's finalizer goes as the volume is no longer bound.
            if volume["metadata"]["deletionTimestamp"].is_string() && finalizers == [json!("external-provisioner.volume.kubernetes.io/finalizer")] {
                Ok(volume)
            } else {
                Err(volume.to_string())
            }
        })
        .await;
    assert_eq!(deleting["status"]["phase"], "Released");
    cluster.merge_patch(&volume_path, &json!({"metadata": {"finalizers": null}})).await;
    cluster
        .wait_for("the volume gone", WITHIN, || async { cluster.get_opt(&volume_path).await.map_or(Ok(()), |volume| Err(volume.to_string())) })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_keeps_a_released_volume_and_an_unknown_class_fails_to_provision() {
    let cluster = Cluster::start();
    let _manager = start(&cluster);
    cluster.namespace("keep").await;
    cluster.create("/api/v1/persistentvolumes", &volume("kept", "1Gi", json!(["ReadWriteOnce"]), "", json!({}))).await;
    let claims = "/api/v1/namespaces/keep/persistentvolumeclaims";
    cluster.create(claims, &claim("data", "1Gi", json!(["ReadWriteOnce"]), "", json!({}))).await;
    bound(&cluster, "keep", "data").await;
    // A second pair whose reclaim, later, shows that the binder has dealt with the first.
    cluster.create("/api/v1/persistentvolumes", &volume("recycled", "1Gi", json!(["ReadWriteOnce"]), "recycling", json!({"spec": {"persistentVolumeReclaimPolicy": "Recycle"}}))).await;
    cluster.create(claims, &claim("later", "1Gi", json!(["ReadWriteOnce"]), "recycling", json!({}))).await;
    bound(&cluster, "keep", "later").await;
    cluster.delete(&format!("{claims}/data"), &json!({})).await;
    cluster
        .wait_for("the volume Released", WITHIN, || async {
            let volume = cluster.get("/api/v1/persistentvolumes/kept").await;
            if volume["status"]["phase"] == "Released" { Ok(()) } else { Err(volume.to_string()) }
        })
        .await;
    cluster.delete(&format!("{claims}/later"), &json!({})).await;
    assert_eq!(event(&cluster, "default", "recycled", "VolumeFailedRecycle").await, "No recycler plugin found for the volume!");
    let volume = cluster.get("/api/v1/persistentvolumes/kept").await;
    assert_eq!(volume["status"]["phase"], "Released", "Retain keeps the volume: {volume}");
    assert!(volume["metadata"]["deletionTimestamp"].is_null());
    assert_eq!(volume["spec"]["claimRef"]["name"], "data", "a retained volume keeps its claimRef");

    cluster.create(claims, &claim("nowhere", "1Gi", json!(["ReadWriteOnce"]), "no-such-class", json!({}))).await;
    assert_eq!(event(&cluster, "keep", "nowhere", "ProvisioningFailed").await, "storageclass.storage.k8s.io \"no-such-class\" not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_a_running_pod_uses_stays_until_the_pod_goes() {
    let cluster = Cluster::start();
    let _manager = start(&cluster);
    cluster.namespace("held").await;
    cluster.node("node-1").await;
    cluster.create("/api/v1/persistentvolumes", &volume("disk", "1Gi", json!(["ReadWriteOnce"]), "", json!({}))).await;
    let claim_path = "/api/v1/namespaces/held/persistentvolumeclaims/data";
    cluster.create("/api/v1/namespaces/held/persistentvolumeclaims", &claim("data", "1Gi", json!(["ReadWriteOnce"]), "", json!({}))).await;
    bound(&cluster, "held", "data").await;
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox:local"}],
                 "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}});
    cluster.create("/api/v1/namespaces/held/pods", &pod).await;
    cluster.set_pod_status("held", "user", "10.244.0.5", true).await;
    cluster
        .wait_for("the claim's protection finalizer", WITHIN, || async {
            let claim = cluster.get(claim_path).await;
            let protected = claim["metadata"]["finalizers"].as_array().is_some_and(|list| list.iter().any(|finalizer| finalizer == "kubernetes.io/pvc-protection"));
            if protected { Ok(()) } else { Err(claim.to_string()) }
        })
        .await;

    // Finished, the pod still names the claim: it holds it until it is deleted (kube's
    // podUsesPVC looks at no phase).
    cluster.merge_patch("/api/v1/namespaces/held/pods/user/status", &json!({"status": {"phase": "Succeeded"}})).await;
    // An unused claim deleted after it: once pvc-protection has let that one go, it has seen
    // the first.
    let free_path = "/api/v1/namespaces/held/persistentvolumeclaims/free";
    cluster.create("/api/v1/namespaces/held/persistentvolumeclaims", &claim("free", "1Gi", json!(["ReadWriteOnce"]), "", json!({}))).await;
    cluster
        .wait_for("the unused claim protected", WITHIN, || async {
            let claim = cluster.get(free_path).await;
            let protected = claim["metadata"]["finalizers"].as_array().is_some_and(|list| list.iter().any(|finalizer| finalizer == "kubernetes.io/pvc-protection"));
            if protected { Ok(()) } else { Err(claim.to_string()) }
        })
        .await;
    cluster.delete(claim_path, &json!({})).await;
    cluster.delete(free_path, &json!({})).await;
    cluster
        .wait_for("the unused claim gone", WITHIN, || async { cluster.get_opt(free_path).await.map_or(Ok(()), |claim| Err(claim.to_string())) })
        .await;
    let claim = cluster.get_opt(claim_path).await.expect("a claim a finished pod names stays");
    assert!(claim["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(claim["status"]["phase"], "Bound");

    cluster.delete("/api/v1/namespaces/held/pods/user", &json!({"gracePeriodSeconds": 0})).await;
    cluster
        .wait_for("the claim gone with its pod", WITHIN, || async { cluster.get_opt(claim_path).await.map_or(Ok(()), |claim| Err(claim.to_string())) })
        .await;
    // The volume it held is released, and its own protection lets it go when deleted.
    cluster
        .wait_for("the volume Released", WITHIN, || async {
            let volume = cluster.get("/api/v1/persistentvolumes/disk").await;
            if volume["status"]["phase"] == "Released" { Ok(()) } else { Err(volume.to_string()) }
        })
        .await;
    cluster.delete("/api/v1/persistentvolumes/disk", &json!({})).await;
    cluster
        .wait_for("the released volume gone", WITHIN, || async {
            cluster.get_opt("/api/v1/persistentvolumes/disk").await.map_or(Ok(()), |volume| Err(volume.to_string()))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ephemeral_volume_gets_a_claim_its_pod_owns() {
    let cluster = Cluster::start();
    let _manager = start(&cluster);
    cluster.namespace("eph").await;
    let pod = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox:local"}],
                     "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"metadata": {"labels": {"kind": "scratch"}},
                         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard", "resources": {"requests": {"storage": "1Gi"}}}}}}]}})
    };
    let created = cluster.create("/api/v1/namespaces/eph/pods", &pod("worker")).await;
    let claim = cluster
        .wait_for("the ephemeral claim", WITHIN, || async {
            cluster.get_opt("/api/v1/namespaces/eph/persistentvolumeclaims/worker-scratch").await.ok_or_else(|| "absent".to_string())
        })
        .await;
    let owner = &claim["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Pod");
    assert_eq!(owner["uid"], created["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(owner["blockOwnerDeletion"], true);
    assert_eq!(claim["metadata"]["labels"]["kind"], "scratch");
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");

    // A claim of the name that the pod does not own is left alone, and the pod is told.
    cluster.create("/api/v1/namespaces/eph/persistentvolumeclaims", &claim_named("squatter-scratch")).await;
    cluster.create("/api/v1/namespaces/eph/pods", &pod("squatter")).await;
    let message = event(&cluster, "eph", "squatter", "FailedBinding").await;
    assert_eq!(message, "ephemeral volume scratch: PVC eph/squatter-scratch was not created for pod eph/squatter (pod is not owner)");
    let squatted_path = "/api/v1/namespaces/eph/persistentvolumeclaims/squatter-scratch";
    let squatted = cluster.get(squatted_path).await;
    assert!(squatted["metadata"]["ownerReferences"].is_null());

    // The foreign claim deleted: the pod gets its own.
    let squatter = cluster.get("/api/v1/namespaces/eph/pods/squatter").await;
    cluster.delete(squatted_path, &json!({})).await;
    cluster
        .wait_for("the pod's own claim in place of the foreign one", WITHIN, || async {
            let claim = cluster.get_opt(squatted_path).await.ok_or_else(|| "absent".to_string())?;
            if claim["metadata"]["ownerReferences"][0]["uid"] == squatter["metadata"]["uid"] { Ok(()) } else { Err(claim.to_string()) }
        })
        .await;
}

fn claim_named(name: &str) -> Value {
    claim(name, "1Gi", json!(["ReadWriteOnce"]), "standard", json!({}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_manager_killed_while_binding_converges_when_started_again() {
    // What a controller-manager killed half-way through bindings leaves, written with none
    // running: for some pairs only the volume's claimRef (the first write), for others also
    // the claim's volumeName without bind-completed; the rest untouched.
    let cluster = Cluster::start();
    cluster.namespace("crash").await;
    const COUNT: usize = 21;
    let rwo = json!(["ReadWriteOnce"]);
    let mut uids = Vec::new();
    for index in 0..COUNT {
        let extra = if index % 3 == 1 { json!({"spec": {"volumeName": format!("crash-{index}")}}) } else { json!({}) };
        let created = cluster.create("/api/v1/namespaces/crash/persistentvolumeclaims", &claim(&format!("c-{index}"), "1Gi", rwo.clone(), "", extra)).await;
        uids.push(created["metadata"]["uid"].as_str().unwrap().to_string());
    }
    for (index, uid) in uids.iter().enumerate() {
        let extra = if index % 3 == 2 {
            json!({})
        } else {
            json!({"metadata": {"annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}},
                "spec": {"claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "crash", "name": format!("c-{index}"), "uid": uid}}})
        };
        cluster.create("/api/v1/persistentvolumes", &volume(&format!("crash-{index}"), "1Gi", rwo.clone(), "", extra)).await;
    }

    let _manager = start(&cluster);
    let mut volumes_of_claims = std::collections::BTreeMap::new();
    for index in 0..COUNT {
        let (claim, volume) = bound(&cluster, "crash", &format!("c-{index}")).await;
        assert_eq!(volume["spec"]["claimRef"]["uid"], claim["metadata"]["uid"], "the volume points back at its claim");
        let name = volume["metadata"]["name"].as_str().unwrap().to_string();
        if index % 3 != 2 {
            assert_eq!(name, format!("crash-{index}"), "a half-made binding is finished, not redone");
            assert_eq!(annotation(&claim, "pv.kubernetes.io/bind-completed"), Some("yes"));
        }
        volumes_of_claims.insert(name, index);
    }
    assert_eq!(volumes_of_claims.len(), COUNT, "one volume per claim");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_local_volume_whose_node_is_gone_loses_its_provisioner_finalizer() {
    let cluster = Cluster::start();
    let _manager = start(&cluster);
    cluster.namespace("orphan").await;
    cluster.node("node-3").await;
    let path = "/api/v1/namespaces/orphan/persistentvolumeclaims/data";
    let body = claim("data", "1Gi", json!(["ReadWriteOnce"]), "standard", json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "node-3"}}}));
    cluster
        .wait_for("the default StorageClass", WITHIN, || async {
            cluster.get_opt("/apis/storage.k8s.io/v1/storageclasses/standard").await.map(drop).ok_or_else(|| "absent".to_string())
        })
        .await;
    cluster.create("/api/v1/namespaces/orphan/persistentvolumeclaims", &body).await;
    let (_, volume) = bound(&cluster, "orphan", "data").await;
    let volume_path = format!("/api/v1/persistentvolumes/{}", volume["metadata"]["name"].as_str().unwrap());
    cluster.delete("/api/v1/nodes/node-3", &json!({})).await;
    cluster.delete(path, &json!({})).await;
    cluster
        .wait_for("the volume gone without its node's kubelet", WITHIN, || async {
            cluster.get_opt(&volume_path).await.map_or(Ok(()), |volume| Err(volume.to_string()))
        })
        .await;
    let message = event(&cluster, "default", volume["metadata"]["name"].as_str().unwrap(), "NodeNotFound").await;
    assert!(message.contains("node-3"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_local_class_picks_the_emptiest_ready_node_and_refuses_what_a_directory_cannot_be() {
    let cluster = Cluster::start();
    let _manager = start(&cluster);
    cluster.namespace("now").await;
    cluster.node("node-b").await;
    cluster.node("node-a").await;
    // A control plane, first by name, that pods are kept off: never chosen.
    cluster.node("control-plane").await;
    cluster.merge_patch("/api/v1/nodes/control-plane", &json!({"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}})).await;
    let class = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-now"},
        "provisioner": "cluster.local/local-path", "reclaimPolicy": "Retain", "volumeBindingMode": "Immediate"});
    cluster.create("/apis/storage.k8s.io/v1/storageclasses", &class).await;
    let claims = "/api/v1/namespaces/now/persistentvolumeclaims";
    cluster.create(claims, &claim("first", "1Gi", json!(["ReadWriteOnce"]), "local-now", json!({}))).await;
    let (_, first) = bound(&cluster, "now", "first").await;
    let node_of = |volume: &Value| volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0].as_str().unwrap_or_default().to_string();
    assert_eq!(node_of(&first), "node-a", "ties go by name");
    assert_eq!(first["spec"]["persistentVolumeReclaimPolicy"], "Retain", "the class's policy");
    cluster.create(claims, &claim("second", "1Gi", json!(["ReadWriteOnce"]), "local-now", json!({}))).await;
    let (_, second) = bound(&cluster, "now", "second").await;
    assert_eq!(node_of(&second), "node-b", "the node with fewer volumes");

    cluster.create(claims, &claim("picky", "1Gi", json!(["ReadWriteOnce"]), "local-now", json!({"spec": {"selector": {"matchLabels": {"a": "b"}}}}))).await;
    assert!(event(&cluster, "now", "picky", "ProvisioningFailed").await.contains("claim.Spec.Selector is not supported for dynamic provisioning"));
    cluster.create(claims, &claim("shared", "1Gi", json!(["ReadWriteMany"]), "local-now", json!({}))).await;
    assert!(event(&cluster, "now", "shared", "ProvisioningFailed").await.contains("access modes"));
    for name in ["picky", "shared"] {
        assert_eq!(cluster.get(&format!("{claims}/{name}")).await["status"]["phase"], "Pending", "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_made_before_the_default_class_existed_gets_it() {
    let cluster = Cluster::start();
    cluster.namespace("early").await;
    let claims = "/api/v1/namespaces/early/persistentvolumeclaims";
    // Made before any controller-manager ran: no default class yet, so the admission leaves
    // the class unset.
    let mut body = claim("data", "1Gi", json!(["ReadWriteOnce"]), "", json!({}));
    body["spec"].as_object_mut().unwrap().remove("storageClassName");
    let created = cluster.create(claims, &body).await;
    assert!(created["spec"]["storageClassName"].is_null(), "no default class to set: {created}");
    // "" asks for no class: it keeps none.
    cluster.create(claims, &claim("classless", "1Gi", json!(["ReadWriteOnce"]), "", json!({}))).await;

    let _manager = start(&cluster);
    // The manager makes `standard`; the claim gets it (RetroactiveDefaultStorageClass) and then
    // waits for its first consumer as any claim of that class.
    assert_eq!(event(&cluster, "early", "data", "WaitForFirstConsumer").await, "waiting for first consumer to be created before binding");
    let data = cluster.get(&format!("{claims}/data")).await;
    assert_eq!(data["spec"]["storageClassName"], "standard");
    assert_eq!(event(&cluster, "early", "classless", "FailedBinding").await, "no persistent volumes available for this claim and no storage class is set");
    let classless = cluster.get(&format!("{claims}/classless")).await;
    assert_eq!(classless["spec"]["storageClassName"], "");
}
