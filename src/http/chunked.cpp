#include "http/chunked.hpp"

#include "http/request_parser.hpp"

namespace forkserve::http {

ChunkedStep ChunkedDecoder::fail(ChunkedStep step, int status, std::string_view reason) {
  state_ = State::Failed;
  error_status_ = status;
  reason_ = reason;
  step.status = ChunkedStatus::Error;
  step.error_status = status;
  step.reason = reason;
  step.data = {};
  return step;
}

ChunkedStep ChunkedDecoder::decode(std::string_view input) {
  ChunkedStep step;
  if (state_ == State::Done) {
    step.status = ChunkedStatus::Done;
    return step;
  }
  if (state_ == State::Failed) return fail(step, error_status_, reason_);

  std::size_t& pos = step.consumed;
  while (pos < input.size()) {
    const char c = input[pos];
    switch (state_) {
      case State::Size: {
        int digit = forkserve::detail::hex_value(c);
        if (++line_bytes_ > limits_.max_line) return fail(step, 400, "chunk size line too long");
        if (digit >= 0) {
          if (chunk_left_ > (~0ULL >> 4)) return fail(step, 400, "chunk size overflows");
          chunk_left_ = chunk_left_ * 16 + static_cast<unsigned>(digit);
          ++size_digits_;
          ++pos;
          break;
        }
        if (size_digits_ == 0) return fail(step, 400, "chunk size is not a hexadecimal number");
        if (c != ';' && c != '\r') return fail(step, 400, "invalid character after the chunk size");
        if (chunk_left_ > limits_.max_body_bytes - decoded_) {
          return fail(step, 413, "the request body is larger than the server accepts");
        }
        state_ = c == ';' ? State::Extension : State::SizeLf;
        ++pos;
        break;
      }
      case State::Extension:
        if (++line_bytes_ > limits_.max_line) return fail(step, 400, "chunk extension too long");
        if (c == '\r') {
          state_ = State::SizeLf;
        } else if (!forkserve::detail::is_field_char(c)) {
          return fail(step, 400, "invalid character in a chunk extension");
        }
        ++pos;
        break;
      case State::SizeLf:
        if (c != '\n') return fail(step, 400, "CR without LF in the chunk framing");
        ++pos;
        line_bytes_ = 0;
        size_digits_ = 0;
        state_ = chunk_left_ == 0 ? State::TrailerStart : State::Data;
        break;
      case State::Data: {
        std::size_t n = input.size() - pos;
        if (n > chunk_left_) n = static_cast<std::size_t>(chunk_left_);
        step.data = input.substr(pos, n);
        pos += n;
        chunk_left_ -= n;
        decoded_ += n;
        if (chunk_left_ == 0) state_ = State::DataCr;
        return step;  // one data run per call
      }
      case State::DataCr:
        if (c != '\r') return fail(step, 400, "chunk data not followed by CRLF");
        state_ = State::DataLf;
        ++pos;
        break;
      case State::DataLf:
        if (c != '\n') return fail(step, 400, "CR without LF in the chunk framing");
        state_ = State::Size;
        ++pos;
        break;
      case State::TrailerStart:
      case State::Trailer:
        if (++trailer_bytes_ > limits_.max_trailer_bytes) return fail(step, 400, "trailer section too long");
        if (c == '\r') {
          if (state_ == State::TrailerStart) {
            state_ = State::EndLf;
          } else if (!trailer_name_done_) {
            return fail(step, 400, "trailer field without a colon");
          } else {
            state_ = State::TrailerLf;
          }
        } else if (state_ == State::TrailerStart || !trailer_name_done_) {
          if (c == ':' && state_ == State::Trailer) {
            trailer_name_done_ = true;
          } else if (!forkserve::detail::is_token_char(c)) {
            return fail(step, 400, "invalid trailer field name");
          }
          state_ = State::Trailer;
        } else if (!forkserve::detail::is_field_char(c)) {
          return fail(step, 400, "invalid character in a trailer field");
        }
        ++pos;
        break;
      case State::TrailerLf:
        if (c != '\n') return fail(step, 400, "CR without LF in the chunk framing");
        if (++trailer_bytes_ > limits_.max_trailer_bytes) return fail(step, 400, "trailer section too long");
        trailer_name_done_ = false;
        state_ = State::TrailerStart;
        ++pos;
        break;
      case State::EndLf:
        if (c != '\n') return fail(step, 400, "CR without LF in the chunk framing");
        state_ = State::Done;
        ++pos;
        step.status = ChunkedStatus::Done;
        return step;
      case State::Done:
      case State::Failed:
        return step;  // not reached: handled before the loop
    }
  }
  return step;
}

}  // namespace forkserve::http
