// How a segment is found, created and given up, against what an attacker
// or an unlucky operator does with real processes: links planted by another
// user, files that are not segments, a destroy or a replacement under a
// holder, a full file system, names with control characters; and fencing
// epochs that only grow across destroy, re-creation and reboots.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_tool.h"
#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::MustOpen;
using testing::Pipe;
using testing::ReadFile;
using testing::RunTool;
using testing::ScopedSegmentName;
using testing::TempDir;
using testing::ToolProcess;
using testing::ToolResult;
using testing::WriteFile;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}
bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs `act` in a process of its own as the unprivileged user nobody: what
// another user of the machine can do. Its exit code is act's.
int AsNobody(const std::function<int()>& act) {
  ChildProcess child([&act] {
    if (setgroups(0, nullptr) != 0 || setgid(kNogroup) != 0 || setuid(kNobody) != 0) return 90;
    return act();
  });
  std::optional<int> status = child.Wait();
  return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

// The current fencing epoch of a segment, as `shmlease stat --json` reports it.
std::uint64_t EpochOf(const std::string& segment) {
  ToolResult r = RunTool({"--segment", segment, "stat", "--json"});
  EXPECT_EQ(r.code, 0) << r;
  if (r.code != 0) return 0;
  return nlohmann::json::parse(r.out)["epoch"].get<std::uint64_t>();
}

std::uint64_t WallClockMicros() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1'000;
}

class Root : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root, to act as another user too";
    ASSERT_TRUE(dir_.ok());
    // Others may pass through (to the shared directory inside), not look in.
    ASSERT_EQ(chmod(dir_.path().c_str(), 0711), 0);
  }
  TempDir dir_;
};

// ------------------------------------------------------------ symbolic links

// Another user plants a link where root keeps its lease file, aimed at a
// file of root's: root's claim must refuse the link, and the file it points
// at must keep its bytes (the old code truncated it and wrote a table in).
TEST_F(Root, ALinkPlantedAtTheSegmentPathIsRefusedAndItsTargetKept) {
  const std::string shared = dir_.File("shared");  // Like /tmp: anyone may add names.
  ASSERT_EQ(mkdir(shared.c_str(), 0700), 0);
  ASSERT_EQ(chmod(shared.c_str(), 01777), 0);
  // Its first bytes are zero, as in many binary files: the old code took
  // such a file for a creation cut short and made it a table.
  const std::string precious = dir_.File("precious");
  const std::string bytes = std::string(8, '\0') + std::string(100'000, 'd');
  WriteFile(precious, bytes);
  const std::string segment = shared + "/leases";
  ASSERT_EQ(AsNobody([&] { return symlink(precious.c_str(), segment.c_str()) == 0 ? 0 : 1; }), 0);

  for (const char* command : {"claim", "extend", "pin"}) {
    SCOPED_TRACE(command);
    std::vector<std::string> args = {"--segment", segment, command, "db"};
    if (std::string(command) == "pin") {
      args.insert(args.end(), {"--entity", "root"});
    } else {
      args.insert(args.end(), {"--holder", "root", "--for", "1h"});
    }
    ToolResult r = RunTool(args);
    EXPECT_EQ(r.code, 3) << r;
    EXPECT_TRUE(Contains(r.err, segment + " is a symbolic link")) << r;
  }
  ShmStoreOptions options;
  options.name = segment;
  EXPECT_TRUE(testing::OpenRefused(options, Errc::unsafe_segment_path, "is a symbolic link"));
  std::error_code ec;
  EXPECT_FALSE(ShmStore::OpenOrCreate(options, ec));
  EXPECT_EQ(ec, Errc::unsafe_segment_path);
  EXPECT_TRUE(ReadFile(precious) == bytes) << "the link's target was overwritten";
}

// A link in a directory on the way is refused as well, and named.
TEST_F(Root, ALinkedDirectoryOnThePathIsRefused) {
  const std::string shared = dir_.File("shared");
  ASSERT_EQ(mkdir(shared.c_str(), 0700), 0);
  ASSERT_EQ(chmod(shared.c_str(), 01777), 0);
  const std::string roots = dir_.File("roots");
  ASSERT_EQ(mkdir(roots.c_str(), 0700), 0);
  const std::string via = shared + "/state";
  ASSERT_EQ(AsNobody([&] { return symlink(roots.c_str(), via.c_str()) == 0 ? 0 : 1; }), 0);
  ToolResult r =
      RunTool({"--segment", via + "/leases", "claim", "db", "--holder", "root", "--for", "1h"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_TRUE(Contains(r.err, via + " is a symbolic link")) << r;
  EXPECT_FALSE(Exists(roots + "/leases")) << "the segment was made through the link";
}

// Where the kernel has no openat2 (before 5.6, or a sandbox refusing it),
// the directory is walked one component at a time: a child whose seccomp
// filter answers openat2 with ENOSYS opens, uses, checks and destroys a
// segment that way, and is refused a path through a link, which it names.
TEST(SegmentLinks, WithoutOpenat2TheComponentWalkDoesTheSame) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_EQ(mkdir(dir.File("sub").c_str(), 0700), 0);
  ASSERT_EQ(symlink("sub", dir.File("link").c_str()), 0);
  ChildProcess child([&dir] {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
      return 77;
    }
    open_how how{};
    how.flags = O_PATH;
    if (syscall(__NR_openat2, AT_FDCWD, "/", &how, sizeof how) != -1 || errno != ENOSYS) return 2;
    ShmStoreOptions options;
    options.name = dir.File("sub") + "/leases";
    std::error_code ec;
    auto store = ShmStore::OpenOrCreate(options, ec);
    if (!store) return 3;
    if (store->ClaimLease({"ns", "model", "db"}, {"h", 1h}) || store->CheckStillNamed()) return 4;
    store.reset();
    options.name = dir.File("link") + "/leases";
    std::string detail;
    if (ShmStore::OpenOrCreate(options, ec, &detail) || ec != Errc::unsafe_segment_path) return 5;
    if (detail.find(dir.File("link") + " is a symbolic link") == std::string::npos) return 6;
    return ShmStore::Destroy(dir.File("sub") + "/leases") ? 7 : 0;
  });
  std::optional<int> status = child.Wait();
  ASSERT_TRUE(status && WIFEXITED(*status)) << testing::DescribeStatus(status);
  if (WEXITSTATUS(*status) == 77) GTEST_SKIP() << "no seccomp filter to be had here";
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_FALSE(Exists(dir.File("sub") + "/leases"));
}

// Two names of one file would let one name be swapped for another file
// under its users: a segment with another hard link is refused.
TEST_F(Root, ASegmentWithAnotherHardLinkIsRefused) {
  const std::string segment = dir_.File("leases");
  ASSERT_EQ(RunTool({"--segment", segment, "claim", "db", "--holder", "h", "--for", "1h"}).code, 0);
  ASSERT_EQ(link(segment.c_str(), dir_.File("second-name").c_str()), 0);
  ToolResult r = RunTool({"--segment", segment, "claim", "other", "--holder", "h", "--for", "1h"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_TRUE(Contains(r.err, "2 hard links")) << r;
  ShmStoreOptions options;
  options.name = segment;
  EXPECT_TRUE(testing::OpenRefused(options, Errc::unsafe_segment_path, "hard links"));
}

// A link under /dev/shm is said to be one (not "too many levels of symbolic
// links", which is what O_NOFOLLOW's ELOOP reads as), and is not followed.
TEST(SegmentLinks, ALinkInDevShmIsReportedAsALink) {
  ScopedSegmentName seg;
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string target = dir.File("target");
  WriteFile(target, "not a segment");
  const std::string path = ShmStore::PathOf(seg.name());
  ASSERT_EQ(symlink(target.c_str(), path.c_str()), 0);
  ShmStoreOptions options;
  options.name = seg.name();
  std::error_code ec;
  std::string detail;
  EXPECT_FALSE(ShmStore::OpenOrCreate(options, ec, &detail));
  EXPECT_EQ(ec, Errc::unsafe_segment_path);
  EXPECT_TRUE(Contains(detail, path + " is a symbolic link")) << detail;
  ToolResult r = RunTool({"--segment", seg.name(), "claim", "db", "--holder", "h", "--for", "1h"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_TRUE(Contains(r.err, "is a symbolic link")) << r;
  EXPECT_FALSE(Contains(r.err, "Too many levels")) << r;
  EXPECT_EQ(ReadFile(target), "not a segment");
  // Destroying the name removes the link, never what it points at.
  EXPECT_FALSE(ShmStore::Destroy(seg.name()));
  EXPECT_FALSE(Exists(path));
  EXPECT_EQ(ReadFile(target), "not a segment");
}

// stat and fsck warn when others can replace the segment's file: a
// directory they may write that has no sticky bit, or one that belongs to
// another user.
TEST(SegmentDirectory, StatAndFsckWarnOfADirectoryOthersCanWrite) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string segment = dir.File("leases");
  ASSERT_EQ(RunTool({"--segment", segment, "create"}).code, 0);
  const bool root = geteuid() == 0;
  for (mode_t mode : {mode_t{0777}, mode_t{0770}, mode_t{01777}, mode_t{0755}}) {
    for (bool given_away : {false, true}) {
      if (given_away && !root) continue;  // Only root can give the directory to nobody.
      SCOPED_TRACE(std::to_string(mode) + (given_away ? ", owned by nobody" : ""));
      ASSERT_EQ(chown(dir.path().c_str(), given_away ? kNobody : geteuid(), -1), 0);
      ASSERT_EQ(chmod(dir.path().c_str(), mode), 0);
      const bool open = given_away || ((mode & 022) != 0 && (mode & 01000) == 0);
      for (const char* command : {"stat", "fsck"}) {
        ToolResult r = RunTool({"--segment", segment, command});
        EXPECT_EQ(r.code, 0) << r;
        EXPECT_EQ(Contains(r.err, "warning: other users can replace files in " + dir.path()), open)
            << command << ": " << r;
      }
      ToolResult r = RunTool({"--segment", segment, "stat", "--json"});
      ASSERT_EQ(r.code, 0) << r;
      EXPECT_EQ(nlohmann::json::parse(r.out)["directory_open_to_others"].get<bool>(), open) << r;
    }
  }
  ASSERT_EQ(chown(dir.path().c_str(), geteuid(), -1), 0);
}

// ------------------------------------------------------------ files that are not segments

// A file whose first bytes are zero but that holds something is no
// segment's unfinished creation: every command refuses it, and its bytes stay.
TEST(NotASegment, AFileWithZeroFirstBytesIsRefusedByEveryCommand) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("data");
  const std::string bytes =
      std::string(8, '\0') + "someone's records\n" + std::string(100'000, 'r');
  WriteFile(path, bytes);
  const std::vector<std::vector<std::string>> commands = {
      {"claim", "db", "--holder", "h", "--for", "1h"},
      {"extend", "db", "--holder", "h", "--for", "1h"},
      {"pin", "db", "--entity", "e"},
      {"run", "db", "--for", "1h", "--", "true"},
      {"create"},
  };
  for (const auto& command : commands) {
    SCOPED_TRACE(command[0]);
    std::vector<std::string> args = {"--segment", path};
    args.insert(args.end(), command.begin(), command.end());
    ToolResult r = RunTool(args);
    EXPECT_EQ(r.code, 3) << r;
    EXPECT_TRUE(Contains(r.err, "is not a shmlease segment")) << r;
    EXPECT_TRUE(ReadFile(path) == bytes) << "the file was overwritten";
  }
}

// ------------------------------------------------------------ epochs

// Destroying and re-creating a segment must not hand out the epochs a
// holder of the old one may still present as a fencing token.
TEST(Epochs, GrowAcrossDestroyAndRecreation) {
  ScopedSegmentName seg;
  const std::uint64_t before = WallClockMicros();
  ASSERT_EQ(RunTool({"--segment", seg.name(), "claim", "db", "--holder", "h", "--for", "1h"}).code,
            0);
  const std::uint64_t first = EpochOf(seg.name());
  EXPECT_GT(first, before) << "epochs start from the wall clock in microseconds";
  EXPECT_LT(first, std::uint64_t{1} << 53);
  ASSERT_EQ(RunTool({"--segment", seg.name(), "destroy", "--force"}).code,
            0);  // The lease is held.
  ASSERT_EQ(RunTool({"--segment", seg.name(), "claim", "db", "--holder", "h", "--for", "1h"}).code,
            0);
  EXPECT_GT(EpochOf(seg.name()), first);
}

// After a reboot the reset raises the epochs to the wall clock: a file
// restored from an old copy (its last epoch far back) does not repeat them.
TEST(Epochs, TheResetAfterARebootRaisesThemToTheWallClock) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("leases");
  ASSERT_EQ(RunTool({"--segment", path, "claim", "db", "--holder", "h", "--for", "1h"}).code, 0);
  {
    const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const std::uint64_t old_epoch = 5;
    ASSERT_EQ(
        pwrite(fd, &old_epoch, sizeof old_epoch, offsetof(internal::SegmentHeader, last_epoch)),
        static_cast<ssize_t>(sizeof old_epoch));
    close(fd);
  }
  testing::PretendEarlierBoot(path);
  const std::uint64_t before = WallClockMicros();
  ASSERT_EQ(RunTool({"--segment", path, "claim", "db", "--holder", "h", "--for", "1h"}).code, 0);
  EXPECT_GT(EpochOf(path), before);
}

// Epochs stay below 2^53, which JSON readers hold exactly: the claim that
// would reach it is refused with its own error; holdings go on.
TEST(Epochs, AClaimThatWouldReach2To53IsRefused) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("leases");
  ASSERT_EQ(RunTool({"--segment", path, "create"}).code, 0);
  {
    const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const std::uint64_t near = (std::uint64_t{1} << 53) - 2;
    ASSERT_EQ(pwrite(fd, &near, sizeof near, offsetof(internal::SegmentHeader, last_epoch)),
              static_cast<ssize_t>(sizeof near));
    close(fd);
  }
  ASSERT_EQ(RunTool({"--segment", path, "claim", "a", "--holder", "h", "--for", "1h"}).code, 0);
  EXPECT_EQ(EpochOf(path), (std::uint64_t{1} << 53) - 1);
  ToolResult r = RunTool({"--segment", path, "claim", "b", "--holder", "h", "--for", "1h"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_TRUE(Contains(r.err, "2^53")) << r;
  EXPECT_EQ(RunTool({"--segment", path, "extend", "a", "--holder", "h", "--for", "2h"}).code, 0);
  EXPECT_EQ(EpochOf(path), (std::uint64_t{1} << 53) - 1);
  ShmStoreOptions options;
  options.name = path;
  auto store = MustOpen(options);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->ClaimLease({"ns", "model", "c"}, {"h", 1h}), Errc::epochs_exhausted);
}

// ------------------------------------------------------------ destroyed or replaced under a holder

// What a holder's extensions said, and CheckStillNamed after them.
struct ExtensionResults {
  int by_name = 0;     // ShmStore::ExtendLease.
  int by_holding = 0;  // Holding::Claim, through the Claimer's cached path.
  int named = 0;       // ShmStore::CheckStillNamed.
};

// A holder in another process; the test tells it when to extend, and it
// reports what its extensions and CheckStillNamed said.
class Holder {
 public:
  explicit Holder(const std::string& segment)
      : child_([this, segment] {
          go_.CloseWrite();
          report_.CloseRead();
          ShmStoreOptions options;
          options.name = segment;
          std::error_code ec;
          auto store = ShmStore::OpenOrCreate(options, ec);
          if (!store) return 2;
          const Key key{"ns", "model", "db"};
          if (store->ClaimLease(key, {"holder", 1h})) return 3;
          Manager manager(store);
          auto claimer = manager.Claimer("ns", "model", ec);
          if (!claimer) return 3;
          Holding holding = claimer->Holding("other", "holder");
          if (holding.Claim(1h)) return 3;
          char c = 1;
          if (!report_.Write(&c, 1) || !go_.Read(&c, 1, 60s)) return 4;
          ExtensionResults results;
          results.by_name = store->ExtendLease(key, {"holder", 2h}).value();
          results.by_holding = holding.Claim(2h).value();
          results.named = store->CheckStillNamed().value();
          return report_.WriteValue(results) ? 0 : 5;
        }) {
    go_.CloseRead();
    report_.CloseWrite();
  }
  // Waits for the claim.
  bool Claimed() {
    char c;
    return report_.Read(&c, 1);
  }
  // Lets it extend; what its extensions and CheckStillNamed returned.
  bool Extend(ExtensionResults* results) {
    char c = 1;
    return go_.Write(&c, 1) && report_.ReadValue(results) && testing::ExitedZero(child_.Wait());
  }

 private:
  Pipe go_, report_;
  ChildProcess child_;  // Last: forks once the pipes exist.
};

TEST(Replaced, ADestroyedSegmentRefusesWritesThroughOldMappings) {
  for (bool file : {false, true}) {
    SCOPED_TRACE(file ? "file" : "shm");
    ScopedSegmentName seg;
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string name = file ? dir.File("leases") : seg.name();
    Holder holder(name);
    ASSERT_TRUE(holder.Claimed());
    ASSERT_EQ(RunTool({"--segment", name, "destroy", "--force"}).code, 0);  // Held: forced.
    // Someone else makes a new segment there and takes the lease.
    ASSERT_EQ(RunTool({"--segment", name, "--namespace", "ns", "--model", "model", "claim", "db",
                       "--holder", "newcomer", "--for", "1h"})
                  .code,
              0);
    ExtensionResults results;
    ASSERT_TRUE(holder.Extend(&results));
    EXPECT_EQ(results.by_name, static_cast<int>(Errc::segment_replaced));
    EXPECT_EQ(results.by_holding, static_cast<int>(Errc::segment_replaced));
    EXPECT_EQ(results.named, static_cast<int>(Errc::segment_replaced));
  }
}

TEST(Replaced, AFileRemovedOrReplacedWithoutDestroyIsNoticed) {
  for (bool replace : {false, true}) {
    SCOPED_TRACE(replace ? "replaced" : "removed");
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string name = dir.File("leases");
    Holder holder(name);
    ASSERT_TRUE(holder.Claimed());
    if (replace) {
      const std::string other = dir.File("other");
      ASSERT_EQ(RunTool({"--segment", other, "create"}).code, 0);
      ASSERT_EQ(rename(other.c_str(), name.c_str()), 0);
    } else {
      ASSERT_EQ(unlink(name.c_str()), 0);
    }
    ExtensionResults results;
    ASSERT_TRUE(holder.Extend(&results));
    EXPECT_EQ(results.named, static_cast<int>(Errc::segment_replaced));
  }
}

// No false alarm: a segment left alone is still named, whether it is a
// shared-memory object, a file by its absolute path, or by a relative one
// (looked up from the current directory, a link there refused as well).
TEST(Replaced, ASegmentLeftAloneIsStillNamed) {
  ScopedSegmentName seg;
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  for (const std::string& name : {seg.name(), dir.File("leases")}) {
    ShmStoreOptions options;
    options.name = name;
    auto store = MustOpen(options);
    ASSERT_TRUE(store);
    std::string detail;
    EXPECT_FALSE(store->CheckStillNamed(&detail)) << detail;
  }
  ChildProcess relative([&dir] {
    if (chdir(dir.path().c_str()) != 0 || mkdir("sub", 0700) != 0 || symlink("sub", "link") != 0) {
      return 2;
    }
    ShmStoreOptions options;
    options.name = "sub/leases";
    std::error_code ec;
    auto store = ShmStore::OpenOrCreate(options, ec);
    if (!store) return 3;
    if (store->CheckStillNamed()) return 4;
    if (store->ClaimLease({"ns", "model", "db"}, {"h", 1h})) return 5;
    options.name = "link/leases";
    std::string detail;
    if (ShmStore::OpenOrCreate(options, ec, &detail) || ec != Errc::unsafe_segment_path) return 6;
    return detail.find("link is a symbolic link") != std::string::npos ? 0 : 7;
  });
  EXPECT_TRUE(testing::ExitedZero(relative.Wait()));
}

// `shmlease run` stops its command at the extension after its segment was
// replaced: from then on others see another table, where the lease is free.
TEST(Replaced, RunStopsItsCommandWhenTheSegmentIsReplaced) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string name = dir.File("leases");
  ToolProcess run({"--segment", name, "run", "db", "--for", "3s", "--kill-after", "1s", "--", "sh",
                   "-c", "echo started; exec sleep 600"});
  ASSERT_EQ(run.ReadLine(), std::optional<std::string>("started"));
  const std::string other = dir.File("other");
  ASSERT_EQ(RunTool({"--segment", other, "create"}).code, 0);
  ASSERT_EQ(rename(other.c_str(), name.c_str()), 0);
  EXPECT_EQ(run.ExitCode(), 1) << run.err();
  EXPECT_TRUE(Contains(run.err(), "destroyed or replaced")) << run.err();
}

// ------------------------------------------------------------ no space

// In a mount namespace of its own, a child mounts a tmpfs far too small
// for the segment it then creates (in a directory, and as /dev/shm): the
// creation fails with no_space and leaves no file behind.
TEST(NoSpace, AFailedCreationLeavesNothingBehind) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string mnt = dir.File("small");
  ASSERT_EQ(mkdir(mnt.c_str(), 0700), 0);
  ChildProcess child([&mnt] {
    if (unshare(CLONE_NEWNS) != 0) return 77;
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
    for (const char* where : {mnt.c_str(), "/dev/shm"}) {
      if (mount("tmpfs", where, "tmpfs", 0, "size=64k") != 0) return 77;
    }
    for (const std::string& name : {mnt + "/leases", std::string("shmlease-no-space")}) {
      ShmStoreOptions options;
      options.name = name;
      options.capacity = 100'000;  // About 80 MB.
      std::error_code ec;
      if (ShmStore::OpenOrCreate(options, ec)) return 10;
      if (ec != Errc::no_space) return 11;
      const std::string in = name.starts_with('/') ? mnt : "/dev/shm";
      if (!std::filesystem::is_empty(in)) return 12;  // The old code left an empty file.
    }
    return 0;
  });
  std::optional<int> status = child.Wait();
  ASSERT_TRUE(status && WIFEXITED(*status)) << testing::DescribeStatus(status);
  if (WEXITSTATUS(*status) == 77) GTEST_SKIP() << "no mount namespace to be had here";
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

// ------------------------------------------------------------ names

// A control character in a segment name would forge lines in every report
// quoting it: refused, with a clear error, and nothing is created.
TEST(SegmentNames, ControlCharactersAreRefused) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string shm_name = "shmlease-test-" + std::to_string(getpid()) + "-bad\nname";
  for (const std::string& name : {shm_name, std::string("/a\tb"), dir.File("x\ny"),
                                  dir.File("esc\x1b[2J"), std::string("del\x7f")}) {
    SCOPED_TRACE(name);
    ShmStoreOptions options;
    options.name = name;
    std::error_code ec;
    std::string detail;
    EXPECT_FALSE(ShmStore::OpenOrCreate(options, ec, &detail));
    EXPECT_EQ(ec, Errc::invalid_segment_name);
    EXPECT_TRUE(Contains(detail, "control character")) << detail;
    EXPECT_FALSE(Exists(ShmStore::PathOf(name)));
    EXPECT_EQ(ShmStore::Destroy(name), Errc::invalid_segment_name);
  }
  ToolResult r = RunTool({"--segment", shm_name, "claim", "db", "--holder", "h", "--for", "1h"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "control character")) << r;
  EXPECT_TRUE(Contains(r.err, "bad\\nname")) << r;
  EXPECT_FALSE(Exists(ShmStore::PathOf(shm_name)));
}

}  // namespace
}  // namespace shmlease
