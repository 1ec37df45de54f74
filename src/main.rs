//! The `trctl` binary: parse arguments, run the command, turn the outcome into an exit code.

// See Cargo.toml: the emulator's request path allocates heavily; mimalloc is faster at
// that and keeps less memory resident than glibc's allocator across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    trctl::cli::main()
}
