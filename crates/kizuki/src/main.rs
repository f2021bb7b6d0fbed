//! The `kizuki` command: serves the web application (the default) and runs the
//! administrative subcommands, all against one data dir.

mod annual_report_cmd;
mod audit_cmd;
mod cli;
mod select_cmd;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
