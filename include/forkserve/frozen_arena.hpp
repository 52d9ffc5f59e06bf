// Memory for a handler's big read-only state that fork() never copies.
//
//     struct Lookup {
//       forkserve::FrozenArena arena;  // first: it must outlive what is built in it
//       std::pmr::unordered_map<std::uint64_t, std::pmr::string> table{&arena};
//       explicit Lookup(std::string_view arg) { /* fill table: every node and string lands in arena */ }
//       forkserve::Body operator()(forkserve::Environ&, forkserve::StartResponse&);  // reads table
//     };
//     FORKSERVE_EXPORT_HANDLER(Lookup)
//
// Every fork() copies the page tables of the parent's private memory: 256 MiB
// of ordinary heap is 65536 entries to copy per request. An arena is shared
// memory instead (memfd, MAP_SHARED), which fork() does not copy at all: a
// child maps only the pages it reads, when it reads them.
//
// The rules:
//  - Build the state in the handler's constructor (init(), in the parent).
//    When init() returns, FORKSERVE_EXPORT_HANDLER seals every arena of the
//    module (seal() does it sooner): from then on the memory is read-only in
//    the parent and in every child and worker, and the kernel refuses to make
//    it writable again. A child that writes there dies of SIGSEGV, which the
//    server logs like any crash, instead of changing what every later request
//    sees; an allocation from a sealed arena throws std::bad_alloc.
//  - Only memory belongs here: std::pmr containers given &arena (nested pmr
//    containers and strings inherit it), or objects placed with allocate().
//    Nothing that owns a descriptor or points into the ordinary heap.
//  - Make the arena a member of the handler, declared before the containers
//    built in it. When the module is unloaded (shutdown, or a reload that
//    replaces it) the export macro thaws the parent's view into a private
//    copy, so the containers' destructors may write, and the arena's
//    destructor unmaps it all. Children still serving with the old module keep
//    reading their own view, untouched. (Outside a module, in a test say,
//    call thaw() yourself before the containers are destroyed.)
//  - Memory is not reused: deallocate() gives back only the latest block.
//    Reserve containers' capacity where the final size is known.
#ifndef FORKSERVE_FROZEN_ARENA_HPP
#define FORKSERVE_FROZEN_ARENA_HPP

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory_resource>
#include <new>
#include <system_error>

namespace forkserve {

class FrozenArena;

namespace detail {
void seal_frozen_arenas();
bool thaw_frozen_arenas() noexcept;
}  // namespace detail

// Thrown by allocations from a sealed arena.
struct FrozenArenaSealed : std::bad_alloc {
  const char* what() const noexcept override {
    return "forkserve::FrozenArena: allocation after the arena was sealed (it is read-only once init() "
           "returns)";
  }
};

class FrozenArena : public std::pmr::memory_resource {
 public:
  // `first_chunk`: bytes reserved up front (address space only: memory is
  // used as it is written). Later chunks double in size as needed.
  explicit FrozenArena(std::size_t first_chunk = std::size_t{1} << 20)
      : next_chunk_size_(page_round(first_chunk)) {
    next_ = first_;
    first_ = this;
  }
  FrozenArena(const FrozenArena&) = delete;
  FrozenArena& operator=(const FrozenArena&) = delete;

  ~FrozenArena() override {
    for (std::size_t i = 0; i < chunk_count_; ++i) {
      ::munmap(chunks_[i].base, chunks_[i].size);
      if (chunks_[i].fd >= 0) ::close(chunks_[i].fd);
    }
    for (FrozenArena** link = &first_; *link != nullptr; link = &(*link)->next_) {
      if (*link == this) {
        *link = next_;
        break;
      }
    }
  }

  // Makes the memory read-only for good, in this process and in every
  // process forked from now on, and unmaps what was reserved but not used.
  // Throws std::system_error if the kernel refuses. Idempotent.
  void seal() {
    if (sealed_) return;
    for (std::size_t i = 0; i < chunk_count_; ++i) seal_chunk(chunks_[i]);
    sealed_ = true;
  }

  // Turns this process's view into a private, writable copy (other
  // processes keep the sealed original), for destructors that write. False
  // if the memory for a copy could not be had; the arena is then still
  // sealed (chunks copied so far stay copied).
  bool thaw() noexcept {
    if (!sealed_) return true;
    for (std::size_t i = 0; i < chunk_count_; ++i) {
      Chunk& chunk = chunks_[i];
      void* copy = ::mmap(nullptr, chunk.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (copy == MAP_FAILED) return false;
      std::memcpy(copy, chunk.base, chunk.used);
      if (::mremap(copy, chunk.size, chunk.size, MREMAP_MAYMOVE | MREMAP_FIXED, chunk.base) == MAP_FAILED) {
        ::munmap(copy, chunk.size);
        return false;
      }
    }
    sealed_ = false;
    frozen_for_good_ = true;  // allocations still throw: the state was built
    return true;
  }

  bool sealed() const noexcept { return sealed_; }
  // Bytes handed out (with alignment padding) and bytes mapped now.
  std::size_t bytes_used() const noexcept {
    std::size_t total = 0;
    for (std::size_t i = 0; i < chunk_count_; ++i) total += chunks_[i].used;
    return total;
  }
  std::size_t bytes_mapped() const noexcept {
    std::size_t total = 0;
    for (std::size_t i = 0; i < chunk_count_; ++i) total += chunks_[i].size;
    return total;
  }
  bool contains(const void* p) const noexcept {
    auto address = reinterpret_cast<std::uintptr_t>(p);
    for (std::size_t i = 0; i < chunk_count_; ++i) {
      auto base = reinterpret_cast<std::uintptr_t>(chunks_[i].base);
      if (address >= base && address < base + chunks_[i].size) return true;
    }
    return false;
  }

  // The name its memory has in /proc/PID/maps ("/memfd:<name> (deleted)").
  static constexpr const char* kMappingName = "forkserve-frozen-arena";

 protected:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    if (sealed_ || frozen_for_good_) throw FrozenArenaSealed();
    // Past this, sizes below would wrap around: no address space is that big.
    if (bytes > kLargestRequest || alignment > kLargestRequest) throw std::bad_alloc();
    if (chunk_count_ > 0) {
      if (void* p = carve(chunks_[chunk_count_ - 1], bytes, alignment)) return p;
    }
    if (chunk_count_ == kMaxChunks) throw std::bad_alloc();
    std::size_t size = next_chunk_size_;
    while (size < bytes + alignment) size *= 2;
    Chunk chunk = map_chunk(size);
    chunks_[chunk_count_++] = chunk;
    next_chunk_size_ = size * 2;
    return carve(chunks_[chunk_count_ - 1], bytes, alignment);
  }

  // Only the latest block can be given back (a growing container's last buffer).
  void do_deallocate(void* p, std::size_t bytes, std::size_t) override {
    if (sealed_ || frozen_for_good_ || chunk_count_ == 0) return;
    Chunk& last = chunks_[chunk_count_ - 1];
    if (static_cast<char*>(p) + bytes == last.base + last.used)
      last.used = static_cast<std::size_t>(static_cast<char*>(p) - last.base);
  }

  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override { return this == &other; }

 private:
  friend void detail::seal_frozen_arenas();
  friend bool detail::thaw_frozen_arenas() noexcept;

  struct Chunk {
    char* base = nullptr;
    std::size_t size = 0;
    std::size_t used = 0;
    int fd = -1;  // the memfd, until sealed
  };
  static constexpr std::size_t kMaxChunks = 40;  // doubling: far more than any address space
  static constexpr std::size_t kLargestRequest = std::size_t{1} << 60;

  static std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }
  static std::size_t page_round(std::size_t n) {
    std::size_t page = page_size();
    return n == 0 ? page : (n + page - 1) / page * page;
  }

  static void* carve(Chunk& chunk, std::size_t bytes, std::size_t alignment) {
    auto base = reinterpret_cast<std::uintptr_t>(chunk.base);
    std::uintptr_t start = (base + chunk.used + alignment - 1) & ~(std::uintptr_t{alignment} - 1);
    if (start > base + chunk.size || bytes > base + chunk.size - start) return nullptr;
    chunk.used = start + bytes - base;
    return reinterpret_cast<void*>(start);
  }

  // A memfd (so that it can be sealed) mapped shared; plain shared anonymous
  // memory where memfd_create is unavailable (then only mprotect seals it).
  static Chunk map_chunk(std::size_t size) {
    Chunk chunk;
    chunk.size = size;
    chunk.fd = ::memfd_create(kMappingName, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (chunk.fd >= 0 && ::ftruncate(chunk.fd, static_cast<off_t>(size)) != 0) {
      ::close(chunk.fd);
      throw std::bad_alloc();
    }
    int flags = chunk.fd >= 0 ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS;
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, flags | MAP_NORESERVE, chunk.fd, 0);
    if (p == MAP_FAILED) {
      if (chunk.fd >= 0) ::close(chunk.fd);
      throw std::bad_alloc();
    }
    chunk.base = static_cast<char*>(p);
    return chunk;
  }

  // Read-only, and with a memfd write-sealed: the new read-only mapping
  // replaces the writable one at the same address, made after
  // F_SEAL_FUTURE_WRITE, so the kernel refuses mprotect(PROT_WRITE) on it.
  static void seal_chunk(Chunk& chunk) {
    auto fail = [](const char* what) { throw std::system_error(errno, std::generic_category(), what); };
    std::size_t keep = page_round(chunk.used);
    if (keep < chunk.size) {  // never written: give the address space back
      ::munmap(chunk.base + keep, chunk.size - keep);
      chunk.size = keep;
    }
    if (chunk.fd < 0) {
      if (::mprotect(chunk.base, chunk.size, PROT_READ) != 0) fail("forkserve::FrozenArena: mprotect");
      return;
    }
    if (::ftruncate(chunk.fd, static_cast<off_t>(chunk.size)) != 0) fail("forkserve::FrozenArena: ftruncate");
    if (::fcntl(chunk.fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
      if (errno != EINVAL) fail("forkserve::FrozenArena: seal");
      // A kernel before 5.1 has no F_SEAL_FUTURE_WRITE: read-only, not sealed.
      if (::mprotect(chunk.base, chunk.size, PROT_READ) != 0) fail("forkserve::FrozenArena: mprotect");
    } else if (::mmap(chunk.base, chunk.size, PROT_READ, MAP_SHARED | MAP_FIXED, chunk.fd, 0) == MAP_FAILED) {
      fail("forkserve::FrozenArena: remap read-only");
    }
    ::close(chunk.fd);
    chunk.fd = -1;
  }

  Chunk chunks_[kMaxChunks];
  std::size_t chunk_count_ = 0;
  std::size_t next_chunk_size_;
  bool sealed_ = false;
  bool frozen_for_good_ = false;  // thawed for destruction: no allocations either
  FrozenArena* next_ = nullptr;   // every live arena of this module, for the export macro
  static inline FrozenArena* first_ = nullptr;
};

namespace detail {

// After init(): seals every arena the module made (std::system_error if one
// cannot be). Also makes sure a process that exits without fini() thaws them
// before static destructors (the handler's, say) write there: registered
// after those, the exit handler runs before them.
inline void seal_frozen_arenas() {
  static const bool thaw_at_exit = std::atexit([] { (void)thaw_frozen_arenas(); }) == 0;
  (void)thaw_at_exit;
  for (FrozenArena* arena = FrozenArena::first_; arena != nullptr; arena = arena->next_) arena->seal();
}

// Before the handler is destroyed: every arena writable again in this process only.
inline bool thaw_frozen_arenas() noexcept {
  bool all = true;
  for (FrozenArena* arena = FrozenArena::first_; arena != nullptr; arena = arena->next_)
    all = arena->thaw() && all;
  return all;
}

}  // namespace detail
}  // namespace forkserve

#endif  // FORKSERVE_FROZEN_ARENA_HPP
