//! Bulk imports of reports from outside files; each files its reports through
//! [`crate::reports::file_prepared`].

pub mod csv;
