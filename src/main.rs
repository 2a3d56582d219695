//! `access-letters`: see `access-letters --help` and README.md.

mod cli;

/// mimalloc, not the system allocator: glibc's malloc raises its mmap
/// threshold each time a large buffer (a print file) is freed, then keeps
/// the freed memory of later buffers, so a print run's resident memory grew
/// to about 300 MB over a live heap near 40 MB. mimalloc returns it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // No transparent huge pages: mimalloc advises its arenas as huge pages
    // and purges freed memory, so a print run kept faulting in fresh 2 MiB
    // pages that the kernel zeroes whole. Profiled on 20,000 rows:
    // `clear_page` took 4.5-5.8% of the run's CPU and page faults 5-7%;
    // without huge pages, 0.3% and 2.4-3% (the same as mimalloc's own
    // MIMALLOC_ALLOW_THP=0, which must be set before the process starts).
    // Best effort: a kernel without the flag runs as before.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    cli::main()
}
