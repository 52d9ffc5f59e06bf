#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/config.hpp"

namespace forkserve {
namespace {

std::string man_page() {
  std::ifstream file(FORKSERVE_MAN_PAGE);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// roff writes '-' as "\-".
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

TEST(ManPage, DocumentsEveryOptionWithTheDefaultHelpShows) {
  std::string page = man_page();
  ASSERT_FALSE(page.empty()) << FORKSERVE_MAN_PAGE;
  for (const OptionDoc& option : option_docs()) {
    std::size_t entry = page.find(".TP\n.B" + std::string(option.metavar.empty() ? " " : "I ") + "\\-\\-" +
                                  roff(option.name));
    ASSERT_NE(entry, std::string::npos) << "--" << option.name << " is not in the man page";
    if (option.default_text.empty()) continue;
    std::size_t next = page.find(".TP", entry + 1);
    std::string entry_text = page.substr(entry, next - entry);
    EXPECT_NE(entry_text.find("(default: " + roff(option.default_text) + ")"), std::string::npos)
        << "--" << option.name << " default differs from --help: " << option.default_text;
  }
}

TEST(ManPage, DocumentsEveryHandledSignal) {
  std::string page = man_page();
  for (const char* signal : {"SIGINT", "SIGTERM", "SIGUSR1", "SIGHUP", "SIGCHLD", "SIGPIPE"}) {
    EXPECT_NE(page.find(signal), std::string::npos) << signal;
  }
}

}  // namespace
}  // namespace forkserve
