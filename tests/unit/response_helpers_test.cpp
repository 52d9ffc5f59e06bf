// <forkserve/status.hpp>, <forkserve/response.hpp> and <forkserve/json.hpp>.
#include <gtest/gtest.h>

#include <forkserve/json.hpp>
#include <forkserve/response.hpp>
#include <forkserve/status.hpp>
#include <forkserve/testing.hpp>
#include <string>

#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>
#define FORKSERVE_HAVE_NLOHMANN_JSON 1
#endif

namespace forkserve {
namespace {

TEST(Status, ConstantsCarryCodeAndReason) {
  static_assert(status::not_found.code() == 404);
  static_assert(status::see_other.line() == "303 See Other");
  static_assert(Status(413).reason() == "Content Too Large");
  constexpr std::string_view line = status::ok;
  EXPECT_EQ(line, "200 OK");
}

TEST(Status, RuntimeLookupKnowsOnlyStandardCodes) {
  EXPECT_EQ(Status::find(418), std::nullopt);
  EXPECT_EQ(Status::find(100), std::nullopt) << "1xx is never a final status";
  ASSERT_TRUE(Status::find(503));
  EXPECT_EQ(Status::find(503)->line(), "503 Service Unavailable");
}

TEST(Status, EveryTableEntryIsAStatusTheServerAccepts) {
  for (std::string_view line : detail::kStatusLines) {
    ASSERT_GE(line.size(), 5u);
    const auto found = Status::find(std::stoi(std::string(line.substr(0, 3))));
    ASSERT_TRUE(found) << line;
    EXPECT_EQ(found->line(), line);
    EXPECT_GE(found->code(), 200);
    EXPECT_LE(found->code(), 599);
  }
}

TEST(HtmlEscape, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(html_escape(R"(<a href="x" onclick='y'>&</a>)"),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain \xC3\xA9"), "plain \xC3\xA9");
}

TEST(JsonEscape, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_escape("a\"b\\c\n\t\x01"), R"(a\"b\\c\n\t\u0001)");
  EXPECT_EQ(json_escape("</script>&"), R"(\u003c/script\u003e\u0026)");
}

TEST(JsonEscape, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(json_escape("\xC3\xA9\xF0\x9F\x98\x80"), "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(json_escape("\xFF"), "\\ufffd");
  EXPECT_EQ(json_escape("\xC0\xAF"), "\\ufffd\\ufffd") << "overlong '/'";
  EXPECT_EQ(json_escape("\xED\xA0\x80"), "\\ufffd\\ufffd\\ufffd") << "a UTF-16 surrogate";
  EXPECT_EQ(json_escape("\xE2\x82"), "\\ufffd\\ufffd") << "truncated sequence";
  EXPECT_EQ(json_escape("\xF4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd") << "past U+10FFFF";
}

TEST(JsonEscape, AnyBytesGiveValidJson) {
#ifdef FORKSERVE_HAVE_NLOHMANN_JSON
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  all += "\xE2\x82\xAC\xF0\x9F\x98";
  const auto parsed = nlohmann::json::parse("\"" + json_escape(all) + "\"");
  ASSERT_TRUE(parsed.is_string());
  EXPECT_EQ(parsed.get<std::string>().substr(0, 0x7f), all.substr(0, 0x7f)) << "ASCII survives unchanged";
#else
  GTEST_SKIP() << "nlohmann-json3-dev is not installed (scripts/test.sh installs it)";
#endif
}

TEST(JsonWriter, WritesNestedObjectsAndArrays) {
  JsonWriter json;
  json.begin_object();
  json.key("name").value("a\"b");
  json.key("n").value(42).key("neg").value(-7LL).key("ok").value(true).key("none").value(nullptr);
  json.key("x").value(1.5).key("inf").value(1.0 / 0.0);
  json.key("list").begin_array().value(1).begin_object().end_object().begin_array().end_array().end_array();
  json.end_object();
  EXPECT_EQ(std::move(json).str(),
            R"({"name":"a\"b","n":42,"neg":-7,"ok":true,"none":null,"x":1.5,"inf":null,"list":[1,{},[]]})");
}

TEST(JsonWriter, MisuseIsALogicError) {
  EXPECT_THROW(JsonWriter().begin_object().value(1), std::logic_error);
  EXPECT_THROW(JsonWriter().begin_array().key("k"), std::logic_error);
  EXPECT_THROW(JsonWriter().begin_array().end_object(), std::logic_error);
  EXPECT_THROW(JsonWriter().begin_object().key("k").end_object(), std::logic_error);
  EXPECT_THROW(JsonWriter().value(1).value(2), std::logic_error);
  EXPECT_THROW(std::move(JsonWriter().begin_array()).str(), std::logic_error);
}

TEST(SetCookie, BuildsEveryAttribute) {
  const auto cookie = SetCookie("sid", "abc123")
                          .path("/")
                          .domain("example.org")
                          .max_age(3600)
                          .expires(784111777)
                          .secure()
                          .http_only()
                          .same_site(SameSite::Strict);
  EXPECT_EQ(cookie.header().name, "Set-Cookie");
  EXPECT_EQ(
      cookie.header().value,
      "sid=abc123; Path=/; Domain=example.org; Max-Age=3600; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Secure; "
      "HttpOnly; SameSite=Strict");
  EXPECT_EQ(SetCookie::removal("sid").value(), "sid=; Max-Age=0");
}

TEST(SetCookie, RefusesValuesThatCouldInjectAttributes) {
  for (const char* bad : {"a;b", "a b", "a,b", "\"q\"", "a\\b", "caf\xC3\xA9", "a\r\nSet-Cookie: x=1"}) {
    EXPECT_THROW(SetCookie("n", bad), std::invalid_argument) << bad;
  }
  EXPECT_THROW(SetCookie("bad name", "v"), std::invalid_argument);
  EXPECT_THROW(SetCookie("n", "v").path("/; Secure"), std::invalid_argument);
  EXPECT_NO_THROW(SetCookie("n", url_encode("any text; at all")));
}

struct Fixed {
  std::function<Body(StartResponse&)> answer;
  Body operator()(Environ&, StartResponse& start_response) { return answer(start_response); }
};

testing::Response answer(std::function<Body(StartResponse&)> f) {
  Fixed handler{std::move(f)};
  testing::Client client(handler);
  return client.get("/");
}

TEST(ResponseHelpers, HtmlJsonAndTextSetTypeStatusAndLength) {
  auto page = answer([](StartResponse& s) { return html(s, "<p>hi</p>"); });
  EXPECT_EQ(page.status_line, "200 OK");
  EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.content_length, 9u);
  auto created = answer([](StartResponse& s) { return json(s, "{}", status::created, {{"X-Id", "1"}}); });
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.header("Content-Type"), "application/json");
  EXPECT_EQ(created.header("X-Id"), "1");
  auto custom = answer([](StartResponse& s) { return text(s, "t", "299 Custom"); });
  EXPECT_EQ(custom.status_line, "299 Custom");
}

TEST(ResponseHelpers, RedirectIsSeeOtherByDefault) {
  auto reply = answer([](StartResponse& s) { return redirect(s, "/next"); });
  EXPECT_EQ(reply.status, 303);
  EXPECT_EQ(reply.header("Location"), "/next");
  auto permanent =
      answer([](StartResponse& s) { return redirect(s, "/new", {}, status::permanent_redirect); });
  EXPECT_EQ(permanent.status, 308);
}

TEST(ResponseHelpers, RedirectToATargetWithCrLfIsRefused) {
  auto reply = answer([](StartResponse& s) { return redirect(s, "/x\r\nSet-Cookie: evil=1"); });
  EXPECT_EQ(reply.status, 500) << "the handler's ResponseError, not a split header";
  EXPECT_FALSE(reply.header("Set-Cookie"));
  EXPECT_NE(reply.error_log.find("invalid header Location"), std::string::npos) << reply.error_log;
}

TEST(ResponseHelpers, ErrorIsPlainTextWithStatusOrDetail) {
  auto reply = answer([](StartResponse& s) { return error(s, status::not_found); });
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.body, "404 Not Found\n");
  EXPECT_EQ(reply.header("Content-Type"), "text/plain; charset=utf-8");
  auto detailed = answer([](StartResponse& s) { return error(s, status::conflict, "<b>taken</b>"); });
  EXPECT_EQ(detailed.body, "<b>taken</b>\n");
}

}  // namespace
}  // namespace forkserve
