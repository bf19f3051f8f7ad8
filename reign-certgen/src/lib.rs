//! The cluster certificate authority for reign.
#![forbid(unsafe_code)]
