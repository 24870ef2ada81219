// End-to-end through the public API on one segment: the path every user takes first.
#include <gtest/gtest.h>

#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::MustOpen;
using testing::ScopedSegmentName;
using testing::TestOptions;

TEST(Smoke, ClaimCheckRevokeThroughTheManager) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name()));
  ASSERT_TRUE(store);
  Manager leases(store);
  std::error_code ec;
  auto claimer = leases.Claimer(kSingularControllerNamespace, "local", ec);
  ASSERT_FALSE(ec);
  auto checker = leases.Checker(kSingularControllerNamespace, "local", ec);
  ASSERT_FALSE(ec);
  auto revoker = leases.Revoker(kSingularControllerNamespace, "local", ec);
  ASSERT_FALSE(ec);

  Token token = checker->Token("db-migrator", "pid-1");
  EXPECT_EQ(token.Check(), ErrNotHeld);
  EXPECT_FALSE(claimer->Claim("db-migrator", "pid-1", 10s));
  EXPECT_FALSE(token.Check());
  EXPECT_FALSE(token.Check());  // Second check takes the cached fast path.
  EXPECT_EQ(claimer->Claim("db-migrator", "pid-2", 10s), ErrClaimDenied);
  EXPECT_EQ(checker->Token("db-migrator", "pid-2").Check(), ErrNotHeld);
  EXPECT_FALSE(revoker->Revoke("db-migrator", "pid-1"));
  EXPECT_EQ(token.Check(), ErrNotHeld);
  EXPECT_FALSE(claimer->Claim("db-migrator", "pid-2", 10s));
  EXPECT_EQ(token.Check(), ErrNotHeld);

  std::vector<std::string> problems;
  EXPECT_FALSE(store->Fsck(&problems));
  EXPECT_TRUE(problems.empty()) << problems.front();
}

}  // namespace
}  // namespace shmlease
