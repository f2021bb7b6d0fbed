//! What the operator of the service runs beside the server: scheduled backups with
//! retention, and the figures `/metrics` shows.

pub mod backup;
pub mod health;
