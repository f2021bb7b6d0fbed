//! The `kizuki` command: serves the web application (the default) and runs the
//! administrative subcommands, all against one data dir.

mod audit_cmd;
mod cli;
mod report_cmd;
mod select_cmd;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
