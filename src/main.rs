//! `access-letters`: see `access-letters --help` and README.md.

mod cli;

/// mimalloc, not the system allocator: glibc's malloc raises its mmap
/// threshold each time a large buffer (a print file) is freed, then keeps
/// the freed memory of later buffers, so a print run's resident memory grew
/// to about 300 MB over a live heap near 40 MB. mimalloc returns it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
