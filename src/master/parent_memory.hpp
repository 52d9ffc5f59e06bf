// The parent's memory is the price of every fork(): the kernel copies one
// page-table entry per 4 KiB page of its private memory, so a handler that
// builds 256 MiB of state in init() makes each fork() copy 65536 entries.
#pragma once

namespace forkserve {

// Moves the parent's memory out of what fork() copies entry by entry: gives
// freed heap memory back, turns malloc's heap into a private mapping of a
// copy of itself when no other thread could write it meanwhile (a file
// mapping the parent has not written carries no entries into fork();
// children map what they read and their writes stay theirs), and collapses
// other private anonymous memory that is mostly in use into transparent huge
// pages (one entry per 2 MiB), unless the administrator turned those off.
// Called after the module's init() and after each reload has settled. The
// first call that finds huge pages unavailable while they would help logs
// why, once.
void make_parent_cheap_to_fork();

// Before the module's init(): allocations up to 32 MiB come from malloc's
// heap rather than mappings of their own, so that make_parent_cheap_to_fork()
// moves them with the heap (glibc's M_MMAP_THRESHOLD; elsewhere nothing).
void keep_allocations_on_the_heap();

}  // namespace forkserve
