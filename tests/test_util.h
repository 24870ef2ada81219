// Shared test helpers: a segment name per test (pid + test name) that is
// removed when the test ends, pass or fail, so tests run in parallel and
// leave nothing in /dev/shm.
#ifndef SHMLEASE_TESTS_TEST_UTIL_H_
#define SHMLEASE_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "shmlease/shmlease.h"

namespace shmlease::testing {

// A segment name unique to this process and test; Destroy()s it on scope exit.
class ScopedSegmentName {
 public:
  explicit ScopedSegmentName(std::string suffix = "") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    name_ = "shmlease-test-" + std::to_string(getpid()) + "-" +
            (info ? std::string(info->test_suite_name()) + "." + info->name() : "none") + suffix;
    for (char& c : name_) {
      if (c == '/') c = '_';
    }
    ShmStore::Destroy(name_);
  }
  ~ScopedSegmentName() { ShmStore::Destroy(name_); }
  ScopedSegmentName(const ScopedSegmentName&) = delete;
  ScopedSegmentName& operator=(const ScopedSegmentName&) = delete;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Options for a fresh test segment; fake_clock makes expiry deterministic.
inline ShmStoreOptions TestOptions(const std::string& name, bool fake_clock = true,
                                   std::size_t capacity = 64) {
  ShmStoreOptions o;
  o.name = name;
  o.capacity = capacity;
  o.fake_clock = fake_clock;
  return o;
}

inline std::shared_ptr<ShmStore> MustOpen(const ShmStoreOptions& options) {
  std::error_code ec;
  std::string detail;
  auto store = ShmStore::OpenOrCreate(options, ec, &detail);
  EXPECT_FALSE(ec) << ec.message() << ": " << detail;
  return store;
}

}  // namespace shmlease::testing

#endif  // SHMLEASE_TESTS_TEST_UTIL_H_
