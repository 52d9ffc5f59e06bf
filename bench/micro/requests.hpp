// The request heads every parser benchmark reads, so forkserve's parser and
// http-parser see byte-identical input.
#pragma once

#include <string>
#include <string_view>

namespace forkserve::bench {

// What `curl http://127.0.0.1:8000/` sends.
inline constexpr std::string_view kCurlRequest =
    "GET / HTTP/1.1\r\n"
    "Host: 127.0.0.1:8000\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "\r\n";

// A desktop browser following a link: long Accept headers, a cookie, the
// Sec-Fetch set. 700 bytes, the size of a typical first request of a visit.
inline constexpr std::string_view kBrowserRequest =
    "GET /docs/guide/index.html?lang=en&ref=nav HTTP/1.1\r\n"
    "Host: www.example.org\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Accept-Language: en-GB,en;q=0.7,de;q=0.3\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Referer: https://www.example.org/docs/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=6f1c2a9e4b7d3f80a5c1e2; theme=dark; consent=analytics:0,ads:0; "
    "seen=1732806113\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "If-Modified-Since: Thu, 26 Nov 2026 09:14:02 GMT\r\n"
    "Priority: u=0, i\r\n"
    "\r\n";

static_assert(kBrowserRequest.size() == 700);

// An API client that sends 40 header fields (Host and 39 others).
inline std::string forty_header_request() {
  std::string request = "GET /api/v2/items?page=3 HTTP/1.1\r\nHost: api.example.org\r\n";
  for (int i = 1; i < 40; ++i) {
    const char number[] = {static_cast<char>('0' + i / 10), static_cast<char>('0' + i % 10), '\0'};
    request.append("X-Trace-Field-").append(number).append(": value-").append(number).append("-4f9a1c\r\n");
  }
  request.append("\r\n");
  return request;
}

}  // namespace forkserve::bench
