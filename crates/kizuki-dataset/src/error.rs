//! Errors reading data files, each pointing at the file, line, case and field to fix.

use kizuki_domain::ValidationErrors;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {}{errors}", case.map(|n| format!("case {n}: ")).unwrap_or_default())]
    Invalid {
        file: String,
        case: Option<u32>,
        errors: ValidationErrors,
    },
    #[error("{file}: {message}")]
    Other { file: String, message: String },
}
