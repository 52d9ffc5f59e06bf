#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/config.hpp"
#include "core/stats.hpp"

namespace forkserve {
namespace {

std::string read_text(const char* path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

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

// The README's options table, row for row what option_docs() says.
std::string readme_options_table() {
  std::string table = "| option | default | meaning |\n|---|---|---|\n";
  for (const OptionDoc& option : option_docs()) {
    std::string name = "--" + std::string(option.name);
    if (!option.metavar.empty()) name.append(" ").append(option.metavar);
    std::string default_text = option.default_text.empty() ? "" : "`" + std::string(option.default_text) + "`";
    table += "| `" + name + "` | " + default_text + " | " + std::string(option.help) + " |\n";
  }
  return table;
}

TEST(Readme, OptionsTableIsTheOptionTable) {
  std::ifstream file(FORKSERVE_README);
  std::stringstream text;
  text << file.rdbuf();
  std::string readme = text.str();
  ASSERT_FALSE(readme.empty()) << FORKSERVE_README;
  std::string expected = readme_options_table();
  EXPECT_NE(readme.find(expected), std::string::npos) << "README.md's options table should read:\n" << expected;
}

TEST(ManPage, ReadmeAndManPageDocumentEveryStatusMetric) {
  StatusSnapshot snapshot;
  snapshot.listen_queue = 0;  // so that every metric is rendered
  std::string exposition = render_status_prometheus(snapshot);
  std::string readme = read_text(FORKSERVE_README);
  std::string page = man_page();
  std::size_t metrics = 0;
  for (std::size_t at = 0; (at = exposition.find("# TYPE ", at)) != std::string::npos; ++metrics) {
    at += 7;
    std::string name = exposition.substr(at, exposition.find(' ', at) - at);
    EXPECT_NE(readme.find("`" + name), std::string::npos) << name << " is not in README.md";
    EXPECT_NE(page.find(roff(name)), std::string::npos) << name << " is not in the man page";
  }
  EXPECT_GE(metrics, 10U);
}

TEST(ManPage, DocumentsEveryHandledSignal) {
  std::string page = man_page();
  for (const char* signal : {"SIGINT", "SIGTERM", "SIGUSR1", "SIGHUP", "SIGCHLD", "SIGPIPE"}) {
    EXPECT_NE(page.find(signal), std::string::npos) << signal;
  }
}

}  // namespace
}  // namespace forkserve
