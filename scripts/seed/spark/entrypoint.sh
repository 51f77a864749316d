#!/bin/bash
# The seed-spark image's entrypoint: what Spark on Kubernetes runs its driver and executor pods
# with (their container args are `driver ...` and `executor`; Spark sets the environment below).
# Written after the behaviour of apache/spark's kubernetes/dockerfiles/spark/entrypoint.sh, which
# the pyspark sdist does not ship.
set -eo pipefail

# Spark's image runs as uid 185; Java and Hadoop want a passwd entry for whatever uid we run as.
uid=$(id -u)
if ! getent passwd "$uid" >/dev/null && [[ -w /etc/passwd ]]; then
    echo "$uid:x:$uid:$(id -g):${SPARK_USER_NAME:-anonymous uid}:$SPARK_HOME:/bin/false" >>/etc/passwd
fi

: "${JAVA_HOME:=/usr/lib/jvm/java-17-openjdk-amd64}"
: "${SPARK_HOME:?SPARK_HOME is not set}"

SPARK_CLASSPATH="${SPARK_CLASSPATH:+$SPARK_CLASSPATH:}$SPARK_HOME/jars/*"
[[ -n ${SPARK_EXTRA_CLASSPATH:-} ]] && SPARK_CLASSPATH="$SPARK_CLASSPATH:$SPARK_EXTRA_CLASSPATH"
# The ConfigMap Spark mounts (spark.properties, log4j) comes first.
if [[ -n ${SPARK_CONF_DIR:-} ]]; then
    SPARK_CLASSPATH="$SPARK_CONF_DIR:$SPARK_CLASSPATH"
else
    SPARK_CLASSPATH="$SPARK_HOME/conf:$SPARK_CLASSPATH"
fi
# SPARK-43540: the working directory is on the executors' classpath.
SPARK_CLASSPATH="$SPARK_CLASSPATH:$PWD"

# The executors' JVM options, SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ... in numeric order.
java_opts=()
while IFS= read -r name; do
    [[ -n $name ]] && java_opts+=("${!name}")
done < <(compgen -v SPARK_JAVA_OPT_ | sort -t_ -k4 -n)

[[ -n ${PYSPARK_PYTHON:-} ]] && export PYSPARK_PYTHON
[[ -n ${PYSPARK_DRIVER_PYTHON:-} ]] && export PYSPARK_DRIVER_PYTHON

case ${1:-} in
    driver)
        shift
        exec /usr/bin/tini -s -- "$SPARK_HOME/bin/spark-submit" \
            --conf "spark.driver.bindAddress=$SPARK_DRIVER_BIND_ADDRESS" \
            --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=$SPARK_DRIVER_BIND_ADDRESS" \
            --deploy-mode client "$@"
        ;;
    executor)
        shift
        exec /usr/bin/tini -s -- "$JAVA_HOME/bin/java" "${java_opts[@]}" \
            -Xms"$SPARK_EXECUTOR_MEMORY" -Xmx"$SPARK_EXECUTOR_MEMORY" \
            -cp "$SPARK_CLASSPATH:${SPARK_DIST_CLASSPATH:-}" \
            org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
            --driver-url "$SPARK_DRIVER_URL" --executor-id "$SPARK_EXECUTOR_ID" \
            --cores "$SPARK_EXECUTOR_CORES" --app-id "$SPARK_APPLICATION_ID" \
            --hostname "$SPARK_EXECUTOR_POD_IP" --resourceProfileId "$SPARK_RESOURCE_PROFILE_ID" \
            --podName "$SPARK_EXECUTOR_POD_NAME" "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
