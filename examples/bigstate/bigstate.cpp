// A handler with big lookup state, built once at start-up in a FrozenArena
// so that fork() does not copy it (<forkserve/frozen_arena.hpp>).
//
//   forkserve --handler bigstate.so:256        256 MiB of state in the frozen arena
//   forkserve --handler bigstate.so:256:heap   the same tables on the ordinary heap, to compare
//
//   GET /?key=K   200 and the value stored for K (a number); 404 when there is none
//   GET /         200 and what it holds
//
// The value for key K is "value K " padded with '.' to 200 bytes; keys run
// from 0 to one less than the number of entries that fit in the size.
#include <charconv>
#include <cstdint>
#include <forkserve/export.hpp>
#include <forkserve/frozen_arena.hpp>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace {

constexpr std::size_t kValueBytes = 200;
// What one entry takes: the value, its node and its bucket, about.
constexpr std::size_t kBytesPerEntry = 256;

std::uint64_t parse_number(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw std::invalid_argument(
        "bigstate: ARG is a size in MiB, optionally followed by :heap (e.g. 256:heap)");
  }
  return n;
}

// The value of `name` in a query string ("a=1&key=42" → "42"), or nullptr-like empty when absent.
std::string_view query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    std::string_view pair = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
  }
  return {};
}

}  // namespace

struct BigState {
  forkserve::FrozenArena arena;  // before the table: it outlives it
  bool on_heap;
  std::pmr::unordered_map<std::uint64_t, std::pmr::string> table;
  std::size_t mebibytes;

  explicit BigState(std::string_view arg)
      : on_heap(arg.ends_with(":heap")),
        table(on_heap ? std::pmr::new_delete_resource() : &arena),
        mebibytes(parse_number(on_heap ? arg.substr(0, arg.size() - 5) : arg)) {
    std::uint64_t entries = (mebibytes << 20) / kBytesPerEntry;
    table.reserve(entries);
    for (std::uint64_t key = 0; key < entries; ++key) {
      std::pmr::string& value = table[key];
      value.assign("value ").append(std::to_string(key)).append(" ");
      value.resize(kValueBytes, '.');
    }
  }

  forkserve::Body operator()(forkserve::Environ& environ, forkserve::StartResponse& start_response) {
    std::string_view query = environ.get("QUERY_STRING");
    std::string_view key_text = query_value(query, "key");
    if (key_text.empty()) {
      start_response("200 OK", {{"Content-Type", "text/plain"}});
      return forkserve::Body::text("bigstate: " + std::to_string(table.size()) + " entries, " +
                                   std::to_string(mebibytes) + " MiB " +
                                   (on_heap ? "on the heap" : "in the frozen arena") + "\n");
    }
    std::uint64_t key = 0;
    auto [end, error] = std::from_chars(key_text.data(), key_text.data() + key_text.size(), key);
    auto found =
        error == std::errc() && end == key_text.data() + key_text.size() ? table.find(key) : table.end();
    if (found == table.end()) {
      start_response("404 Not Found", {{"Content-Type", "text/plain"}});
      return forkserve::Body::text("no value stored for that key\n");
    }
    start_response("200 OK", {{"Content-Type", "text/plain"}});
    return forkserve::Body::text(std::string(found->second));
  }
};

FORKSERVE_EXPORT_HANDLER(BigState)
