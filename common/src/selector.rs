//! Label and field selectors (placeholder: being written).
