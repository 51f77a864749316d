"""Seed workload for issue #28: Airflow's Kubernetes operators against our cluster.

`seed_k8s` is what a user of apache-airflow-providers-cncf-kubernetes writes: a pod whose
printed lines Airflow follows into the task log and whose /airflow/xcom/return.json Airflow
reads through the XCom sidecar (over exec), a task that uses that value, and a Job that Airflow
waits for, whose pod's log and XCom it fetches, and which the DAG deletes afterwards.

`seed_k8s_missing_image` is the mistake a user makes: an image nobody has. The task must fail
fast with the pod's waiting reason and its events in the task log.

Run with `airflow dags test seed_k8s` (scripts/seed/airflow.sh sets the kubernetes_default
connection, whose extra names the kubeconfig and the XCom sidecar's image).
"""

from __future__ import annotations

import pendulum

from airflow.providers.cncf.kubernetes.operators.job import (
    KubernetesDeleteJobOperator,
    KubernetesJobOperator,
)
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG, task

NAMESPACE = "seed-airflow"
# Every node of our clusters has it; nothing is pulled.
IMAGE = "localhost/busybox:local"

with DAG(
    dag_id="seed_k8s",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["seed"],
):
    produce = KubernetesPodOperator(
        task_id="produce",
        name="seed-produce",
        namespace=NAMESPACE,
        image=IMAGE,
        image_pull_policy="IfNotPresent",
        cmds=["sh", "-c"],
        # Lines a second apart for longer than the operator's 5 s startup poll, so that Airflow
        # follows the log while the container still prints.
        arguments=[
            "for i in $(seq 1 10); do echo \"seed-airflow pod line $i of 10\"; sleep 1; done; "
            "echo '{\"lines\": 10, \"word\": \"from-the-pod\"}' > /airflow/xcom/return.json"
        ],
        do_xcom_push=True,
        get_logs=True,
        log_events_on_failure=True,
        on_finish_action="delete_pod",
        startup_timeout_seconds=120,
    )

    @task
    def check(value: dict) -> str:
        print(f"seed-airflow xcom value: {value}")
        if value != {"lines": 10, "word": "from-the-pod"}:
            raise ValueError(f"unexpected XCom value from the pod: {value!r}")
        return value["word"]

    @task
    def check_job(value: list) -> int:
        print(f"seed-airflow job xcom value: {value}")
        if value != [1, 2, 3]:
            raise ValueError(f"unexpected XCom value from the Job's pod: {value!r}")
        return sum(value)

    job = KubernetesJobOperator(
        task_id="job",
        name="seed-job",
        namespace=NAMESPACE,
        image=IMAGE,
        image_pull_policy="IfNotPresent",
        cmds=["sh", "-c"],
        # The Job's pod has the XCom sidecar too: the Job completes only once Airflow, having read
        # the value, has stopped the sidecar over exec.
        arguments=[
            "for i in 1 2 3; do echo \"seed-airflow job line $i of 3\"; sleep 1; done; "
            "echo '[1, 2, 3]' > /airflow/xcom/return.json"
        ],
        backoff_limit=0,
        wait_until_job_complete=True,
        job_poll_interval=2,
        get_logs=True,
        do_xcom_push=True,
        log_events_on_failure=True,
        on_finish_action="delete_pod",
    )

    # The Job operator leaves the Job (its pods it deletes by on_finish_action); the provider's
    # delete operator removes it once Complete, taking its name from the Job task's XCom.
    delete_job = KubernetesDeleteJobOperator(
        task_id="delete_job",
        name="{{ ti.xcom_pull(task_ids='job', key='job_name') }}",
        namespace=NAMESPACE,
        delete_on_status="Complete",
        wait_for_completion=True,
        poll_interval=1.0,
    )

    check(produce.output) >> job
    check_job(job.output) >> delete_job


with DAG(
    dag_id="seed_k8s_missing_image",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["seed"],
):
    KubernetesPodOperator(
        task_id="missing_image",
        name="seed-missing-image",
        namespace=NAMESPACE,
        image="localhost/seed-no-such-image:local",
        image_pull_policy="IfNotPresent",
        cmds=["true"],
        get_logs=True,
        log_events_on_failure=True,
        on_finish_action="delete_pod",
        startup_timeout_seconds=60,
    )
