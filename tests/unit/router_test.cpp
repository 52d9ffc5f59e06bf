// <forkserve/router.hpp> and <forkserve/request.hpp>, driven through the
// in-process test client.
#include <gtest/gtest.h>

#include <forkserve/request.hpp>
#include <forkserve/response.hpp>
#include <forkserve/router.hpp>
#include <forkserve/testing.hpp>
#include <memory>
#include <string>

namespace forkserve {
namespace {

// Answers "ROUTE-NAME param=value ..." so tests see which route ran with what.
Router::Handler echo(std::string name, std::vector<std::string> params = {}) {
  return [name, params](Environ& environ, StartResponse& start_response) {
    Request request(environ);
    std::string out = name;
    for (const std::string& p : params)
      out += " " + p + "=" + std::string(request.param(p).value_or("<none>"));
    return text(start_response, out);
  };
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router.get("/", echo("root"));
    router.get("/entries/{id}", echo("show", {"id"}));
    router.put("/entries/{id}", echo("replace", {"id"}));
    router.post("/entries", echo("create"));
    router.get("/users/{user}/posts/{post}", echo("post", {"user", "post"}));
    router.get("/files/a b", echo("spaced"));
  }
  Router router;
  testing::Client client{router};
};

TEST_F(RouterTest, LiteralPathRunsItsRoute) { EXPECT_EQ(client.get("/").body, "root"); }

TEST_F(RouterTest, NamedParametersReachTheRoute) {
  EXPECT_EQ(client.get("/entries/42").body, "show id=42");
  EXPECT_EQ(client.get("/users/ann/posts/7").body, "post user=ann post=7");
}

TEST_F(RouterTest, EncodedSlashInAParameterIsDataNotASeparator) {
  auto reply = client.get("/entries/a%2Fb");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "show id=a/b");
  EXPECT_EQ(client.get("/entries/a/b").status, 404);
}

TEST_F(RouterTest, LiteralSegmentsCompareDecoded) { EXPECT_EQ(client.get("/files/a%20b").body, "spaced"); }

TEST_F(RouterTest, ParameterNeverMatchesAnEmptySegment) {
  EXPECT_EQ(client.get("/entries/").status, 404);
  EXPECT_EQ(client.get("/users//posts/1").status, 404);
}

TEST_F(RouterTest, UnknownPathIsNotFound) {
  auto reply = client.get("/nope");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.body, "404 Not Found\n");
  EXPECT_EQ(client.get("/entries/1/extra").status, 404);
}

TEST_F(RouterTest, WrongMethodIsMethodNotAllowedWithAllow) {
  auto reply = client.request("DELETE", "/entries/3");
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.header("Allow"), "GET, HEAD, PUT");
  auto create_only = client.get("/entries");
  EXPECT_EQ(create_only.status, 405);
  EXPECT_EQ(create_only.header("Allow"), "POST");
}

TEST_F(RouterTest, HeadRunsTheGetRouteWithoutBody) {
  auto reply = client.head("/entries/9");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "");
  EXPECT_EQ(reply.content_length, std::string("show id=9").size());
}

TEST_F(RouterTest, MalformedEscapeInAParameterIsBadRequest) {
  // The real server refuses such a path before any handler runs; the router
  // does the same for a PATH_INFO that reaches it.
  Router inner;
  inner.get("/x/{id}", echo("x", {"id"}));
  forkserve_pair vars[] = {{to_str("REQUEST_METHOD"), to_str("GET")},
                           {to_str("forkserve.raw_path"), to_str("/x/%zz")}};
  struct Recorder {
    std::string status;
    static int start(void* s, forkserve_str status, const forkserve_pair*, size_t, int) {
      static_cast<Recorder*>(s)->status = std::string(to_view(status));
      return 0;
    }
    static int sent(void*) { return 0; }
  } recorder;
  forkserve_request request{};
  request.size = sizeof request;
  request.environ = vars;
  request.environ_count = 2;
  request.server = &recorder;
  request.start_response = &Recorder::start;
  request.headers_sent = &Recorder::sent;
  Environ environ(request);
  StartResponse start_response(request);
  inner(environ, start_response);
  EXPECT_EQ(recorder.status, "400 Bad Request");
}

TEST(Router, HttpErrorFromARouteBecomesItsStatus) {
  Router router;
  router.get("/limited", [](Environ&, StartResponse&) -> Body {
    throw HttpError(status::too_many_requests, "slow down");
  });
  router.get("/after-start", [](Environ&, StartResponse& start_response) -> Body {
    start_response(status::ok, {});
    throw BadRequest("changed my mind");
  });
  testing::Client client(router);
  auto limited = client.get("/limited");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.body, "slow down\n");
  auto after = client.get("/after-start");
  EXPECT_EQ(after.status, 400) << "the started 200 is replaced";
  EXPECT_EQ(after.body, "changed my mind\n");
}

TEST(Router, OtherExceptionsBecomeTheServers500) {
  Router router;
  router.get("/", [](Environ&, StartResponse&) -> Body { throw std::runtime_error("database gone"); });
  testing::Client client(router);
  auto reply = client.get("/");
  EXPECT_EQ(reply.status, 500);
  EXPECT_NE(reply.error_log.find("database gone"), std::string::npos);
  EXPECT_EQ(reply.body.find("database"), std::string::npos) << "internals must not reach the client";
}

TEST(Router, RouteMayBeAnyHandlerObjectEvenMoveOnlyOrAnotherRouter) {
  struct Owning {
    std::unique_ptr<std::string> greeting = std::make_unique<std::string>("owned");
    Body operator()(Environ&, StartResponse& start_response) { return text(start_response, *greeting); }
  };
  Router api;
  api.get("/api/{thing}", echo("api", {"thing"}));
  Router router;
  router.get("/own", Owning{});
  router.get("/api/{thing}", std::move(api));
  testing::Client client(router);
  EXPECT_EQ(client.get("/own").body, "owned");
  EXPECT_EQ(client.get("/api/x%2Fy").body, "api thing=x/y");
}

TEST(Router, PulledBodyMayReadTheRoutesEnvironWhileItIsSent) {
  Router router;
  router.post("/echo/{id}", [](Environ& environ, StartResponse& start_response) {
    start_response(status::ok, {});
    return Body::pull([&environ, done = false]() mutable -> std::optional<std::string> {
      if (done) return std::nullopt;
      done = true;
      return std::string(Request(environ).param("id").value_or("?")) + ":" + environ.input().read_all();
    });
  });
  testing::Client client(router);
  EXPECT_EQ(client.post("/echo/7", "payload", "text/plain").body, "7:payload");
}

TEST(Router, MalformedPatternsAreRefusedWhenAdded) {
  Router router;
  EXPECT_THROW(router.get("no-slash", echo("x")), std::invalid_argument);
  EXPECT_THROW(router.get("/{}", echo("x")), std::invalid_argument);
  EXPECT_THROW(router.get("/{a-b}", echo("x")), std::invalid_argument);
  EXPECT_THROW(router.get("/x{id}", echo("x")), std::invalid_argument);
  EXPECT_THROW(router.route("BAD METHOD", "/", echo("x")), std::invalid_argument);
}

// Request helpers.

struct Inspect {
  std::function<std::string(Request&)> look;
  Body operator()(Environ& environ, StartResponse& start_response) {
    Request request(environ);
    return text(start_response, look(request));
  }
};

std::string inspect(std::function<std::string(Request&)> look, std::string_view method,
                    std::string_view target, const Headers& headers = {}, std::string body = {}) {
  Router router;
  router.route(method, "/r", Inspect{std::move(look)});
  testing::Client client(router);
  auto reply = client.request(method, target, headers, std::move(body));
  return std::to_string(reply.status) + " " + reply.body;
}

TEST(Request, QueryDecodesPlusPercentAndKeepsRepeats) {
  EXPECT_EQ(inspect(
                [](Request& r) {
                  std::string out;
                  for (auto v : r.query().get_all("t")) out += std::string(v) + "|";
                  return out + std::string(r.query().get_or("q", "-"));
                },
                "GET", "/r?t=a+b&q=%C3%A9&t=c%26d"),
            "200 a b|c&d|\xC3\xA9");
}

TEST(Request, BadQueryEscapeIsBadRequest) {
  EXPECT_EQ(inspect([](Request& r) { return std::string(r.query().get_or("q", "")); }, "GET", "/r?q=%E"),
            "400 malformed percent escape in \"%E\"\n");
}

TEST(Request, IntegerQueryIsCheckedAndBounded) {
  auto look = [](Request& r) {
    auto n = r.integer_query("n", 1, 100);
    return n ? std::to_string(*n) : std::string("absent");
  };
  EXPECT_EQ(inspect(look, "GET", "/r?n=42"), "200 42");
  EXPECT_EQ(inspect(look, "GET", "/r"), "200 absent");
  for (const char* bad :
       {"/r?n=", "/r?n=0", "/r?n=101", "/r?n=4x", "/r?n=-1", "/r?n=+5", "/r?n=99999999999999999999"}) {
    EXPECT_TRUE(inspect(look, "GET", bad).starts_with("400 n must be an integer from 1 to 100")) << bad;
  }
}

TEST(Request, HeadersByHttpNameInAnyCase) {
  auto look = [](Request& r) {
    return std::string(r.header("x-request-id").value_or("-")) + "," +
           std::string(r.header("CONTENT-TYPE").value_or("-")) + "," +
           std::string(r.header("X_Request_Id").value_or("none")) + "," +
           std::string(r.header("Absent").value_or("none"));
  };
  EXPECT_EQ(inspect(look, "POST", "/r", {{"X-Request-ID", "abc"}, {"Content-Type", "text/plain"}}, "b"),
            "200 abc,text/plain,none,none");
}

TEST(Request, CookiesFromEveryCookieHeader) {
  auto look = [](Request& r) {
    return std::string(r.cookie("a").value_or("-")) + std::string(r.cookie("b").value_or("-")) +
           std::string(r.cookie("junk").value_or("-"));
  };
  EXPECT_EQ(inspect(look, "GET", "/r", {{"Cookie", "a=1; junk"}, {"Cookie", "b=2"}}), "200 12-");
}

TEST(Request, FormFromUrlencodedMultipartOrQuery) {
  auto look = [](Request& r) {
    std::string out = std::string(r.form().get_or("m", "-"));
    for (const UploadedFile& f : r.files()) out += "|" + f.field + ":" + f.filename + ":" + f.content;
    return out;
  };
  EXPECT_EQ(inspect(look, "POST", "/r", {{"Content-Type", "application/x-www-form-urlencoded"}}, "m=a+%26+b"),
            "200 a & b");
  Fields fields;
  fields.add("m", "multi");
  auto form = testing::multipart(fields, {{"up", "f.txt", "text/plain", "file body"}});
  EXPECT_EQ(inspect(look, "POST", "/r", {{"Content-Type", form.content_type}}, form.body),
            "200 multi|up:f.txt:file body");
  EXPECT_EQ(inspect(look, "GET", "/r?m=q"), "200 q");
  EXPECT_EQ(inspect(look, "POST", "/r", {{"Content-Type", "application/json"}}, "{}"), "200 -");
}

TEST(Request, OversizedFormBodyIsContentTooLarge) {
  Router router;
  router.post("/r", [](Environ& environ, StartResponse& start_response) {
    FormLimits limits;
    limits.max_body_bytes = 10;
    Request request(environ, limits);
    return text(start_response, std::string(request.form().get_or("a", "")));
  });
  testing::Client client(router);
  EXPECT_EQ(client.post("/r", "a=0123456789", "application/x-www-form-urlencoded").status, 413);
  EXPECT_EQ(client.post("/r", "a=01234567", "application/x-www-form-urlencoded").body, "01234567");
}

TEST(Request, BrokenMultipartFormIsBadRequest) {
  auto look = [](Request& r) { return std::string(r.form().get_or("m", "-")); };
  auto reply =
      inspect(look, "POST", "/r", {{"Content-Type", "multipart/form-data; boundary=b"}}, "--b\r\nnope");
  EXPECT_TRUE(reply.starts_with("400 ")) << reply;
  reply = inspect(look, "POST", "/r", {{"Content-Type", "multipart/form-data"}}, "--b--");
  EXPECT_TRUE(reply.starts_with("400 ")) << reply;
}

TEST(Request, FormThatFailedFailsAgainInsteadOfLookingEmpty) {
  Router router;
  router.post("/r", [](Environ& environ, StartResponse& start_response) {
    Request request(environ);
    std::string first;
    try {
      request.form();
    } catch (const BadRequest& e) {
      first = e.what();
    }
    try {
      request.form();
    } catch (const BadRequest& e) {
      return text(start_response, first + "|" + e.what());
    }
    return text(start_response, "second call passed");
  });
  testing::Client client(router);
  EXPECT_EQ(client.post("/r", "a=%", "application/x-www-form-urlencoded").body,
            "malformed percent escape in \"%\"|malformed percent escape in \"%\"");
}

TEST(Request, MethodAndDecodedPath) {
  Router router;
  router.get("/p/{x}", [](Environ& environ, StartResponse& start_response) {
    Request request(environ);
    return text(start_response, std::string(request.method()) + " " + std::string(request.path()));
  });
  testing::Client client(router);
  EXPECT_EQ(client.get("/p/a%20b").body, "GET /p/a b");
}

TEST(EnvironNameOfHeader, MapsHttpNamesToCgiNames) {
  EXPECT_EQ(environ_name_of_header("user-agent"), "HTTP_USER_AGENT");
  EXPECT_EQ(environ_name_of_header("Content-Length"), "CONTENT_LENGTH");
  EXPECT_EQ(environ_name_of_header("X_Foo"), "") << "the server never passes names with '_'";
  EXPECT_EQ(environ_name_of_header("bad name"), "");
}

}  // namespace
}  // namespace forkserve
