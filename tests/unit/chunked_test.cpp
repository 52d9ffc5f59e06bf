// The chunked decoder against tests/data/chunked/cases.txt (whole, cut at
// every byte, a byte at a time: the outcome must not depend on how the body
// arrives), plus the rules a line-per-case corpus cannot state.
#include "http/chunked.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace forkserve::http {
namespace {

const ChunkedLimits kCorpusLimits{64, 32, 64};

struct Case {
  std::string name;
  int status = 0;
  std::string decoded;
  std::string wire;
};

std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    if (c == 'r') {
      out += '\r';
    } else if (c == 'n') {
      out += '\n';
    } else if (c == 't') {
      out += '\t';
    } else if (c == 'x' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<Case> read_cases() {
  std::ifstream in(FORKSERVE_CHUNKED_CORPUS);
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Case c;
    std::string decoded, wire;
    fields >> c.name >> c.status >> decoded >> wire;
    c.decoded = decoded == "-" ? "" : unescape(decoded);
    c.wire = unescape(wire);
    cases.push_back(c);
  }
  return cases;
}

struct Outcome {
  int status = 0;  // 200 when Done
  std::string decoded;
  std::size_t consumed = 0;
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << o.status << " after " << o.consumed << " bytes, decoded \"" << o.decoded << "\"";
}

// Feeds `wire` in pieces of `piece` bytes (each in a heap block of exactly
// its size, so ASan sees any over-read). status 0: it wanted more.
Outcome decode_in_pieces(std::string_view wire, std::size_t piece,
                         const ChunkedLimits& limits = kCorpusLimits) {
  ChunkedDecoder decoder(limits);
  Outcome outcome;
  for (std::size_t at = 0; at < wire.size() || wire.empty(); at += piece) {
    std::string_view part = wire.substr(at, piece);
    auto block = std::make_unique<char[]>(part.size() + 1);
    std::copy(part.begin(), part.end(), block.get());
    std::string_view input(block.get(), part.size());
    while (true) {
      ChunkedStep step = decoder.decode(input);
      outcome.decoded.append(step.data);
      outcome.consumed += step.consumed;
      input.remove_prefix(step.consumed);
      if (step.status == ChunkedStatus::Error) {
        outcome.status = step.error_status;
        return outcome;
      }
      if (step.status == ChunkedStatus::Done) {
        outcome.status = 200;
        return outcome;
      }
      if (input.empty()) break;
    }
    if (wire.empty()) break;
  }
  return outcome;
}

TEST(ChunkedDecoder, EveryCorpusCaseDecodesAsExpectedWhateverTheSplit) {
  std::vector<Case> cases = read_cases();
  ASSERT_GT(cases.size(), 30U) << "corpus not found: " << FORKSERVE_CHUNKED_CORPUS;
  for (const Case& c : cases) {
    Outcome whole = decode_in_pieces(c.wire, c.wire.size());
    EXPECT_EQ(whole.status, c.status) << c.name << ": " << whole;
    if (c.status == 200) {
      EXPECT_EQ(whole.decoded, c.decoded) << c.name;
      EXPECT_EQ(whole.consumed, c.wire.size()) << c.name;
    }
    EXPECT_EQ(decode_in_pieces(c.wire, 1), whole) << c.name << " fed a byte at a time";
    for (std::size_t cut = 1; cut < c.wire.size(); ++cut) {
      ChunkedDecoder decoder(kCorpusLimits);
      Outcome split;
      std::string_view parts[] = {std::string_view(c.wire).substr(0, cut),
                                  std::string_view(c.wire).substr(cut)};
      for (std::string_view input : parts) {
        while (split.status == 0) {
          ChunkedStep step = decoder.decode(input);
          split.decoded.append(step.data);
          split.consumed += step.consumed;
          input.remove_prefix(step.consumed);
          if (step.status == ChunkedStatus::Error) split.status = step.error_status;
          if (step.status == ChunkedStatus::Done) split.status = 200;
          if (input.empty()) break;
        }
      }
      EXPECT_EQ(split, whole) << c.name << " cut at " << cut;
    }
  }
}

TEST(ChunkedDecoder, BytesAfterTheLastChunkAreLeftUnconsumed) {
  std::string wire = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
  Outcome outcome = decode_in_pieces(wire, wire.size());
  EXPECT_EQ(outcome.status, 200);
  EXPECT_EQ(outcome.decoded, "abc");
  EXPECT_EQ(outcome.consumed, wire.size() - std::string_view("GET / HTTP/1.1\r\n").size());
}

TEST(ChunkedDecoder, AnIncompleteBodyWantsMore) {
  EXPECT_EQ(decode_in_pieces("5\r\nhel", 100).status, 0);
  EXPECT_EQ(decode_in_pieces("5\r\nhello\r\n0\r\n", 100).status, 0);
}

TEST(ChunkedDecoder, AnOversizedChunkIsRefusedBeforeItsDataArrives) {
  Outcome outcome = decode_in_pieces("100000\r\n", 100, ChunkedLimits{1000, 1024, 1024});
  EXPECT_EQ(outcome.status, 413);
}

TEST(ChunkedDecoder, DecodedBytesCountTowardsTheLimitAcrossChunks) {
  ChunkedDecoder decoder(ChunkedLimits{4, 1024, 1024});
  std::string_view wire = "2\r\nab\r\n2\r\ncd\r\n1\r\ne\r\n";
  int status = 0;
  while (!wire.empty() && status == 0) {
    ChunkedStep step = decoder.decode(wire);
    wire.remove_prefix(step.consumed);
    if (step.status == ChunkedStatus::Error) status = step.error_status;
  }
  EXPECT_EQ(status, 413);
  EXPECT_EQ(decoder.decoded_bytes(), 4U);
}

TEST(ChunkedDecoder, AfterAnErrorEveryCallFailsTheSameWay) {
  ChunkedDecoder decoder;
  ChunkedStep first = decoder.decode("z\r\n");
  ASSERT_EQ(first.status, ChunkedStatus::Error);
  ChunkedStep again = decoder.decode("3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(again.status, ChunkedStatus::Error);
  EXPECT_EQ(again.error_status, 400);
  EXPECT_EQ(again.consumed, 0U);
  EXPECT_EQ(again.reason, first.reason);
}

}  // namespace
}  // namespace forkserve::http
