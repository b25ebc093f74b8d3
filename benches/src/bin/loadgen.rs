//! `loadgen`: plays many participants over real UDP on loopback against a talko engine
//! and reports per-shard CPU, tick times, missed ticks, loss both ways and server-added
//! latency. Run it in release: `cargo run --release -p talko-benches --bin loadgen -- --help`.

use std::process::ExitCode;

use talko_benches::cli::{self, CliError, Target};
use talko_benches::run::run_embedded;

// Counts allocations per thread, so the report can show that the shard threads do not
// allocate under load. Costs a thread-local increment per allocation.
#[global_allocator]
static ALLOC: talko_codecs::testing::CountingAlloc = talko_codecs::testing::CountingAlloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let command_line = args.join(" ");
    let options = match cli::parse(args.into_iter().skip(1)) {
        Ok(o) => o,
        Err(CliError::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match options.target {
        Target::Embedded => run_embedded(&options, command_line),
    };
    match result {
        Ok(report) => {
            if options.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("loadgen: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{report}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
