pub mod role;
pub mod cluster_role;
pub mod role_binding;
pub mod cluster_role_binding;
