//! End-to-end tests across crates, over real loopback sockets with real certificates made by
//! reign-certgen in temporary folders. One test binary, so the workspace links it once.

mod chat;
mod cluster_hostile;
mod cluster_join;
mod cluster_links;
mod cluster_messaging;
mod cluster_monitors;
mod cluster_reload;
mod cluster_rotation;
mod fuzz_control;
mod global_names;
mod hostile_costs;
mod hostile_member;
mod in_memory;
mod mesh;
mod not_reading;
mod operator;
mod own_runtime;
mod process;
mod procs;
mod raw_member;
mod readme;
mod send_batch;
mod servers;
mod supervision;
mod support;
mod tls_accept;
mod tls_flood;
mod tls_hostile;
mod tls_peer_text;
mod tls_records;
mod tls_refusals;
mod tls_reload;
mod tls_update;
mod tls_validity;
