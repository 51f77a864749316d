pub(crate) mod storage_class;
pub mod csi_driver;
pub mod csi_node;
pub mod volume_attachment;
