// <forkserve/multipart.hpp>: parts streamed from the body in any chunking,
// and every bound holding against hostile bodies.
#include <gtest/gtest.h>

#include <algorithm>
#include <forkserve/multipart.hpp>
#include <forkserve/testing.hpp>
#include <string>
#include <vector>

namespace forkserve {
namespace {

// A source handing out `body` at most `step` bytes per read, counting reads.
struct ChunkedSource {
  std::string body;
  std::size_t step;
  std::size_t offset = 0;
  std::size_t* consumed = nullptr;

  std::size_t operator()(std::span<char> out) {
    const std::size_t n = std::min({step, out.size(), body.size() - offset});
    std::copy_n(body.data() + offset, n, out.data());
    offset += n;
    if (consumed) *consumed = offset;
    return n;
  }
};

struct ParsedPart {
  Part part;
  std::string content;
};

std::vector<ParsedPart> parse_all(const std::string& body, std::size_t step, FormLimits limits = {},
                                  std::string_view boundary = "XyZ") {
  MultipartReader reader(boundary, ChunkedSource{body, step}, limits);
  std::vector<ParsedPart> parts;
  while (auto part = reader.next()) parts.push_back({*part, reader.read_all()});
  return parts;
}

using namespace std::string_literals;

const std::string kTwoParts =
    "preamble to ignore\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"message\"\r\n"
    "\r\n"
    "hello\r\n--Xy not a boundary\r\n"
    "--XyZ  \r\n"
    "content-disposition: form-data; name=\"upload\"; filename=\"a.bin\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "\x00\x01\r\n\r\n--\r\n"
    "--XyZ--\r\n"
    "epilogue"s;

TEST(Multipart, ReadsFieldsAndFilesAtEverySplitSize) {
  const std::string& body = kTwoParts;
  for (std::size_t step : {1u, 2u, 3u, 5u, 7u, 64u, 100000u}) {
    const auto parts = parse_all(body, step);
    ASSERT_EQ(parts.size(), 2u) << "step " << step;
    EXPECT_EQ(parts[0].part.name, "message");
    EXPECT_FALSE(parts[0].part.filename);
    EXPECT_EQ(parts[0].part.content_type, "text/plain");
    EXPECT_EQ(parts[0].content, "hello\r\n--Xy not a boundary");
    EXPECT_EQ(parts[1].part.name, "upload");
    EXPECT_EQ(parts[1].part.filename, "a.bin");
    EXPECT_EQ(parts[1].part.content_type, "application/octet-stream");
    EXPECT_EQ(parts[1].content, std::string("\x00\x01\r\n\r\n--", 8)) << "step " << step;
  }
}

TEST(Multipart, UnreadContentIsSkippedByNext) {
  MultipartReader reader("XyZ", ChunkedSource{kTwoParts, 4});
  ASSERT_TRUE(reader.next());
  auto second = reader.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->name, "upload");
  EXPECT_FALSE(reader.next());
  EXPECT_FALSE(reader.next()) << "next() after the end stays at the end";
}

TEST(Multipart, EmptyBodyWithOnlyTheCloseDelimiterHasNoParts) {
  EXPECT_TRUE(parse_all("--XyZ--\r\n", 3).empty());
}

TEST(Multipart, LargePartIsStreamedNotBuffered) {
  // 4 MiB of content read in 64 KiB pieces: the reader never pulls far ahead.
  const std::string content(4 << 20, 'a');
  const std::string body = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big\"\r\n\r\n" +
                           content + "\r\n--XyZ--\r\n";
  std::size_t consumed = 0;
  FormLimits limits;
  limits.max_body_bytes = 8 << 20;
  MultipartReader reader("XyZ", ChunkedSource{body, body.size(), 0, &consumed}, limits);
  ASSERT_TRUE(reader.next());
  std::vector<char> buffer(65536);
  std::size_t total = 0;
  while (std::size_t n = reader.read(buffer)) {
    total += n;
    EXPECT_LE(consumed, total + 2 * 16384 + 200) << "read ahead of the caller by more than two chunks";
  }
  EXPECT_EQ(total, content.size());
}

TEST(Multipart, EndlessPartStopsAtTheBodyLimit) {
  // A source that never ends and never holds the boundary.
  FormLimits limits;
  limits.max_body_bytes = 1 << 20;
  std::size_t served = 0;
  MultipartReader reader(
      "XyZ",
      [&served](std::span<char> out) {
        if (served == 0) {
          const std::string head = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n";
          std::copy(head.begin(), head.end(), out.data());
          served += head.size();
          return head.size();
        }
        std::fill(out.begin(), out.end(), 'x');
        served += out.size();
        return out.size();
      },
      limits);
  ASSERT_TRUE(reader.next());
  try {
    reader.read_all();
    FAIL() << "an endless part was read whole";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status().code(), 413);
  }
  EXPECT_LE(served, (1u << 20) + 65536) << "read far past the limit";
}

TEST(Multipart, HugePartHeadersAreContentTooLarge) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\nX-Junk: " + std::string(20000, 'j') +
      "\r\n\r\nv\r\n--XyZ--\r\n";
  try {
    parse_all(body, 1000);
    FAIL() << "20 kB of part headers passed";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status().code(), 413);
  }
}

TEST(Multipart, HeaderBlockWithoutEndIsRefusedWithinTheLimit) {
  FormLimits limits;
  limits.max_part_header_bytes = 100;
  const std::string body = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n" + std::string(500, 'h');
  EXPECT_THROW(parse_all(body, 7, limits), HttpError);
}

TEST(Multipart, TooManyPartsIsContentTooLarge) {
  std::string body;
  for (int i = 0; i < 6; ++i) body += "--XyZ\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nv\r\n";
  body += "--XyZ--\r\n";
  FormLimits limits;
  limits.max_fields = 6;
  EXPECT_EQ(parse_all(body, 9, limits).size(), 6u);
  limits.max_fields = 5;
  try {
    parse_all(body, 9, limits);
    FAIL() << "6 parts passed a limit of 5";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status().code(), 413);
  }
}

TEST(Multipart, TruncatedBodiesAreBadRequest) {
  const std::string& whole = kTwoParts;
  const std::size_t close = whole.find("--XyZ--");
  // Every cut before the closing delimiter is complete must fail.
  for (std::size_t cut = 0; cut < close + 7; ++cut) {
    EXPECT_THROW(parse_all(whole.substr(0, cut), 5), BadRequest) << "cut at " << cut;
  }
}

TEST(Multipart, PartWithoutNameOrDispositionIsBadRequest) {
  EXPECT_THROW(parse_all("--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n--XyZ--", 4), BadRequest);
  EXPECT_THROW(parse_all("--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--XyZ--", 4),
               BadRequest);
  EXPECT_THROW(parse_all("--XyZ\r\nno colon here\r\n\r\nv\r\n--XyZ--", 4), BadRequest);
}

TEST(Multipart, JunkAfterTheBoundaryIsBadRequest) {
  EXPECT_THROW(parse_all("--XyZjunk\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ--", 4),
               BadRequest);
}

TEST(Multipart, BoundaryMustBeOneToSeventyCharacters) {
  EXPECT_THROW(MultipartReader("", ChunkedSource{"", 1}), BadRequest);
  EXPECT_THROW(MultipartReader(std::string(71, 'b'), ChunkedSource{"", 1}), BadRequest);
  EXPECT_NO_THROW(MultipartReader(std::string(70, 'b'), ChunkedSource{"", 1}));
}

TEST(Multipart, BoundaryComesFromTheContentType) {
  EXPECT_EQ(MultipartReader::boundary_of("multipart/form-data; boundary=\"a b\""), "a b");
  EXPECT_THROW(MultipartReader::boundary_of("multipart/form-data"), BadRequest);
  EXPECT_THROW(MultipartReader::boundary_of("text/plain; boundary=x"), BadRequest);
}

TEST(Multipart, ReadsTheRequestBodyThroughEnviron) {
  struct Echo {
    Body operator()(Environ& environ, StartResponse& start_response) {
      MultipartReader reader(environ);
      std::string out;
      while (auto part = reader.next()) out += part->name + "=" + reader.read_all() + ";";
      start_response("200 OK", {});
      return Body::text(out);
    }
  } echo;
  testing::Client client(echo);
  Fields fields;
  fields.add("a", "1");
  fields.add("b", "two\r\nlines");
  auto reply = client.post_multipart("/", testing::multipart(fields, {{"f", "x.txt", "text/plain", "data"}}));
  EXPECT_EQ(reply.status, 200) << reply.error_log;
  EXPECT_EQ(reply.body, "a=1;b=two\r\nlines;f=data;");
}

// A test of hostile names must reach the handler with those names: the
// test client escapes '"' and '\' in names and filenames, and the parser reads
// them back.
TEST(Multipart, TestClientQuotesNamesAndFilenamesThatHoldQuotes) {
  struct Echo {
    Body operator()(Environ& environ, StartResponse& start_response) {
      MultipartReader reader(environ);
      std::string out;
      while (auto part = reader.next()) out += part->name + "|" + part->filename.value_or("-") + ";";
      start_response("200 OK", {});
      return Body::text(out);
    }
  } echo;
  testing::Client client(echo);
  Fields fields;
  fields.add("a\"b", "1");
  auto reply = client.post_multipart(
      "/", testing::multipart(fields, {{"f\\", "x\"; name=\"evil.txt", "text/plain", "data"}}));
  EXPECT_EQ(reply.status, 200) << reply.error_log;
  EXPECT_EQ(reply.body, "a\"b|-;f\\|x\"; name=\"evil.txt;");
}

}  // namespace
}  // namespace forkserve
