// The same three request heads through Node's http-parser (Debian's
// libhttp-parser-dev) with callbacks that do nothing, for a same-run ratio
// against forkserve_parse/*. Built only where the library is installed; it is
// a yardstick, never a dependency of forkserve itself.
#include <benchmark/benchmark.h>
#include <http_parser.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "requests.hpp"

namespace {

int ignore_data(http_parser*, const char*, size_t) { return 0; }
int ignore_event(http_parser*) { return 0; }

http_parser_settings no_op_settings() {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_message_begin = ignore_event;
  settings.on_url = ignore_data;
  settings.on_header_field = ignore_data;
  settings.on_header_value = ignore_data;
  settings.on_headers_complete = ignore_event;
  settings.on_body = ignore_data;
  settings.on_message_complete = ignore_event;
  return settings;
}

// Parses the whole head; false on a parse error or if it stopped short.
bool parse_once(const http_parser_settings& settings, std::string_view request) {
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  std::size_t used = http_parser_execute(&parser, &settings, request.data(), request.size());
  return used == request.size() && HTTP_PARSER_ERRNO(&parser) == HPE_OK;
}

void parse(benchmark::State& state, std::string_view request) {
  const http_parser_settings settings = no_op_settings();
  if (!parse_once(settings, request)) {
    state.SkipWithError("http-parser rejected the input");
    return;
  }
  for (auto _ : state) {
    bool ok = parse_once(settings, request);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * request.size()));
  state.SetItemsProcessed(state.iterations());
}

void BM_curl(benchmark::State& state) { parse(state, forkserve::bench::kCurlRequest); }
void BM_browser(benchmark::State& state) { parse(state, forkserve::bench::kBrowserRequest); }
void BM_40_headers(benchmark::State& state) {
  static const std::string request = forkserve::bench::forty_header_request();
  parse(state, request);
}
BENCHMARK(BM_curl)->Name("http_parser/curl");
BENCHMARK(BM_browser)->Name("http_parser/browser");
BENCHMARK(BM_40_headers)->Name("http_parser/40_headers");

}  // namespace
