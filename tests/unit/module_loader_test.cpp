#include "module/module_loader.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>

#include <cstdio>
#include <cstring>
#include <string>

namespace forkserve {
namespace {

int init_ok(const char*, char*, std::size_t) { return FORKSERVE_OK; }
int init_fails(const char* arg, char* error, std::size_t size) {
  std::snprintf(error, size, "cannot use '%s'", arg);
  return FORKSERVE_FAILED;
}
int handle_nothing(const forkserve_request*) { return FORKSERVE_OK; }

forkserve_module good_module() {
  return {FORKSERVE_MODULE_MAGIC, FORKSERVE_ABI_MAJOR, FORKSERVE_ABI_MINOR, sizeof(forkserve_module), "test",
          &init_ok, nullptr, &handle_nothing, nullptr};
}

TEST(ModuleLoader, AcceptsAValidDescriptor) {
  forkserve_module module = good_module();
  LoadedModule loaded = start_module(&module, "t.so", "");
  EXPECT_EQ(loaded.module, &module);
  EXPECT_EQ(loaded.error, "");
}

TEST(ModuleLoader, RejectsBadMagic) {
  forkserve_module module = good_module();
  module.magic = 0;
  LoadedModule loaded = start_module(&module, "t.so", "");
  EXPECT_EQ(loaded.module, nullptr);
  EXPECT_NE(loaded.error.find("magic"), std::string::npos);
}

TEST(ModuleLoader, RejectsOtherAbiMajorNamingBoth) {
  forkserve_module module = good_module();
  module.abi_major = FORKSERVE_ABI_MAJOR + 1;
  LoadedModule loaded = start_module(&module, "t.so", "");
  EXPECT_EQ(loaded.module, nullptr);
  EXPECT_NE(loaded.error.find("ABI " + std::to_string(FORKSERVE_ABI_MAJOR + 1)), std::string::npos);
}

TEST(ModuleLoader, RejectsMissingHandle) {
  forkserve_module module = good_module();
  module.handle = nullptr;
  EXPECT_EQ(start_module(&module, "t.so", "").module, nullptr);
}

TEST(ModuleLoader, ReportsInitFailureWithTheModulesReason) {
  forkserve_module module = good_module();
  module.init = &init_fails;
  LoadedModule loaded = start_module(&module, "t.so", "xyz");
  EXPECT_EQ(loaded.module, nullptr);
  EXPECT_EQ(loaded.error, "handler t.so: init failed: cannot use 'xyz'");
}

TEST(ModuleLoader, ReportsMissingFileOnce) {
  LoadedModule loaded = load_module("/nonexistent/x.so", "");
  EXPECT_EQ(loaded.module, nullptr);
  EXPECT_EQ(loaded.error, "handler /nonexistent/x.so: open: No such file or directory");
}

TEST(ModuleLoader, RejectsALibraryWithoutTheEntryPoint) {
  // libm is mapped into this test already; ask the dynamic linker where from.
  Dl_info info{};
  ASSERT_NE(::dladdr(reinterpret_cast<void*>(static_cast<double (*)(double)>(&::cos)), &info), 0);
  LoadedModule loaded = load_module(info.dli_fname, "");
  EXPECT_EQ(loaded.module, nullptr);
  EXPECT_NE(loaded.error.find("no forkserve_module_v1 symbol"), std::string::npos) << loaded.error;
}

}  // namespace
}  // namespace forkserve
