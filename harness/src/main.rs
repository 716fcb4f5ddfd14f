//! `modem-harness`: runs the Gherkin scenarios written from the vendors' doc logs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use modem_harness::runner::{report, run, RunOptions};

/// Gherkin scenarios from the vendors' AT logs, run against modem-sim.
///
/// Each scenario starts its own simulated module (on a real PTY) and broker; broker-side
/// assertions are made with a real MQTT client. Scenarios tagged @mosquitto start a Mosquitto
/// (it must be installed: apt-get install mosquitto).
#[derive(Debug, Parser)]
#[command(
    name = "modem-harness",
    version,
    after_help = "Exit: 0 all scenarios passed; 1 a scenario failed, was skipped (undefined step) or a feature did not parse; 2 bad arguments or an I/O error."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run .feature files against the simulator.
    Features {
        /// A .feature file or a directory of them.
        #[arg(default_value = "features")]
        path: PathBuf,
        /// Also write a JUnit XML report here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Scenarios run at once.
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Features {
            path,
            junit,
            concurrency,
        } => {
            if !path.exists() {
                eprintln!("modem-harness: {} does not exist (give a .feature file or a directory of them)", path.display());
                return ExitCode::from(2);
            }
            match run(RunOptions {
                features: path,
                junit,
                concurrency,
            })
            .await
            {
                Ok(summary) => ExitCode::from(report(&summary) as u8),
                Err(e) => {
                    eprintln!("modem-harness: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
