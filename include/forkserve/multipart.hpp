// multipart/form-data (RFC 7578), streamed: parts are read one after the
// other straight from the request body, so a large upload can go to a file
// without being held in memory. Every bound in FormLimits holds: the number
// of parts, each part's header block, the whole body (HttpError 413 past
// one); a body that breaks the format throws BadRequest.
//
//     forkserve::MultipartReader reader(environ);
//     while (auto part = reader.next()) {
//       if (part->filename) {
//         char buffer[65536];
//         while (std::size_t n = reader.read(buffer)) out.write(buffer, n);
//       } else {
//         fields.add(part->name, reader.read_all());
//       }
//     }
#ifndef FORKSERVE_MULTIPART_HPP
#define FORKSERVE_MULTIPART_HPP

#include <algorithm>
#include <cstring>
#include <forkserve/form.hpp>
#include <forkserve/handler.hpp>
#include <forkserve/status.hpp>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace forkserve {

// One part's headers.
struct Part {
  std::string name;                     // Content-Disposition's name
  std::optional<std::string> filename;  // set for a file field (may be "")
  std::string content_type;             // as sent; "text/plain" when absent (RFC 7578 §4.4)
  Fields headers;                       // every header, names in lower case
};

class MultipartReader {
 public:
  // Fills a buffer with body bytes; 0 at the end of the body.
  using Source = std::function<std::size_t(std::span<char>)>;

  MultipartReader(std::string_view boundary, Source source, FormLimits limits = {})
      : source_(std::move(source)), limits_(limits) {
    if (boundary.empty() || boundary.size() > 70) {
      throw BadRequest("multipart boundary must be 1 to 70 characters");
    }
    delimiter_.append("\r\n--").append(boundary);
    // The body starts with "--boundary": a virtual CRLF in front lets the
    // first delimiter be found like every other one, the preamble skipped
    // like a part's unread content.
    buffer_ = "\r\n";
  }

  // Reads the request body of `environ`, whose Content-Type must be
  // multipart/form-data with a boundary (else BadRequest).
  explicit MultipartReader(Environ& environ, FormLimits limits = {})
      : MultipartReader(
            boundary_of(environ.get("CONTENT_TYPE")),
            [&input = environ.input()](std::span<char> b) { return input.read(b); }, limits) {}

  // The next part's headers, or nullopt after the closing delimiter. What was
  // left unread of the previous part is skipped.
  std::optional<Part> next() {
    char scratch[4096];
    while (state_ == State::Content) {
      while (read(scratch) > 0) {
      }
    }
    if (state_ == State::Done) return std::nullopt;
    // Just past a delimiter: "--" closes the body, else transport padding
    // and CRLF, then the part's headers up to a blank line.
    fill_at_least(2);
    if (std::string_view(buffer_).substr(pos_, 2) == "--") {
      state_ = State::Done;
      return std::nullopt;
    }
    if (++parts_ > limits_.max_fields) {
      throw HttpError(status::content_too_large,
                      "more than " + std::to_string(limits_.max_fields) + " parts");
    }
    const std::size_t end = find_header_end();
    std::string_view block = std::string_view(buffer_).substr(pos_, end - pos_);
    pos_ = end;
    state_ = State::Content;
    return parse_part(block);
  }

  // Up to buffer.size() bytes of the current part's content; 0 at its end.
  std::size_t read(std::span<char> out) {
    if (state_ != State::Content || out.empty()) return 0;
    while (true) {
      const std::size_t found = buffer_.find(delimiter_, pos_);
      std::size_t ready;
      if (found != std::string::npos) {
        ready = found - pos_;
        if (ready == 0) {
          pos_ = found + delimiter_.size();
          state_ = State::Boundary;
          return 0;
        }
      } else {
        // Bytes that cannot be the start of a delimiter are safe to hand out.
        const std::size_t held = buffer_.size() - pos_;
        ready = held >= delimiter_.size() ? held - (delimiter_.size() - 1) : 0;
        if (ready == 0) {
          if (!refill()) throw BadRequest("multipart body ends inside a part");
          continue;
        }
      }
      const std::size_t n = std::min(ready, out.size());
      std::memcpy(out.data(), buffer_.data() + pos_, n);
      pos_ += n;
      return n;
    }
  }

  // The rest of the current part, which must fit in the body limit.
  std::string read_all() {
    std::string content;
    char chunk[16384];
    while (std::size_t n = read(chunk)) content.append(chunk, n);
    return content;
  }

  // The boundary parameter of a multipart/form-data Content-Type.
  static std::string boundary_of(std::string_view content_type) {
    const MediaType media = MediaType::parse(content_type);
    if (media.type != "multipart/form-data") throw BadRequest("Content-Type is not multipart/form-data");
    auto boundary = media.parameter("boundary");
    if (!boundary) throw BadRequest("multipart/form-data without a boundary");
    return std::string(*boundary);
  }

 private:
  enum class State { Content, Boundary, Done };

  // Reads more of the body into the buffer, dropping what was consumed;
  // false at the end of the body.
  bool refill() {
    if (pos_ > 0) {
      buffer_.erase(0, pos_);
      pos_ = 0;
    }
    if (eof_) return false;
    const std::size_t old = buffer_.size();
    buffer_.resize(old + kChunk);
    const std::size_t n = source_(std::span<char>(buffer_.data() + old, kChunk));
    buffer_.resize(old + n);
    if (n == 0) {
      eof_ = true;
      return false;
    }
    total_ += n;
    if (total_ > limits_.max_body_bytes) {
      throw HttpError(status::content_too_large,
                      "multipart body larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
    }
    return true;
  }

  void fill_at_least(std::size_t n) {
    while (buffer_.size() - pos_ < n) {
      if (!refill()) throw BadRequest("multipart body ends after a boundary");
    }
  }

  // Skips the padding and CRLF after a delimiter and returns the offset just
  // past the blank line that ends the header block (pos_ is then its start).
  std::size_t find_header_end() {
    while (true) {
      fill_at_least(1);
      if (!detail::is_space(buffer_[pos_])) break;
      ++pos_;
    }
    fill_at_least(2);
    if (std::string_view(buffer_).substr(pos_, 2) != "\r\n")
      throw BadRequest("multipart boundary line has junk");
    pos_ += 2;
    std::size_t searched = pos_;
    while (true) {
      // A part without headers is a blank line at once.
      if (buffer_.size() - pos_ >= 2 && std::string_view(buffer_).substr(pos_, 2) == "\r\n") return pos_ + 2;
      const std::size_t end = buffer_.find("\r\n\r\n", searched);
      if (end != std::string::npos && end - pos_ + 4 <= limits_.max_part_header_bytes) return end + 4;
      if (end != std::string::npos || buffer_.size() - pos_ > limits_.max_part_header_bytes) {
        throw HttpError(
            status::content_too_large,
            "multipart part headers longer than " + std::to_string(limits_.max_part_header_bytes) + " bytes");
      }
      searched = std::max(pos_, buffer_.size() >= 3 ? buffer_.size() - 3 : 0);
      const std::size_t offset = searched - pos_;
      if (!refill()) throw BadRequest("multipart body ends inside a part's headers");
      searched = pos_ + offset;  // refill moved the unread bytes to the front
    }
  }

  static Part parse_part(std::string_view block) {
    Part part;
    while (!block.empty()) {
      const std::size_t eol = block.find("\r\n");
      const std::string_view line = block.substr(0, eol);
      block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
      if (line.empty()) continue;  // the blank line that ends the block
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos || !detail::is_token(line.substr(0, colon))) {
        throw BadRequest("malformed multipart part header");
      }
      std::string name;
      for (char c : line.substr(0, colon)) name.push_back(detail::ascii_lower(c));
      part.headers.add(std::move(name), std::string(detail::trim(line.substr(colon + 1))));
    }
    const MediaType disposition = MediaType::parse(part.headers.get_or("content-disposition", ""));
    if (disposition.type != "form-data" || !disposition.parameter("name")) {
      throw BadRequest("multipart part without Content-Disposition: form-data; name=...");
    }
    part.name = std::string(*disposition.parameter("name"));
    if (auto filename = disposition.parameter("filename")) part.filename = std::string(*filename);
    part.content_type = std::string(part.headers.get_or("content-type", "text/plain"));
    return part;
  }

  static constexpr std::size_t kChunk = 16384;

  Source source_;
  FormLimits limits_;
  std::string delimiter_;  // "\r\n--" boundary
  std::string buffer_;
  std::size_t pos_ = 0;    // first unconsumed byte of buffer_
  std::size_t total_ = 0;  // body bytes read from the source
  std::size_t parts_ = 0;
  bool eof_ = false;
  State state_ = State::Content;  // the preamble counts as content to skip
};

}  // namespace forkserve

#endif  // FORKSERVE_MULTIPART_HPP
