// The parent's memory is the price of every fork(): the kernel copies one
// page-table entry per 4 KiB page of its private memory, so a handler that
// builds 256 MiB of state in init() makes each fork() copy 65536 entries.
// Backed by 2 MiB transparent huge pages the same memory is 128 entries.
#pragma once

namespace forkserve {

// Gives freed heap memory back to the kernel, then collapses the parent's
// private anonymous memory that is mostly in use into transparent huge pages
// (MADV_COLLAPSE), unless the administrator turned them off. Called after
// the module's init() and after each reload has settled. The first call that
// finds huge pages unavailable logs why, once; later calls stay silent.
void make_parent_cheap_to_fork();

}  // namespace forkserve
