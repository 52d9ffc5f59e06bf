// examples/json_api: JSON read with nlohmann/json, answered with JsonWriter.
#include <gtest/gtest.h>

#if __has_include(<nlohmann/json.hpp>)
#include <forkserve/testing.hpp>

#include "json_api/json_api.hpp"

namespace {

forkserve::testing::Response post(std::string body) {
  JsonApi api;
  forkserve::testing::Client client(api);
  return client.post("/api/sum", std::move(body), "application/json");
}

TEST(JsonApiExample, SumsTheNumbersOfAValidBody) {
  auto reply = post(R"({"numbers": [1, 2.5, -0.5], "label": "a \"b\""})");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.body, R"({"label":"a \"b\"","count":3,"sum":3})");
}

TEST(JsonApiExample, MalformedOrWrongShapedJsonIsBadRequest) {
  EXPECT_EQ(post("{\"numbers\": [1,").status, 400);
  EXPECT_EQ(post("[1, 2]").status, 400);
  EXPECT_EQ(post(R"({"numbers": [1, "two"]})").status, 400);
  EXPECT_EQ(post("").status, 400);
}

TEST(JsonApiExample, OversizedBodyIsContentTooLarge) {
  EXPECT_EQ(post("{\"numbers\": [" + std::string(70000, ' ') + "]}").status, 413);
}

}  // namespace
#else
TEST(JsonApiExample, NeedsNlohmannJson) {
  GTEST_SKIP() << "nlohmann-json3-dev is not installed (scripts/test.sh installs it)";
}
#endif
