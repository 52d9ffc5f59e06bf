// Decoder for the chunked transfer coding of request bodies (RFC 9112 §7.1):
// pure, incremental, zero-copy, bounded.
//
// Feed it the body bytes as they arrive; each call consumes framing and
// returns at most one run of decoded data, a view into the input (so the
// caller copies nothing twice). It never reads past the input it was given,
// and every rule is decided by the bytes seen so far, so any split of the
// stream decodes the same as the whole.
//
// It rejects rather than repairs, since a lenient chunk parser behind or in
// front of a stricter one is a request-smuggling vector:
//   400  a size that is not 1*HEXDIG, or that overflows; a byte other than
//        ';' or CR after the size; a control byte in a chunk extension; a
//        size line or extension over max_line; data not followed by CRLF; a
//        bare LF or a CR not followed by LF anywhere in the framing; a
//        trailer field that is not `token ":" value` or a trailer section
//        over max_trailer_bytes
//   413  more decoded bytes than max_body_bytes (decided as soon as a chunk's
//        size says so, before its data arrives)
// Trailer fields are checked and discarded.
#pragma once

#include <cstddef>
#include <string_view>

namespace forkserve::http {

struct ChunkedLimits {
  unsigned long long max_body_bytes = 1ULL << 30;  // [413] the decoded body
  std::size_t max_line = 1024;                     // [400] a size line with its extensions
  std::size_t max_trailer_bytes = 8 * 1024;        // [400] the whole trailer section
};

enum class ChunkedStatus { Continue, Done, Error };

struct ChunkedStep {
  std::size_t consumed = 0;  // input bytes used up, framing and data
  std::string_view data;     // decoded bytes, inside the input; may be empty
  ChunkedStatus status = ChunkedStatus::Continue;
  int error_status = 0;     // Error: 400 or 413
  std::string_view reason;  // Error: static text
};

class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(const ChunkedLimits& limits = {}) : limits_(limits) {}

  // Consumes from the start of `input`. Continue with consumed < size means
  // "call again with the rest" (a data run ended); Continue with everything
  // consumed means "feed more". After Done or Error, further calls return the
  // same status and consume nothing.
  ChunkedStep decode(std::string_view input);

  bool done() const { return state_ == State::Done; }
  unsigned long long decoded_bytes() const { return decoded_; }

 private:
  enum class State {
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
    Done,
    Failed
  };

  ChunkedStep fail(ChunkedStep step, int status, std::string_view reason);

  ChunkedLimits limits_;
  State state_ = State::Size;
  unsigned long long chunk_left_ = 0;  // Size: the size so far; Data: bytes still to come
  unsigned long long decoded_ = 0;
  std::size_t size_digits_ = 0;
  std::size_t line_bytes_ = 0;      // of the current size line
  std::size_t trailer_bytes_ = 0;   // of the whole trailer section
  bool trailer_name_done_ = false;  // a ':' ended the current trailer field's name
  int error_status_ = 0;
  std::string_view reason_;
};

}  // namespace forkserve::http
