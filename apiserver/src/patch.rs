//! Patches (placeholder: being written).
