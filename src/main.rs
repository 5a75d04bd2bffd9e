//! `unet3d` binary: parse the command line, run it, print the error chain on failure.

use clap::Parser;

fn main() {
    unet3d::util::alloc::keep_freed_memory();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp(None)
        .init();
    let cli = unet3d::cli::Cli::parse();
    if let Err(err) = unet3d::cli::run(cli) {
        eprintln!("error: {err}");
        for cause in err.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(unet3d::cli::exit_code(&err));
    }
}
