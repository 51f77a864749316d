"""A pytest plugin of ours that points third-party client test suites at a kind-style cluster of
this project, without editing their tests.

- `k8s_cluster`: the fixture pytest-kind gives kr8s' suite (`kubeconfig_path`, `kubectl_path`,
  `kubectl(*args)`), here for the cluster `$KUBECONFIG` names instead of one pytest-kind creates.
- Tests that need an image no registry reachable here can give (nginx, python, ubuntu) are
  skipped with that reason, and only those; busybox and pause come from the cluster's local
  registry, which the nodes use as a mirror of docker.io, gcr.io and k8s.gcr.io.
- Tests of APIs that later issues build are marked as expected failures, strictly: one that
  passes fails the run, so the list in `expected.txt` shrinks as those issues land.

Both lists live in `expected.txt` beside this file: `<skip|xfail> <test id> <reason>`.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _read_expectations():
    skips, xfails = {}, {}
    for number, line in enumerate((HERE / "expected.txt").read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) != 3 or parts[0] not in ("skip", "xfail"):
            raise pytest.UsageError(f"expected.txt:{number}: want '<skip|xfail> <test id> <reason>', got {line!r}")
        (skips if parts[0] == "skip" else xfails)[parts[1]] = parts[2]
    return skips, xfails


SKIPS, XFAILS = _read_expectations()


def _listed(item, table):
    # Test ids as pytest prints them, relative to the suite's root: either the whole id
    # (parametrised) or the id without its parameters.
    nodeid = item.nodeid
    return table.get(nodeid) or table.get(nodeid.split("[", 1)[0])


def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = _listed(item, SKIPS)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))
            continue
        reason = _listed(item, XFAILS)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


class Cluster:
    """What kr8s' tests use of pytest-kind's KindCluster."""

    def __init__(self):
        kubeconfig = os.environ.get("KUBECONFIG")
        if not kubeconfig:
            raise pytest.UsageError("KUBECONFIG must name the cluster's kubeconfig")
        self.kubeconfig_path = Path(kubeconfig)
        self.kubectl_path = Path(shutil.which("kubectl") or "/usr/bin/kubectl")

    def kubectl(self, *args):
        return subprocess.check_output(
            [str(self.kubectl_path), *args],
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig_path)},
            encoding="utf-8",
        )


@pytest.fixture(scope="session")
def k8s_cluster():
    return Cluster()
