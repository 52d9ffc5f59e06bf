// Microbenchmarks of the per-request work a child does besides I/O: parse
// the head, build the environ, serialise the response head.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connection/environ.hpp"
#include "http/request_parser.hpp"
#include "http/response.hpp"
#include "requests.hpp"

namespace {

using forkserve::http::parse_request_head;
using forkserve::http::ParseStatus;

void parse(benchmark::State& state, std::string_view request) {
  if (parse_request_head(request).status != ParseStatus::Complete) {
    state.SkipWithError("input is not a complete request head");
    return;
  }
  for (auto _ : state) {
    auto result = parse_request_head(request);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * request.size()));
  state.SetItemsProcessed(state.iterations());
}

void BM_parse_curl(benchmark::State& state) { parse(state, forkserve::bench::kCurlRequest); }
void BM_parse_browser(benchmark::State& state) { parse(state, forkserve::bench::kBrowserRequest); }
void BM_parse_40_headers(benchmark::State& state) {
  static const std::string request = forkserve::bench::forty_header_request();
  parse(state, request);
}
BENCHMARK(BM_parse_curl)->Name("forkserve_parse/curl");
BENCHMARK(BM_parse_browser)->Name("forkserve_parse/browser");
BENCHMARK(BM_parse_40_headers)->Name("forkserve_parse/40_headers");

void BM_build_environ(benchmark::State& state) {
  auto parsed = parse_request_head(forkserve::bench::kBrowserRequest);
  if (parsed.status != ParseStatus::Complete) {
    state.SkipWithError("input is not a complete request head");
    return;
  }
  const forkserve::ConnectionInfo connection{{"127.0.0.1", 51234}, {"127.0.0.1", 8000}};
  for (auto _ : state) {
    auto environ = forkserve::build_environ(parsed.head, connection);
    benchmark::DoNotOptimize(environ);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_build_environ)->Name("build_environ/browser");

void serialize(benchmark::State& state, const std::vector<forkserve::http::OwnedHeader>& headers,
               unsigned long long length) {
  constexpr std::string_view date = "Sat, 28 Nov 2026 15:21:53 GMT";
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto head = forkserve::http::serialize_head("200 OK", headers, length, date);
    bytes += head.size();
    benchmark::DoNotOptimize(head);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
}

// What the hello module answers.
void BM_serialize_hello(benchmark::State& state) { serialize(state, {{"Content-Type", "text/plain"}}, 13); }
// What the static-file handler answers for a page.
void BM_serialize_static(benchmark::State& state) {
  serialize(
      state,
      {{"Content-Type", "text/html; charset=utf-8"}, {"Last-Modified", "Thu, 26 Nov 2026 09:14:02 GMT"}},
      65536);
}
BENCHMARK(BM_serialize_hello)->Name("serialize_head/hello");
BENCHMARK(BM_serialize_static)->Name("serialize_head/static");

}  // namespace
