pub mod ingress;
pub mod ingress_class;
