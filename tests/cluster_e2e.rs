//! End-to-end tests of ferrisk as a cluster node (issue 21): PostgreSQL realtime and CDR
//! against a real PostgreSQL server, and ferrisk nodes behind a real Kamailio. One binary,
//! one module per area, peers started once per binary.

mod common;

#[path = "cluster/kamailio.rs"]
mod kamailio;
#[path = "cluster/pgsql.rs"]
mod pgsql;
