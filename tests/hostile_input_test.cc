// Bad and hostile input, in one process: bad names and durations, a full
// table, and segment files that are damaged, planted or from another boot.
// Each gets its own clear error (the Errc, and a detail naming the segment),
// and nothing that was already held is disturbed: the table's state, and a
// refused file's bytes, are the same afterwards.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../lib/writer_seat.h"
#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::DumpState;
using testing::Join;
using testing::MustOpen;
using testing::ReadFile;
using testing::ScopedSegmentName;
using testing::TempDir;
using testing::TestOptions;
using testing::WriteFile;

const std::string kNs(kSingularControllerNamespace);
Key K(const std::string& lease) { return Key{kNs, "model", lease}; }

// Every kind of name ValidateString refuses.
std::vector<std::string> BadNames() {
  std::vector<std::string> bad = {"",    " ",   "a b", "a\tb", "a\nb", "a\rb", "a.b",
                                  "a#b", "a$b", ".",   "#",    "$",    "\x01", "a\x7f"};
  bad.push_back(std::string("a\0b", 3));  // NUL would end a stored name early.
  return bad;
}

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = MustOpen(TestOptions(seg_.name(), true, 4));
    ASSERT_TRUE(store_);
    ASSERT_FALSE(store_->ClaimLease(K("held"), {"holder", 60s}));
    ASSERT_FALSE(store_->PinLease(K("held"), "pinner"));
    before_ = DumpState(*store_);
  }
  void ExpectUndisturbed() {
    EXPECT_EQ(DumpState(*store_), before_);
    std::vector<std::string> problems;
    EXPECT_FALSE(store_->Fsck(&problems)) << Join(problems);
    EXPECT_FALSE(Token(store_, K("held"), "holder").Check());
  }

  ScopedSegmentName seg_;
  std::shared_ptr<ShmStore> store_;
  std::string before_;
};

TEST_F(Hostile, EveryRejectedNameInEveryPosition) {
  for (const std::string& bad : BadNames()) {
    SCOPED_TRACE("name '" + bad + "'");
    EXPECT_EQ(ValidateString(bad), Errc::invalid_name);
    const Key keys[] = {Key{bad, "model", "lease"}, Key{kNs, bad, "lease"}, Key{kNs, "model", bad}};
    for (const Key& k : keys) {
      EXPECT_EQ(store_->ClaimLease(k, {"holder", 1s}), Errc::invalid_name);
      EXPECT_EQ(store_->ExtendLease(k, {"holder", 1s}), Errc::invalid_name);
      EXPECT_EQ(store_->ClaimOrExtendLease(k, {"holder", 1s}), Errc::invalid_name);
      EXPECT_EQ(store_->RevokeLease(k, "holder"), Errc::invalid_name);
      EXPECT_EQ(store_->PinLease(k, "entity"), Errc::invalid_name);
      EXPECT_EQ(store_->UnpinLease(k, "entity"), Errc::invalid_name);
      EXPECT_EQ(store_->WaitUntilFree(k, {}), Errc::invalid_name);
      LeaseMap out;
      const Key one[] = {k};
      EXPECT_EQ(store_->Leases(&out, one), Errc::invalid_name);
      TokenCache cache;
      EXPECT_EQ(store_->CheckLease(k, "holder", &cache), Errc::not_held);
    }
    // As the holder or entity, of a lease that exists.
    EXPECT_EQ(store_->ClaimLease(K("other"), {bad, 1s}), Errc::invalid_name);
    EXPECT_EQ(store_->ClaimOrExtendLease(K("held"), {bad, 1s}), Errc::invalid_name);
    EXPECT_EQ(store_->ExtendLease(K("held"), {bad, 1s}), Errc::invalid_name);
    EXPECT_EQ(store_->RevokeLease(K("held"), bad), Errc::invalid_name);
    EXPECT_EQ(store_->PinLease(K("held"), bad), Errc::invalid_name);
    EXPECT_EQ(store_->UnpinLease(K("held"), bad), Errc::invalid_name);
    LeaseMap out;
    EXPECT_EQ(store_->LeaseGroup(bad, "model", &out), Errc::invalid_name);
    EXPECT_EQ(store_->LeaseGroup(kNs, bad, &out), Errc::invalid_name);
    TokenCache cache;
    EXPECT_EQ(store_->CheckLease(K("held"), bad, &cache), Errc::not_held);
  }
  ExpectUndisturbed();
}

// A NUL ends a zero-padded stored name: "holder\0" must not pass for
// "holder" on the extension path, which compares stored bytes.
TEST_F(Hostile, TrailingNulDoesNotMatchAStoredName) {
  using namespace std::string_literals;
  for (const std::string& bad :
       {"holder\0"s, "holder\0\0\0"s, "hol\0der"s, "\0holder"s, "holder\0\0\0\0\0\0\0\0\0\0"s}) {
    SCOPED_TRACE(bad.size());
    EXPECT_EQ(store_->ClaimOrExtendLease(K("held"), {bad, 10s}), Errc::invalid_name);
    EXPECT_EQ(store_->ExtendLease(K("held"), {bad, 10s}), Errc::invalid_name);
  }
  for (const std::string& bad : {"held\0"s, "held\0\0"s, "he\0ld"s}) {
    EXPECT_EQ(store_->ClaimOrExtendLease(K(bad), {"holder", 10s}), Errc::invalid_name);
  }
  // The namespace and model positions, through Claimer::Claim's path.
  const std::string ns_nul = kNs + "\0"s;
  const std::string model_nul = "model\0"s;
  const KeyView nul_ns{ns_nul, "model", "held"};
  const KeyView nul_model{kNs, model_nul, "held"};
  EXPECT_EQ(store_->ClaimOrExtend(nul_ns, "holder", 10s), Errc::invalid_name);
  EXPECT_EQ(store_->ClaimOrExtend(nul_model, "holder", 10s), Errc::invalid_name);
  ExpectUndisturbed();
}

TEST_F(Hostile, NamesOneByteOverTheBound) {
  const std::string max(kMaxNameLength, 'x');
  const std::string over(kMaxNameLength + 1, 'x');
  EXPECT_EQ(ValidateName(over), Errc::name_too_long);
  EXPECT_EQ(store_->ClaimLease(Key{over, "model", "lease"}, {"holder", 1s}), Errc::name_too_long);
  EXPECT_EQ(store_->ClaimLease(Key{kNs, over, "lease"}, {"holder", 1s}), Errc::name_too_long);
  EXPECT_EQ(store_->ClaimLease(K(over), {"holder", 1s}), Errc::name_too_long);
  EXPECT_EQ(store_->ClaimLease(K("lease"), {over, 1s}), Errc::name_too_long);
  EXPECT_EQ(store_->ClaimOrExtendLease(K("held"), {over, 1s}), Errc::name_too_long);
  EXPECT_EQ(store_->RevokeLease(K("held"), over), Errc::name_too_long);
  EXPECT_EQ(store_->PinLease(K("held"), over), Errc::name_too_long);
  EXPECT_EQ(store_->UnpinLease(K("held"), over), Errc::name_too_long);
  // A name that only differs past the bound must never alias a stored one.
  TokenCache cache;
  EXPECT_EQ(store_->CheckLease(K("held"), "holder" + std::string(kMaxNameLength, 'z'), &cache),
            Errc::not_held);
  ExpectUndisturbed();
  // Exactly at the bound is fine, and comes back whole.
  const Key k{max, max, max};
  ASSERT_FALSE(store_->ClaimLease(k, {max, 1s}));
  ASSERT_FALSE(store_->PinLease(k, max));
  LeaseMap leases;
  ASSERT_FALSE(store_->Leases(&leases));
  ASSERT_TRUE(leases.count(k));
  EXPECT_EQ(leases[k].holder, max);
  PinMap pins;
  ASSERT_FALSE(store_->Pinned(&pins));
  EXPECT_EQ(pins[k], std::vector<std::string>{max});
}

TEST_F(Hostile, ZeroNegativeAndOverflowingDurations) {
  using std::chrono::nanoseconds;
  for (nanoseconds d : {nanoseconds(0), nanoseconds(-1), nanoseconds(-3'600'000'000'000),
                        nanoseconds::min(), nanoseconds::max(),
                        // Fits alone, overflows once added to now.
                        nanoseconds::max() - nanoseconds(1)}) {
    SCOPED_TRACE(d.count());
    EXPECT_EQ(store_->ClaimLease(K("new"), {"holder", d}), Errc::invalid_duration);
    EXPECT_EQ(store_->ClaimOrExtendLease(K("held"), {"holder", d}), Errc::invalid_duration);
    EXPECT_EQ(store_->ExtendLease(K("held"), {"holder", d}), Errc::invalid_duration);
    EXPECT_EQ(store_->ClaimOrExtendLease(K("held"), {"intruder", d}), Errc::invalid_duration);
  }
  ExpectUndisturbed();
  // The longest duration that still fits on the clock is a valid (very long) lease.
  const nanoseconds longest = nanoseconds::max() - store_->Now().time_since_epoch();
  ASSERT_FALSE(store_->ClaimLease(K("forever"), {"holder", longest}));
  ASSERT_FALSE(store_->AdvanceFakeClock(24h * 365 * 100));
  EXPECT_FALSE(Token(store_, K("forever"), "holder").Check());
  std::vector<std::string> problems;
  EXPECT_FALSE(store_->Fsck(&problems)) << Join(problems);
}

TEST(HostileOptions, BadTimeoutsCapacitiesAndSegmentNames) {
  ScopedSegmentName seg;
  std::error_code ec;
  std::string detail;
  ShmStoreOptions o = TestOptions(seg.name());
  o.lock_timeout = 0s;
  EXPECT_FALSE(ShmStore::OpenOrCreate(o, ec, &detail));
  EXPECT_EQ(ec, Errc::invalid_duration);
  o = TestOptions(seg.name());
  o.init_timeout = -1s;
  EXPECT_FALSE(ShmStore::OpenOrCreate(o, ec, &detail));
  EXPECT_EQ(ec, Errc::invalid_duration);
  o = TestOptions(seg.name());
  o.expiry_spin = -1ns;
  EXPECT_FALSE(ShmStore::OpenOrCreate(o, ec, &detail));
  EXPECT_EQ(ec, Errc::invalid_duration);
  EXPECT_NE(detail.find("expiry_spin"), std::string::npos) << detail;
  o.expiry_spin = 0ns;  // Allowed: sleep until the expiry itself.
  EXPECT_TRUE(ShmStore::OpenOrCreate(o, ec, &detail)) << detail;
  ShmStore::Destroy(seg.name());
  for (std::size_t capacity : {std::size_t{0}, std::numeric_limits<std::size_t>::max()}) {
    o = TestOptions(seg.name(), true, capacity);
    EXPECT_FALSE(ShmStore::OpenOrCreate(o, ec, &detail));
    EXPECT_EQ(ec, Errc::invalid_capacity);
  }
  for (const std::string& name : {std::string(""), std::string("/"), std::string(251, 'n')}) {
    o = TestOptions(name);
    EXPECT_FALSE(ShmStore::OpenOrCreate(o, ec, &detail));
    EXPECT_EQ(ec, Errc::invalid_segment_name) << name;
  }
  o = TestOptions("/nonexistent-dir-for-shmlease/segment");
  EXPECT_FALSE(ShmStore::OpenOrCreate(o, ec, &detail));
  EXPECT_TRUE(ec == Errc::segment_not_found || ec == Errc::io_error) << ec.message();
  EXPECT_NE(detail.find("/nonexistent-dir-for-shmlease/segment"), std::string::npos) << detail;
  EXPECT_FALSE(ShmStore::Open(TestOptions(seg.name()), ec, &detail));
  EXPECT_EQ(ec, Errc::segment_not_found);
}

TEST_F(Hostile, FullTable) {
  // Capacity 4: "held" plus three more.
  for (const char* l : {"a", "b", "c"}) ASSERT_FALSE(store_->ClaimLease(K(l), {"holder", 60s}));
  const std::string full = DumpState(*store_);
  EXPECT_EQ(store_->ClaimLease(K("d"), {"holder", 1s}), Errc::table_full);
  EXPECT_EQ(store_->ClaimOrExtendLease(K("d"), {"holder", 1s}), Errc::table_full);
  EXPECT_EQ(store_->PinLease(K("d"), "entity"), Errc::table_full);
  EXPECT_EQ(DumpState(*store_), full) << "a refused claim changed the table";
  // Existing leases still work: extend, deny, pin.
  EXPECT_FALSE(store_->ClaimOrExtendLease(K("a"), {"holder", 120s}));
  EXPECT_FALSE(store_->ExtendLease(K("b"), {"holder", 120s}));
  EXPECT_EQ(store_->ClaimOrExtendLease(K("c"), {"intruder", 1s}), Errc::claim_denied);
  EXPECT_FALSE(store_->PinLease(K("c"), "entity"));
  EXPECT_FALSE(store_->UnpinLease(K("c"), "entity"));
  for (int i = 1; i < static_cast<int>(kMaxPinsPerLease); ++i) {
    EXPECT_FALSE(store_->PinLease(K("held"), "p" + std::to_string(i)));
  }
  EXPECT_EQ(store_->PinLease(K("held"), "one-too-many"), Errc::too_many_pins);
  // Once one lease is given up, a new one fits.
  EXPECT_FALSE(store_->RevokeLease(K("a"), "holder"));
  EXPECT_FALSE(store_->ClaimLease(K("d"), {"holder", 1s}));
  // Expired leases are swept to make room.
  ASSERT_FALSE(store_->AdvanceFakeClock(2s));
  EXPECT_FALSE(store_->ClaimLease(K("e"), {"holder", 1s}));
  LeaseMap leases;
  ASSERT_FALSE(store_->Leases(&leases));
  for (const char* l : {"held", "b", "c", "e"}) EXPECT_TRUE(leases.count(K(l))) << l;
  std::vector<std::string> problems;
  EXPECT_FALSE(store_->Fsck(&problems)) << Join(problems);
}

// ------------------------------------------------------------ segment files

template <typename T>
void Poke(std::string* bytes, std::size_t offset, T value) {
  ASSERT_LE(offset + sizeof value, bytes->size());
  std::memcpy(bytes->data() + offset, &value, sizeof value);
}

class HostileFile : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    good_ = dir_.File("good");
    auto s = MustOpen(TestOptions(good_, false, 4));
    ASSERT_TRUE(s);
    ASSERT_FALSE(s->ClaimLease(K("held"), {"holder", 600s}));
    ASSERT_FALSE(s->PinLease(K("pinned"), "pinner"));
    s.reset();
    good_bytes_ = ReadFile(good_);
    ASSERT_GT(good_bytes_.size(), internal::kHeaderBytes);
  }

  // Opens `path` every way there is (create-or-open, open, read-only): each
  // must fail with `want` and say why in a detail naming the file.
  static void ExpectEveryOpenRefused(const std::string& path, Errc want, const std::string& why) {
    for (int how = 0; how < 3; ++how) {
      SCOPED_TRACE(path + ", way " + std::to_string(how));
      ShmStoreOptions o = TestOptions(path, false, 4);
      o.read_only = how == 2;
      std::error_code ec;
      std::string detail;
      auto s = how == 0 ? ShmStore::OpenOrCreate(o, ec, &detail) : ShmStore::Open(o, ec, &detail);
      EXPECT_FALSE(s);
      EXPECT_EQ(ec, want) << ec.message() << ": " << detail;
      EXPECT_NE(detail.find(path), std::string::npos) << detail;
      EXPECT_NE(detail.find(why), std::string::npos) << detail;
    }
  }

  // Writes `bytes` as a segment file, then opens it every way there is: each
  // must be refused (as above), and the file must stay as it was.
  void ExpectRefused(const std::string& bytes, Errc want, const std::string& why) {
    const std::string path = dir_.File("bad");
    WriteFile(path, bytes);
    ExpectEveryOpenRefused(path, want, why);
    EXPECT_TRUE(ReadFile(path) == bytes) << "refusing the segment changed it";
  }

  TempDir dir_;
  std::string good_;
  std::string good_bytes_;
};

TEST_F(HostileFile, WrongMagic) {
  std::string b = good_bytes_;
  Poke<std::uint64_t>(&b, offsetof(internal::SegmentHeader, magic), 0x0123456789ABCDEFULL);
  ExpectRefused(b, Errc::corrupt_segment, "magic");
}

// Found by the fuzzer: a fake clock read from a hostile segment may be
// negative, and the overflow checks on t0 + duration must not overflow
// themselves (UBSan aborts this test if they do).
TEST_F(HostileFile, NegativeFakeClockTimeDoesNotOverflowTheChecks) {
  using std::chrono::nanoseconds;
  std::string b = good_bytes_;
  Poke<std::uint32_t>(&b, offsetof(internal::SegmentHeader, fake_clock), 1);
  Poke<std::int64_t>(&b, offsetof(internal::SegmentHeader, fake_now_ns),
                     std::numeric_limits<std::int64_t>::min() + 1'000'000'000);
  const std::string path = dir_.File("negative-time");
  WriteFile(path, b);
  auto s = MustOpen(TestOptions(path, false, 4));
  ASSERT_TRUE(s);
  ASSERT_LT(s->Now().time_since_epoch(), nanoseconds(0));
  // Every duration fits when the clock is that far below zero.
  EXPECT_FALSE(s->ClaimOrExtendLease(K("late"), {"holder", nanoseconds::max()}));
  EXPECT_FALSE(s->ClaimLease(K("later"), {"holder", 10s}));
  EXPECT_FALSE(Token(s, K("later"), "holder").Check());
  EXPECT_EQ(s->ClaimOrExtendLease(K("later"), {"other", 10s}), Errc::claim_denied);
  // The fake clock saturates instead of wrapping around.
  EXPECT_FALSE(s->AdvanceFakeClock(nanoseconds::max()));
  EXPECT_FALSE(s->AdvanceFakeClock(nanoseconds::max()));
  EXPECT_EQ(s->Now().time_since_epoch(), nanoseconds::max());
  EXPECT_EQ(Token(s, K("later"), "holder").Check(), Errc::not_held);
}

// A segment of an older layout whose whole file is smaller than this
// layout's header (layout 3 at a small capacity): its version is reported,
// not "truncated".
TEST_F(HostileFile, AnOlderLayoutSmallerThanTheHeaderIsReportedByItsVersion) {
  std::string b = good_bytes_.substr(0, 22400);
  Poke<std::uint32_t>(&b, offsetof(internal::SegmentHeader, layout_version), 3);
  ExpectRefused(b, Errc::incompatible_segment, "layout version 3");
}

TEST_F(HostileFile, NewerLayoutVersion) {
  std::string b = good_bytes_;
  Poke<std::uint32_t>(&b, offsetof(internal::SegmentHeader, layout_version),
                      internal::kLayoutVersion + 1);
  ExpectRefused(b, Errc::incompatible_segment, "layout version");
  b = good_bytes_;
  Poke<std::uint32_t>(&b, offsetof(internal::SegmentHeader, name_max), 128);
  ExpectRefused(b, Errc::incompatible_segment, "structure sizes");
}

// The writers' lock is a word naming the owner's writer seat; nothing in it
// is followed. A word planted in the file, naming no seat or a seat nobody
// has, reads as a lock whose owner is gone: the next writer takes it over
// and repairs, and nothing held is lost.
TEST_F(HostileFile, PlantedLockWordsAreTakenOverFromAGoneOwner) {
  for (std::uint32_t word : {0xFFFFFFFFu, 0x80000000u, 0x7FFFFFFFu, 0x00001FFFu,
                             internal::SeatWord(7, 12345), internal::SeatWord(0, 0)}) {
    SCOPED_TRACE(word);
    std::string b = good_bytes_;
    Poke<std::uint32_t>(&b, offsetof(internal::SegmentHeader, lock_word), word);
    WriteFile(good_, b);
    auto s = MustOpen(TestOptions(good_, false, 4));
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->ClaimLease(K("new"), {"holder", 10s}));
    ShmStats stats;
    ASSERT_FALSE(s->GetStats(&stats));
    EXPECT_EQ(stats.recoveries, 1u);
    LeaseMap leases;
    ASSERT_FALSE(s->Leases(&leases));
    EXPECT_EQ(leases.count(K("held")), 1u);
    EXPECT_EQ(leases.count(K("new")), 1u);
  }
}

// The same words written by another process while the store is open: each
// writer that meets one takes the lock over and repairs; the leases held
// before stay held.
TEST_F(HostileFile, LockWordsPlantedAfterOpenAreTakenOver) {
  auto s = MustOpen(TestOptions(good_, false, 4));
  ASSERT_TRUE(s);
  Manager manager(s);
  std::error_code ec;
  auto claimer = manager.Claimer(kNs, "model", ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(claimer->Claim("mine", "me", 600s));  // Takes this process's seat.
  const int fd = open(good_.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto poke = [fd](off_t at, std::uint32_t value) {
    ASSERT_EQ(pwrite(fd, &value, sizeof value, at), static_cast<ssize_t>(sizeof value));
  };
  const off_t lock_at = offsetof(internal::SegmentHeader, lock_word);
  std::uint64_t recoveries = 0;
  for (std::uint32_t word : {0xFFFFFFFFu, 0x00001FFFu, internal::SeatWord(9, 3)}) {
    poke(lock_at, word);
    EXPECT_FALSE(claimer->Claim("mine", "me", 600s));
    ShmStats stats;
    ASSERT_FALSE(s->GetStats(&stats));
    EXPECT_EQ(stats.recoveries, ++recoveries);
    EXPECT_FALSE(stats.lock.locked);
  }
  close(fd);
  EXPECT_FALSE(s->ClaimLease(K("new"), {"holder", 10s}));
  LeaseMap leases;
  ASSERT_FALSE(s->Leases(&leases));
  EXPECT_EQ(leases.count(K("held")), 1u);
  EXPECT_EQ(leases.count(K("mine")), 1u);
}

TEST_F(HostileFile, ImpossibleGeometry) {
  for (std::uint64_t capacity : {std::uint64_t{0}, ~std::uint64_t{0}, std::uint64_t{100}}) {
    SCOPED_TRACE(capacity);
    std::string b = good_bytes_;
    Poke<std::uint64_t>(&b, offsetof(internal::SegmentHeader, capacity), capacity);
    // 100 is possible, but not with the slot count and size this file has.
    ExpectRefused(b, Errc::corrupt_segment, capacity == 100 ? "sizes" : "impossible header");
  }
  std::string b = good_bytes_;
  Poke<std::uint64_t>(&b, offsetof(internal::SegmentHeader, slot_count), 1u << 30);
  ExpectRefused(b, Errc::corrupt_segment, "inconsistent table sizes");
}

TEST_F(HostileFile, Truncated) {
  ExpectRefused(good_bytes_.substr(0, good_bytes_.size() / 2), Errc::corrupt_segment, "truncated");
  ExpectRefused(good_bytes_.substr(0, 100), Errc::corrupt_segment, "truncated");
  ExpectRefused(good_bytes_ + std::string(4096, '\0'), Errc::corrupt_segment, "extended");
}

// A path that names something other than a regular file is refused, every
// way of opening it, without blocking (a FIFO's open waits for a writer),
// with an error that says so: not one about layout versions.
TEST_F(HostileFile, ADirectoryOrAFifoIsNotASegment) {
  const std::string fifo = dir_.File("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string directory = dir_.File("directory");
  ASSERT_EQ(mkdir(directory.c_str(), 0700), 0);
  ExpectEveryOpenRefused(fifo, Errc::not_a_segment, fifo + " is a FIFO");
  ExpectEveryOpenRefused(directory, Errc::not_a_segment, directory + " is a directory");
  EXPECT_EQ(ShmStore::Destroy(directory), Errc::not_a_segment);
  struct stat st;
  EXPECT_EQ(stat(directory.c_str(), &st), 0);
}

TEST_F(HostileFile, RandomBytes) {
  std::mt19937_64 rng(42);
  for (std::size_t size : {good_bytes_.size(), internal::kHeaderBytes, std::size_t{100'000}}) {
    std::string b(size, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    b[0] = 'x';  // A zero magic would mean "never initialised" (see AllZero).
    ExpectRefused(b, Errc::corrupt_segment, "magic");
  }
}

// A file that is not empty and whose first bytes are zero is no segment's
// unfinished creation (a creator marks the file first): it may be anyone's
// data, and every way of opening it, creating included, leaves it alone.
TEST_F(HostileFile, ZeroFirstBytesAreNotAnUnfinishedCreation) {
  const std::string zeros(good_bytes_.size(), '\0');
  ExpectRefused(zeros, Errc::corrupt_segment, "first bytes are zero");
  ExpectRefused(std::string(8, '\0') + std::string(internal::kHeaderBytes, 'd'),
                Errc::corrupt_segment, "left as it is");
}

// What a creator killed half-way leaves (the creating mark, a header
// perhaps) is taken over by the next creator; a plain open says so.
TEST_F(HostileFile, AMarkedUnfinishedCreationIsTakenOver) {
  std::string b(good_bytes_.size(), '\0');
  Poke<std::uint64_t>(&b, 0, internal::kCreatingMagic);
  const std::string path = dir_.File("unfinished");
  WriteFile(path, b);
  std::error_code ec;
  std::string detail;
  EXPECT_FALSE(ShmStore::Open(TestOptions(path, false, 4), ec, &detail));
  EXPECT_EQ(ec, Errc::corrupt_segment);
  EXPECT_NE(detail.find("never initialised"), std::string::npos) << detail;
  EXPECT_TRUE(ReadFile(path) == b);
  auto s = MustOpen(TestOptions(path, false, 4));
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->ClaimLease(K("mine"), {"holder", 1s}));
}

TEST_F(HostileFile, DamagedSlotsAreReportedNotFollowed) {
  // Find the occupied slots, then break them the ways a hostile process could.
  std::string b = good_bytes_;
  std::uint64_t slots;
  std::memcpy(&slots, b.data() + offsetof(internal::SegmentHeader, slot_count), sizeof slots);
  std::vector<std::size_t> occupied;
  for (std::uint64_t i = 0; i < slots; ++i) {
    std::size_t at = internal::kHeaderBytes + i * sizeof(internal::SlotHot);
    std::uint32_t state;
    std::memcpy(&state, b.data() + at + offsetof(internal::SlotHot, state), sizeof state);
    if (state & internal::kOccupied) occupied.push_back(at);
  }
  ASSERT_EQ(occupied.size(), 2u);
  for (std::size_t at : occupied) {
    Poke<std::uint32_t>(&b, at + offsetof(internal::SlotHot, pin_count), 0xFFFFFFFFu);
    Poke<std::uint32_t>(&b, at + offsetof(internal::SlotHot, max_probe), 0xFFFFFFFFu);
  }
  // A committed journal record pointing far outside the table.
  const std::size_t j = offsetof(internal::SegmentHeader, journal);
  Poke<std::uint32_t>(&b, j + offsetof(internal::Journal, committed), 1);
  Poke<std::uint32_t>(&b, j + offsetof(internal::Journal, slot_index), 0xFFFFFFF0u);
  Poke<std::uint32_t>(&b, j + offsetof(internal::Journal, home_index), 0xFFFFFFF0u);
  Poke<std::uint32_t>(&b, j + offsetof(internal::Journal, pin_count), 0xFFFFFFFFu);
  const std::string path = dir_.File("damaged");
  WriteFile(path, b);

  auto s = MustOpen(TestOptions(path, false, 4));
  ASSERT_TRUE(s);
  PinMap pins;
  EXPECT_FALSE(s->Pinned(&pins));
  for (const auto& [key, entities] : pins) EXPECT_LE(entities.size(), kMaxPinsPerLease);
  std::vector<LeaseEntry> entries;
  EXPECT_FALSE(s->Snapshot(&entries));
  LeaseMap leases;
  const Key one[] = {K("held"), K("nowhere")};
  EXPECT_FALSE(s->Leases(&leases, one));
  ShmStats stats;
  EXPECT_FALSE(s->GetStats(&stats));
  std::vector<std::string> problems;
  EXPECT_EQ(s->Fsck(&problems), Errc::corrupt_segment);
  const std::string all = Join(problems);
  EXPECT_NE(all.find("pin count"), std::string::npos) << all;
  EXPECT_NE(all.find("probe distance"), std::string::npos) << all;
  EXPECT_NE(all.find("journal"), std::string::npos) << all;
  // A writer still works: its own commit replaces the bogus journal record.
  EXPECT_FALSE(s->ClaimLease(K("fresh"), {"holder", 1s}));
  EXPECT_FALSE(Token(s, K("fresh"), "holder").Check());
}

TEST_F(HostileFile, ForeignOwnerRefusedUnlessTrusted) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the file to another user";
  constexpr std::uint32_t kNobody = 65534;
  ASSERT_EQ(chown(good_.c_str(), kNobody, kNobody), 0);
  for (bool create : {true, false}) {
    std::error_code ec;
    std::string detail;
    ShmStoreOptions o = TestOptions(good_, false, 4);
    auto s = create ? ShmStore::OpenOrCreate(o, ec, &detail) : ShmStore::Open(o, ec, &detail);
    EXPECT_FALSE(s);
    EXPECT_EQ(ec, Errc::foreign_owner);
    EXPECT_NE(detail.find(good_), std::string::npos) << detail;
    EXPECT_NE(detail.find("65534"), std::string::npos) << detail;
  }
  EXPECT_TRUE(ReadFile(good_) == good_bytes_);
  for (int trust = 0; trust < 2; ++trust) {
    ShmStoreOptions o = TestOptions(good_, false, 4);
    if (trust == 0) o.trusted_uids = {kNobody};
    if (trust == 1) o.trust_any_owner = true;
    auto s = MustOpen(o);
    ASSERT_TRUE(s);
    EXPECT_FALSE(Token(s, K("held"), "holder").Check());
    ShmStats stats;
    ASSERT_FALSE(s->GetStats(&stats));
    EXPECT_EQ(stats.owner_uid, kNobody);
  }
}

TEST(HostileShm, ForeignOwnerOfASharedMemoryName) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the segment to another user";
  ScopedSegmentName seg;
  {
    auto s = MustOpen(TestOptions(seg.name()));
    ASSERT_TRUE(s);
  }
  const std::string path = ShmStore::PathOf(seg.name());
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
  std::error_code ec;
  std::string detail;
  EXPECT_FALSE(ShmStore::OpenOrCreate(TestOptions(seg.name()), ec, &detail));
  EXPECT_EQ(ec, Errc::foreign_owner);
  EXPECT_NE(detail.find(path), std::string::npos) << detail;
  ShmStoreOptions o = TestOptions(seg.name());
  o.trusted_uids = {65534};
  EXPECT_TRUE(MustOpen(o));
}

// The byte offset of the first occupied slot whose state has every bit of `bits`.
std::size_t SlotWith(const std::string& b, std::uint32_t bits) {
  std::uint64_t slots;
  std::memcpy(&slots, b.data() + offsetof(internal::SegmentHeader, slot_count), sizeof slots);
  for (std::uint64_t i = 0; i < slots; ++i) {
    const std::size_t at = internal::kHeaderBytes + i * sizeof(internal::SlotHot);
    std::uint32_t state;
    std::memcpy(&state, b.data() + at + offsetof(internal::SlotHot, state), sizeof state);
    if ((state & bits) == bits) return at;
  }
  return 0;
}

// With the lock free and no dead writer to replay, an odd seqlock is damage:
// every writer refuses with corrupt_segment and changes nothing; readers
// that could repair through the lock say corrupt, a read-only one timeout;
// a holder's check says not held rather than trust what it cannot read.
TEST_F(HostileFile, TornSlotIsCorruptForWritersAndNeverWritten) {
  std::string b = good_bytes_;
  const std::size_t held = SlotWith(b, internal::kOccupied | internal::kHeld);
  ASSERT_NE(held, 0u);
  Poke<std::uint32_t>(&b, held + offsetof(internal::SlotHot, seq), 7);
  const std::string path = dir_.File("torn");
  WriteFile(path, b);
  auto s = MustOpen(TestOptions(path, false, 4));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ClaimOrExtendLease(K("held"), {"holder", 900s}), Errc::corrupt_segment);
  EXPECT_EQ(s->ExtendLease(K("held"), {"holder", 900s}), Errc::corrupt_segment);
  EXPECT_EQ(s->ClaimLease(K("held"), {"other", 10s}), Errc::corrupt_segment);
  EXPECT_EQ(s->ClaimOrExtendLease(K("held"), {"other", 10s}), Errc::corrupt_segment);
  EXPECT_EQ(s->RevokeLease(K("held"), "holder"), Errc::corrupt_segment);
  EXPECT_EQ(s->PinLease(K("held"), "p"), Errc::corrupt_segment);
  EXPECT_EQ(s->UnpinLease(K("held"), "p"), Errc::corrupt_segment);
  std::vector<LeaseEntry> entries;
  EXPECT_EQ(s->Snapshot(&entries), Errc::corrupt_segment);
  PinMap pins;
  EXPECT_EQ(s->Pinned(&pins), Errc::corrupt_segment);
  const Key held_key = K("held");
  LeaseMap leases;
  EXPECT_EQ(s->Leases(&leases), Errc::corrupt_segment);
  EXPECT_EQ(s->LeaseGroup(held_key.ns, held_key.model_uuid, &leases), Errc::corrupt_segment);
  std::map<std::string, std::string> holders{{"stale", "x"}};
  EXPECT_EQ(s->LeaseHolders(held_key.ns, held_key.model_uuid, &holders), Errc::corrupt_segment);
  EXPECT_TRUE(holders.empty());
  EXPECT_EQ(Token(s, K("held"), "holder").Check(), Errc::not_held);
  ShmStoreOptions ro = TestOptions(path, false, 4);
  ro.read_only = true;
  auto reader = MustOpen(ro);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->Snapshot(&entries), Errc::timeout);  // It cannot tell stopped from dead.
  EXPECT_EQ(reader->Leases(&leases), Errc::timeout);
  EXPECT_EQ(reader->LeaseHolders(held_key.ns, held_key.model_uuid, &holders), Errc::timeout);
  std::vector<std::string> problems;
  EXPECT_EQ(s->Fsck(&problems), Errc::corrupt_segment);
  s.reset();
  reader.reset();
  // Nothing was written into the torn slot.
  const std::string after = ReadFile(path);
  EXPECT_EQ(after.substr(held, sizeof(internal::SlotHot)),
            b.substr(held, sizeof(internal::SlotHot)));
}

// Restores an environment variable when the test ends, pass or fail.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A process that cannot read this boot's id (a chroot without /proc, a
// sandbox) must not take a segment for stale and wipe its leases.
TEST_F(HostileFile, UnknownBootIdNeverClearsHolders) {
  std::string b = good_bytes_;
  char old_boot[sizeof(internal::SegmentHeader::boot_id)] = "00000000-dead-beef-0000-000000000000";
  std::memcpy(b.data() + offsetof(internal::SegmentHeader, boot_id), old_boot, sizeof old_boot);
  WriteFile(good_, b);
  const std::string garbage = dir_.File("boot_id");
  WriteFile(garbage, "not a uuid\n");
  for (const std::string& id_path : {dir_.File("no-such-file"), garbage}) {
    SCOPED_TRACE(id_path);
    ScopedEnv unreadable("SHMLEASE_BOOT_ID_PATH", id_path);
    auto s = MustOpen(TestOptions(good_, false, 4));
    ASSERT_TRUE(s);
    EXPECT_FALSE(Token(s, K("held"), "holder").Check()) << "an unknown boot id cleared a holder";
    ShmStoreOptions ro = TestOptions(good_, false, 4);
    ro.read_only = true;
    EXPECT_TRUE(MustOpen(ro)) << "an unknown boot id made the segment look stale";
  }
  // Nothing recorded over the known id: the next process that can read its
  // boot id still sees the earlier boot and resets it.
  EXPECT_EQ(ReadFile(good_).substr(offsetof(internal::SegmentHeader, boot_id), 36),
            std::string(old_boot, 36));
}

TEST_F(HostileFile, EarlierBootClearsHoldersKeepsPins) {
  std::string b = good_bytes_;
  char old_boot[sizeof(internal::SegmentHeader::boot_id)] = "00000000-dead-beef-0000-000000000000";
  std::memcpy(b.data() + offsetof(internal::SegmentHeader, boot_id), old_boot, sizeof old_boot);
  WriteFile(good_, b);
  {
    // A reader cannot reset it, and must not read old expiries on this boot's clock.
    ShmStoreOptions ro = TestOptions(good_, false, 4);
    ro.read_only = true;
    EXPECT_TRUE(testing::OpenRefused(ro, Errc::incompatible_segment, "rebooted"));
  }
  auto s = MustOpen(TestOptions(good_, false, 4));
  ASSERT_TRUE(s);
  testing::ExpectResetForThisBoot(*s, PinMap{{K("pinned"), {"pinner"}}});
  // Reset once: a lease claimed now survives the next open.
  ASSERT_FALSE(s->ClaimLease(K("held"), {"new-holder", 60s}));
  auto again = MustOpen(TestOptions(good_, false, 4));
  ASSERT_TRUE(again);
  EXPECT_FALSE(Token(again, K("held"), "new-holder").Check());
}

}  // namespace
}  // namespace shmlease
