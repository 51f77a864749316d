pub(crate) mod horizontal_pod_autoscaler;
pub(crate) mod horizontal_pod_autoscaler_v1;
