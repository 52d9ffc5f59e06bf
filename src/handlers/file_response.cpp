#include "handlers/file_response.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "handlers/conditional.hpp"
#include "handlers/ranges.hpp"
#include "http/date.hpp"
#include "http/response.hpp"

namespace forkserve::handlers {
namespace {

// Bytes a multipart body reads from the file per chunk.
constexpr std::size_t kMultipartChunk = 64 * 1024;

std::string status_line(int status) {
  return std::to_string(status).append(" ").append(http::reason_phrase(status));
}

std::optional<std::string_view> variable(const Environ& environ, std::string_view name) {
  if (!environ.contains(name)) return std::nullopt;
  return environ.get(name);
}

// "bytes 0-99/1000"
std::string content_range(const ByteRange& range, unsigned long long length) {
  return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
         std::to_string(length);
}

// A boundary that cannot be guessed from outside, so a file cannot be made to
// contain it by someone who wants to forge parts.
std::string make_boundary() {
  unsigned char random[12] = {};
  if (::getrandom(random, sizeof random, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof random)) {
    // No entropy yet (early boot): the clock and pid still vary per response.
    const unsigned long long mixed = static_cast<unsigned long long>(::time(nullptr)) * 2654435761ULL ^
                                     static_cast<unsigned long long>(::getpid());
    std::memcpy(random, &mixed, sizeof mixed);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string boundary = "forkserve-";
  for (const unsigned char byte : random) {
    boundary.push_back(kHex[byte >> 4]);
    boundary.push_back(kHex[byte & 15]);
  }
  return boundary;
}

// 206 multipart/byteranges (RFC 9110 §14.6), streamed: each part's head, then
// its bytes read with pread in chunks, then the closing delimiter. The length
// is known beforehand, so it is declared.
Body multipart_body(Environ& environ, StartResponse& start_response, UniqueFd fd, unsigned long long length,
                    const std::vector<ByteRange>& ranges, const FileRepresentation& representation,
                    Headers headers) {
  const std::string boundary = make_boundary();
  struct Part {
    std::string head;
    ByteRange range;
  };
  auto parts = std::make_shared<std::vector<Part>>();
  unsigned long long total = 0;
  for (const ByteRange& range : ranges) {
    std::string head = "\r\n--" + boundary + "\r\nContent-Type: " + representation.content_type +
                       "\r\nContent-Range: " + content_range(range, length) + "\r\n\r\n";
    total += head.size() + range.size();
    parts->push_back({std::move(head), range});
  }
  const std::string closing = "\r\n--" + boundary + "--\r\n";
  total += closing.size();

  headers.push_back({"Content-Type", "multipart/byteranges; boundary=" + boundary});
  headers.push_back({"Content-Length", std::to_string(total)});
  start_response(status_line(206), headers);
  if (environ.get("REQUEST_METHOD") == "HEAD") return Body();

  // The source walks the parts: a head, then the range in chunks.
  struct State {
    UniqueFd fd;
    std::size_t part = 0;
    bool head_sent = false;
    unsigned long long offset = 0;  // within the current range
    bool closed = false;
  };
  auto state = std::make_shared<State>();
  state->fd = std::move(fd);
  return Body::pull([state, parts, closing]() -> std::optional<std::string> {
    if (state->part == parts->size()) {
      if (state->closed) return std::nullopt;
      state->closed = true;
      return closing;
    }
    Part& part = (*parts)[state->part];
    if (!state->head_sent) {
      state->head_sent = true;
      return part.head;
    }
    const unsigned long long left = part.range.size() - state->offset;
    std::string chunk(static_cast<std::size_t>(std::min<unsigned long long>(left, kMultipartChunk)), '\0');
    std::size_t filled = 0;
    while (filled < chunk.size()) {
      const ssize_t n = ::pread(state->fd.get(), chunk.data() + filled, chunk.size() - filled,
                                static_cast<off_t>(part.range.first + state->offset + filled));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error(std::string("static files: read: ") + std::strerror(errno));
      if (n == 0) throw std::runtime_error("static files: the file shrank while it was being sent");
      filled += static_cast<std::size_t>(n);
    }
    state->offset += chunk.size();
    if (state->offset == part.range.size()) {
      ++state->part;
      state->head_sent = false;
      state->offset = 0;
    }
    return chunk;
  });
}

}  // namespace

Body send_file_response(Environ& environ, StartResponse& start_response, UniqueFd fd, const struct stat& st,
                        const FileRepresentation& representation) {
  const std::string etag = make_etag(st);
  const Validators current{etag, st.st_mtime};
  const unsigned long long length = static_cast<unsigned long long>(st.st_size);

  // The headers every 2xx and 304 answer carries.
  Headers headers = {{"ETag", etag}, {"Last-Modified", http::format_http_date(st.st_mtime)}};
  if (representation.vary_accept_encoding) headers.push_back({"Vary", "Accept-Encoding"});
  headers.insert(headers.end(), representation.extra_headers.begin(), representation.extra_headers.end());

  const Conditions conditions{variable(environ, "HTTP_IF_MATCH"), variable(environ, "HTTP_IF_NONE_MATCH"),
                              variable(environ, "HTTP_IF_MODIFIED_SINCE"),
                              variable(environ, "HTTP_IF_UNMODIFIED_SINCE")};
  switch (evaluate_preconditions(conditions, current)) {
    case Precondition::NotModified:
      start_response(status_line(304), headers);
      return Body();
    case Precondition::Failed: {
      const std::string line = status_line(412);
      start_response(line, {{"Content-Type", "text/plain; charset=utf-8"}});
      return Body::text(line + "\n");
    }
    case Precondition::Proceed:
      break;
  }

  // Content-Type and Content-Encoding describe the whole representation, so
  // they go on 206 single-part answers; a multipart one names the type per part.
  Headers whole = headers;
  if (!representation.content_encoding.empty()) {
    whole.push_back({"Content-Encoding", representation.content_encoding});
  }
  whole.push_back({"Accept-Ranges", "bytes"});
  headers.push_back({"Accept-Ranges", "bytes"});
  whole.push_back({"Content-Type", representation.content_type});

  RangeAnswer ranges;
  const std::optional<std::string_view> range_header = variable(environ, "HTTP_RANGE");
  if (range_header) {
    const std::optional<std::string_view> if_range = variable(environ, "HTTP_IF_RANGE");
    if (!if_range || if_range_holds(*if_range, current)) ranges = evaluate_range(*range_header, length);
    // Parts of a compressed stream under "Content-Encoding: gzip" would read as
    // a compressed multipart body: send such a representation whole instead.
    if (ranges.ranges.size() > 1 && !representation.content_encoding.empty()) ranges = {};
  }
  switch (ranges.kind) {
    case RangeAnswer::Kind::Whole:
      start_response(status_line(200), whole);
      return Body::file(fd.release(), 0, length);
    case RangeAnswer::Kind::Unsatisfiable: {
      const std::string line = status_line(416);
      start_response(line, {{"Content-Type", "text/plain; charset=utf-8"},
                            {"Content-Range", "bytes */" + std::to_string(length)}});
      return Body::text(line + "\n");
    }
    case RangeAnswer::Kind::Partial:
      break;
  }
  if (ranges.ranges.size() == 1) {
    const ByteRange range = ranges.ranges.front();
    whole.push_back({"Content-Range", content_range(range, length)});
    start_response(status_line(206), whole);
    return Body::file(fd.release(), static_cast<long long>(range.first), range.size());
  }
  return multipart_body(environ, start_response, std::move(fd), length, ranges.ranges, representation,
                        std::move(headers));
}

}  // namespace forkserve::handlers
