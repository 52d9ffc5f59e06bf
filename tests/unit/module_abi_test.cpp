// The ABI's growth rules as the headers and the loader implement them:
// FORKSERVE_EXPORT_HANDLER wires the lifecycle hooks a class has, Environ
// takes run_once from the request only when the request has the field, and
// the loader takes descriptors of any size from 1.0's up.
#include <gtest/gtest.h>

#include <cstddef>
#include <forkserve/export.hpp>
#include <vector>

#include "module/module_loader.hpp"
#include "support/recording_server.hpp"

namespace forkserve {
namespace {

struct WithPostFork {
  static inline int post_forks = 0;
  void post_fork() { ++post_forks; }
  Body operator()(Environ&, StartResponse&) { return {}; }
};

struct WithoutPostFork {
  Body operator()(Environ&, StartResponse&) { return {}; }
};

TEST(ModuleAbi, ExportWiresThePostForkMemberOfTheHandler) {
  const forkserve_module* module = detail::ModuleGlue<WithPostFork>::descriptor("with");
  ASSERT_NE(module->post_fork, nullptr);
  char error[64] = "";
  ASSERT_EQ(module->init("", error, sizeof error), FORKSERVE_OK) << error;
  module->post_fork();
  EXPECT_EQ(WithPostFork::post_forks, 1);
  module->fini();
}

TEST(ModuleAbi, ExportLeavesPostForkNullForAHandlerWithoutOne) {
  EXPECT_EQ(detail::ModuleGlue<WithoutPostFork>::descriptor("without")->post_fork, nullptr);
}

TEST(ModuleAbi, ExportedDescriptorNamesThisMinorAndItsSize) {
  const forkserve_module* module = detail::ModuleGlue<WithoutPostFork>::descriptor("without");
  EXPECT_EQ(module->abi_minor, FORKSERVE_ABI_MINOR);
  EXPECT_EQ(module->size, sizeof(forkserve_module));
}

TEST(ModuleAbi, EnvironRunOnceComesFromTheRequest) {
  testing::RecordingServer server({});
  forkserve_request request = server.request();
  request.run_once = 0;
  EXPECT_FALSE(Environ(request).run_once());
  request.run_once = 1;
  EXPECT_TRUE(Environ(request).run_once());
}

TEST(ModuleAbi, EnvironRunOnceIsTrueWhenTheRequestPredatesTheField) {
  testing::RecordingServer server({});
  forkserve_request request = server.request();
  request.run_once = 0;  // beyond `size`: must not be read
  request.size = offsetof(forkserve_request, run_once);
  EXPECT_TRUE(Environ(request).run_once());
}

int init_ok(const char*, char*, std::size_t) { return FORKSERVE_OK; }
int handle_nothing(const forkserve_request*) { return FORKSERVE_OK; }

TEST(ModuleAbi, LoaderAcceptsADescriptorAppendedToByANewerMinor) {
  // A newer module's descriptor: the known fields, then ones this server has never heard of.
  struct Newer {
    forkserve_module known;
    void (*appended_hook)(void);
  } newer{{FORKSERVE_MODULE_MAGIC, FORKSERVE_ABI_MAJOR, FORKSERVE_ABI_MINOR + 1, sizeof(Newer), "newer",
           &init_ok, nullptr, &handle_nothing, nullptr},
          nullptr};
  EXPECT_EQ(start_module(&newer.known, "newer.so", "").module, &newer.known);
}

TEST(ModuleAbi, LoaderAcceptsTheAbi10DescriptorSize) {
  forkserve_module module{FORKSERVE_MODULE_MAGIC,
                          FORKSERVE_ABI_MAJOR,
                          0,
                          FORKSERVE_MODULE_SIZE_1_0,
                          "old",
                          &init_ok,
                          nullptr,
                          &handle_nothing,
                          nullptr};
  EXPECT_EQ(start_module(&module, "old.so", "").module, &module);
}

TEST(ModuleAbi, LoaderRefusesADescriptorSmallerThanAbi10s) {
  forkserve_module module{FORKSERVE_MODULE_MAGIC,
                          FORKSERVE_ABI_MAJOR,
                          0,
                          FORKSERVE_MODULE_SIZE_1_0 - 8,
                          "short",
                          &init_ok,
                          nullptr,
                          &handle_nothing,
                          nullptr};
  LoadedModule loaded = start_module(&module, "short.so", "");
  EXPECT_EQ(loaded.module, nullptr);
  EXPECT_EQ(loaded.error, "handler short.so: descriptor is smaller than ABI 1.0's");
}

}  // namespace
}  // namespace forkserve
