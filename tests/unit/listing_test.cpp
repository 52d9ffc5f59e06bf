// The pieces of a directory listing: order, sizes, HTML rows, JSON rows.
#include "handlers/listing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace forkserve::handlers {
namespace {

TEST(ListingTest, NaturalOrderComparesNumbersByValue) {
  std::vector<std::string> names = {"file-10.txt", "file-2.txt", "File-1.txt", "file-02b.txt",
                                    "a",           "B",          "file-"};
  std::sort(names.begin(), names.end(), natural_less);
  const std::vector<std::string> expected = {
      "a", "B", "file-", "File-1.txt", "file-2.txt", "file-02b.txt", "file-10.txt"};
  EXPECT_EQ(names, expected);
}

TEST(ListingTest, NaturalOrderIsAStrictOrderOnTies) {
  EXPECT_FALSE(natural_less("x", "x"));
  EXPECT_NE(natural_less("a01", "a1"), natural_less("a1", "a01"));
  EXPECT_NE(natural_less("A", "a"), natural_less("a", "A"));
}

TEST(ListingTest, NaturalOrderHandlesHugeNumbers) {
  EXPECT_TRUE(natural_less("v99999999999999999999999", "v100000000000000000000000"));
}

TEST(ListingTest, HumanSizes) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(1023), "1023 B");
  EXPECT_EQ(human_size(1536), "1.5 KiB");
  EXPECT_EQ(human_size(10 * 1024), "10 KiB");
  EXPECT_EQ(human_size(256ULL << 20), "256 MiB");
  EXPECT_EQ(human_size(3ULL << 40), "3.0 TiB");
}

TEST(ListingTest, FileRowHasLinkExactBytesInTitleAndUtcTime) {
  const std::string row = listing_html_row({"a b&.txt", false, 1536, 784111777});
  EXPECT_NE(row.find(R"(<a href="a%20b%26.txt">a b&amp;.txt</a>)"), std::string::npos) << row;
  EXPECT_NE(row.find(R"(title="1536 bytes">1.5 KiB<)"), std::string::npos) << row;
  EXPECT_NE(row.find(R"(1994-11-06<span class="time"> 08:49</span>)"), std::string::npos) << row;
}

TEST(ListingTest, DirectoryRowLinksWithASlash) {
  const std::string row = listing_html_row({"docs", true, 4096, 0});
  EXPECT_NE(row.find(R"(<a href="docs/">docs/</a>)"), std::string::npos) << row;
  EXPECT_EQ(row.find("bytes"), std::string::npos) << row;
}

TEST(ListingTest, PageHeadHasViewportStyleAndNoScriptsOrExternalResources) {
  const std::string head = listing_html_head("/x/", true) + listing_html_tail(0, 0);
  EXPECT_NE(head.find(R"(<meta name="viewport" content="width=device-width, initial-scale=1">)"),
            std::string::npos);
  EXPECT_NE(head.find("<style>"), std::string::npos);
  EXPECT_EQ(head.find("<script"), std::string::npos);
  EXPECT_EQ(head.find("http"), std::string::npos);
  EXPECT_EQ(head.find("src="), std::string::npos);
  EXPECT_NE(head.find(R"(<a href="../">../</a>)"), std::string::npos);
}

TEST(ListingTest, TailCountsEntriesAndThoseLeftOut) {
  EXPECT_NE(listing_html_tail(1, 0).find("1 entry<"), std::string::npos);
  EXPECT_NE(listing_html_tail(5, 7).find("5 entries; 7 more not listed"), std::string::npos);
}

TEST(ListingTest, JsonRowsEscapeAndReplaceInvalidUtf8) {
  EXPECT_EQ(listing_json_row({"a\"b\\c\n", false, 5, 784111777}, true),
            "\n{\"name\":\"a\\\"b\\\\c\\n\",\"type\":\"file\",\"size\":5,\"modified\":\"1994-11-06T08:49:"
            "37Z\"}");
  EXPECT_EQ(
      listing_json_row({"d\xff\xc3\xa9", true, 0, 0}, false),
      ",\n{\"name\":\"d\\ufffd\xc3\xa9\",\"type\":\"directory\",\"modified\":\"1970-01-01T00:00:00Z\"}");
}

}  // namespace
}  // namespace forkserve::handlers
