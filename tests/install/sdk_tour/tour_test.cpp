// The tour handler through forkserve::testing: no server, no sockets.
// Prints each failed check and exits 1 if there was one.
#include "tour.hpp"

#include <forkserve/testing.hpp>
#include <iostream>

namespace {
int failures = 0;
void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "FAIL: " << what << "\n";
    ++failures;
  }
}
}  // namespace

int main(int, char* argv[]) {
  Tour tour;
  forkserve::testing::Client client(tour);

  auto item = client.get("/items/a%2Fb?count=3", {{"X-Tag", "t"}, {"Cookie", "seen=1"}});
  expect(item.body == R"({"id":"a/b","count":3,"tag":"t","seen":true})", "GET /items: " + item.body);
  expect(client.get("/items/x?count=11").status == 400, "count out of range is 400");

  forkserve::Fields form;
  form.add("name", "<Ann>");
  auto greeted = client.post_form("/greet", form);
  expect(greeted.status == 303 && greeted.header("Location") == "/hello/%3CAnn%3E", "POST /greet redirects");
  expect(greeted.header("Set-Cookie") == "seen=%3CAnn%3E; Path=/; HttpOnly; Max-Age=60",
         "POST /greet sets a cookie");
  expect(client.get("/hello/%3CAnn%3E").body == "<p>Hello, &lt;Ann&gt;</p>", "GET /hello escapes");
  expect(client.post_form("/greet", {}).status == 400, "empty name is 400");

  auto upload =
      client.post_multipart("/upload", forkserve::testing::multipart(form, {{"f", "a.bin", "x/y", "12345"}}));
  expect(upload.status == 201 && upload.body == "name:5;f:5;", "POST /upload: " + upload.body);

  expect(client.get("/count").body == "012", "GET /count streams");
  auto file = client.get("/file?path=" + forkserve::url_encode(argv[0]));
  expect(file.status == 200 && file.header("X-Tour") == "file" && !file.body.empty(),
         "GET /file sends a file");
  expect(client.get("/file?path=/nonexistent/x").status == 404, "GET /file of a missing file is 404");
  auto gone = client.get("/gone");
  expect(gone.status == 410 && gone.body == "it moved on\n", "GET /gone");
  expect(client.request("DELETE", "/gone").header("Allow") == "GET, HEAD", "405 lists Allow");
  expect(client.get("/nowhere").status == 404, "unknown path is 404");

  if (failures == 0) std::cout << "tour: all checks passed\n";
  return failures == 0 ? 0 : 1;
}
