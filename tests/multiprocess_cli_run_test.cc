// `shmlease run` with real processes: the command runs only while its lease
// is held, never beside another holder's, and never outlives its guard.
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli_tool.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::kToolPath;
using testing::RunTool;
using testing::ScopedSegmentName;
using testing::ScopedTempDir;
using testing::ToolProcess;
using testing::ToolResult;

// Suites are named cli_* so that `ctest -R cli` selects the command's tests.
bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The epoch of the one lease in `dump --json` output; empty if none.
std::string EpochInDump(const std::string& json) {
  const std::string field = "\"epoch\": ";
  const std::size_t at = json.find(field);
  if (at == std::string::npos) return "";
  const std::size_t start = at + field.size();
  return json.substr(start, json.find_first_not_of("0123456789", start) - start);
}

// A command that says "ready" once it runs, then loops until stopped; on
// SIGTERM it runs `on_term` (shell code).
std::string LoopingCommand(const std::string& on_term) {
  return "trap '" + on_term + "' TERM; echo ready; while :; do sleep 0.02; done";
}

class cli_Run : public ::testing::Test {
 public:
  std::vector<std::string> Args(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--segment", segment_.name()});
    return args;
  }
  ToolResult Run(std::vector<std::string> args) { return RunTool(Args(std::move(args))); }

  // A process stops while it holds the table's lock, after run claimed a 6 s
  // lease (--kill-after 2s, and `options` given to run): the command gets
  // SIGTERM while the lease still holds (read without the lock), and run
  // exits 1 saying the lease could not be extended.
  void ExpectAStuckLockStopsTheCommandInTime(const std::vector<std::string>& options) {
    std::vector<std::string> args = {"run",   "db", "--holder",     "keeper",
                                     "--for", "6s", "--kill-after", "2s"};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"--", "sh", "-c", LoopingCommand("echo got-TERM; exit 0")});
    ToolProcess run(Args(args));
    ASSERT_EQ(run.ReadLine(), "ready") << run.err();
    auto stuck = testing::StartStuckWriter(segment_.name());
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(run.ReadLine(), "got-TERM") << run.err();
    EXPECT_EQ(Run({"check", "db", "--holder", "keeper"}).code, 0)
        << "the command was stopped only once the lease had run out";
    EXPECT_EQ(run.ExitCode(), 1) << run.err();
    EXPECT_TRUE(Contains(run.err(), "could not be extended (lease operation timed out)"))
        << run.err();
    kill(stuck->pid(), SIGCONT);
    EXPECT_TRUE(testing::ExitedZero(stuck->Wait()));
  }

 protected:
  ScopedSegmentName segment_;
};

TEST_F(cli_Run, ExitsWithTheCommandsStatusAndGivesTheLeaseUp) {
  ToolResult r = Run({"run", "db", "--holder", "h1", "--for", "1h", "--", "sh", "-c",
                      "test \"$SHMLEASE_HOLDER\" = h1 && test \"$SHMLEASE_LEASE\" = db && "
                      "test \"$SHMLEASE_EPOCH\" -gt 0 && exit 7"});
  EXPECT_EQ(r.code, 7) << r;
  // Revoked, not expired: the lease was for an hour.
  EXPECT_EQ(Run({"check", "db", "--holder", "h1"}).code, 1);

  r = Run({"run", "db", "--for", "1h", "--", "sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.code, 128 + SIGTERM) << r;

  r = Run({"run", "db", "--for", "1h", "--", "/nonexistent/command"});
  EXPECT_EQ(r.code, 127) << r;
  EXPECT_TRUE(Contains(r.err, "/nonexistent/command")) << r;
  EXPECT_EQ(Run({"claim", "db", "--holder", "other", "--for", "1h"}).code, 0)
      << "a command that could not start must not keep the lease";
}

// A check nested in the command finds run's lease in a namespace and model
// other than the defaults, from the environment run sets.
TEST_F(cli_Run, NestedCheckLooksInRunsNamespaceAndModel) {
  const std::string nested = std::string("'") + kToolPath +
                             "' check \"$SHMLEASE_LEASE\" --holder \"$SHMLEASE_HOLDER\" && "
                             "test \"$SHMLEASE_NAMESPACE\" = application-leadership && "
                             "test \"$SHMLEASE_MODEL\" = m1";
  ToolResult r = Run({"--namespace", "application-leadership", "--model", "m1", "run", "db",
                      "--holder", "h1", "--for", "1h", "--", "sh", "-c", nested});
  EXPECT_EQ(r.code, 0) << r;
  // Given explicitly, the options win over the environment.
  ToolProcess holder(Args({"--namespace", "application-leadership", "--model", "m1", "run", "db",
                           "--holder", "h2", "--for", "1h", "--", "sh", "-c",
                           std::string("echo ready; '") + kToolPath +
                               "' check db --holder h2 --namespace singular-controller "
                               "--model local; echo check:$?; exit 0"}));
  EXPECT_EQ(holder.ReadLine(), "ready") << holder.err();
  EXPECT_EQ(holder.ReadLine(), "check:1") << holder.err();
  EXPECT_EQ(holder.ExitCode(), 0) << holder.err();
}

// The default holder starts with run's pid, for a reader, and goes on with
// a hash of what tells this process apart from one of the same pid elsewhere
// (another PID namespace, another boot); it fits a name's 64 bytes.
// A file segment given as a relative path is exported to the command as an
// absolute one: a nested command elsewhere would otherwise open (or, for a
// claim, create) another table. A /dev/shm name stays the name it was.
TEST_F(cli_Run, ARelativeSegmentPathIsExportedAbsolute) {
  ScopedTempDir dir;
  ASSERT_EQ(mkdir((dir.path() + "/sub").c_str(), 0700), 0);
  const std::string nested = std::string("cd / && echo \"$SHMLEASE_SEGMENT\" && '") + kToolPath +
                             "' check \"$SHMLEASE_LEASE\" --holder \"$SHMLEASE_HOLDER\"";
  ToolResult r;
  {
    ToolProcess run({"--segment", "sub/leases.seg", "run", "db", "--holder", "h", "--for", "1h",
                     "--", "sh", "-c", nested},
                    {}, {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", dir.path()});
    r.code = run.ExitCode();
    r.out = run.out();
    r.err = run.err();
  }
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, dir.path() + "/sub/leases.seg\n") << r;
  EXPECT_FALSE(std::filesystem::exists("/sub/leases.seg"));

  ToolResult named = Run({"run", "db", "--for", "1h", "--", "sh", "-c", "echo $SHMLEASE_SEGMENT"});
  EXPECT_EQ(named.code, 0) << named;
  EXPECT_EQ(named.out, segment_.name() + "\n") << named;
}

TEST_F(cli_Run, DefaultHolderNamesRunsPidAndIncarnation) {
  ToolProcess run(Args({"run", "db", "--for", "1h", "--", "sh", "-c", "echo $SHMLEASE_HOLDER"}));
  std::optional<std::string> holder = run.ReadLine();
  ASSERT_TRUE(holder) << run.err();
  const std::string prefix = "run-" + std::to_string(run.pid()) + "-";
  ASSERT_TRUE(holder->starts_with(prefix)) << *holder;
  EXPECT_EQ(holder->size(), prefix.size() + 16) << *holder;
  EXPECT_EQ(holder->find_first_not_of("0123456789abcdef", prefix.size()), std::string::npos)
      << *holder;
  EXPECT_EQ(run.ExitCode(), 0) << run.err();
}

TEST_F(cli_Run, HelpShowsTheDefaultHolderAsAForm) {
  ToolResult r = RunTool({"run", "--help"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "run-<PID>-<HASH>")) << r;
  EXPECT_TRUE(Contains(r.out, "process group")) << r;
  EXPECT_TRUE(Contains(r.out, "127")) << r;
  EXPECT_TRUE(Contains(r.out, "126")) << r;
}

// Two containers sharing /dev/shm: each run is PID 1 of a PID namespace of
// its own. Named after the pid alone, both were "pid-1", and the second
// extended the first's holding and ran its command beside the first's
// under the same epoch. Their default holders differ, so the second is denied.
TEST_F(cli_Run, RunsThatAreBothPidOneInTheirNamespacesHoldDifferentNames) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a PID namespace";
  // --kill-child: a test that fails must not leave a namespace running.
  const std::vector<std::string> pid_one = {"/usr/bin/unshare", "--pid", "--fork", "--kill-child"};
  // A container may deny even root a new namespace (no CAP_SYS_ADMIN, seccomp).
  if (std::system("/usr/bin/unshare --pid --fork --kill-child true >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "unshare --pid cannot make a PID namespace here";
  }
  ToolProcess first(Args({"run", "db", "--for", "1h", "--", "sh", "-c",
                          "echo $SHMLEASE_HOLDER; echo ready; while :; do sleep 0.02; done"}),
                    {}, pid_one);
  std::optional<std::string> first_holder = first.ReadLine();
  ASSERT_TRUE(first_holder) << first.err();
  EXPECT_TRUE(first_holder->starts_with("run-1-")) << *first_holder << ": not PID 1";
  ASSERT_EQ(first.ReadLine(), "ready") << first.err();
  ToolProcess second(
      Args({"run", "db", "--for", "1h", "--", "sh", "-c", "echo second-ran $SHMLEASE_HOLDER"}), {},
      pid_one);
  EXPECT_EQ(second.ExitCode(), 1) << second.out() << second.err();
  EXPECT_EQ(second.out(), "") << "the second command ran beside the first";
  EXPECT_TRUE(Contains(second.err(), "claim denied")) << second.err();
  EXPECT_TRUE(Contains(second.err(), "'" + *first_holder + "'")) << second.err();
  ASSERT_EQ(Run({"revoke", "db", "--holder", *first_holder}).code, 0);
  EXPECT_EQ(first.ExitCode(), 1) << first.err();
  EXPECT_TRUE(Contains(first.err(), "it was revoked")) << first.err();
}

// A lease already held under the holder name run is given belongs to
// another process: run refuses it instead of extending it, never starts its
// command, and leaves the holding (and its epoch) as it was.
TEST_F(cli_Run, RefusesALeaseAlreadyHeldUnderItsHolderName) {
  ScopedTempDir dir;
  const std::string marker = dir.path() + "/ran";
  ASSERT_EQ(Run({"claim", "db", "--holder", "twice", "--for", "1h"}).code, 0);
  const std::string epoch = EpochInDump(Run({"dump", "--json"}).out);
  ASSERT_FALSE(epoch.empty());
  for (const bool wait : {false, true}) {
    std::vector<std::string> args = {"run", "db", "--holder", "twice", "--for", "1h"};
    if (wait) args.push_back("--wait");
    args.insert(args.end(), {"--", "touch", marker});
    ToolResult r = Run(args);
    EXPECT_EQ(r.code, 1) << r;
    EXPECT_TRUE(Contains(r.err, "already held by 'twice'")) << r;
    EXPECT_TRUE(Contains(r.err, "--holder")) << r;
    EXPECT_NE(access(marker.c_str(), F_OK), 0) << "the command ran under another's holding";
  }
  EXPECT_EQ(Run({"check", "db", "--holder", "twice"}).code, 0);
  EXPECT_EQ(EpochInDump(Run({"dump", "--json"}).out), epoch) << "the holding was changed";
}

TEST_F(cli_Run, DeniedWithoutWaitDoesNotStartTheCommand) {
  ScopedTempDir dir;
  const std::string marker = dir.path() + "/ran";
  ASSERT_EQ(Run({"claim", "db", "--holder", "other", "--for", "1h"}).code, 0);
  ToolResult r = Run({"run", "db", "--for", "1s", "--", "touch", marker});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "'other'")) << r;
  EXPECT_NE(access(marker.c_str(), F_OK), 0) << "the command ran without the lease";
}

TEST_F(cli_Run, WaitStartsTheCommandOnceTheLeaseIsFree) {
  ASSERT_EQ(Run({"claim", "db", "--holder", "other", "--for", "1h"}).code, 0);
  ToolProcess run(Args({"run", "db", "--holder", "next", "--for", "1s", "--wait", "--verbose", "--",
                        "sh", "-c", "echo started"}));
  ASSERT_TRUE(run.WaitForStderr("waiting for")) << run.err();
  EXPECT_EQ(Run({"check", "db", "--holder", "next"}).code, 1);
  ASSERT_EQ(Run({"revoke", "db", "--holder", "other"}).code, 0);
  EXPECT_EQ(run.ReadLine(), "started") << run.err();
  EXPECT_EQ(run.ExitCode(), 0) << run.err();
}

TEST_F(cli_Run, InterruptedWhileWaitingNeverStartsTheCommand) {
  ScopedTempDir dir;
  const std::string marker = dir.path() + "/ran";
  ASSERT_EQ(Run({"claim", "db", "--holder", "other", "--for", "1h"}).code, 0);
  ToolProcess run(Args({"run", "db", "--for", "1s", "--wait", "-v", "--", "touch", marker}));
  ASSERT_TRUE(run.WaitForStderr("waiting for")) << run.err();
  run.Signal(SIGINT);
  EXPECT_EQ(run.ExitCode(), 128 + SIGINT) << run.err();
  EXPECT_NE(access(marker.c_str(), F_OK), 0);
  EXPECT_EQ(Run({"check", "db", "--holder", "other"}).code, 0);
}

TEST_F(cli_Run, RunsOfOneLeaseNeverOverlap) {
  ScopedTempDir dir;
  const std::string log = dir.path() + "/log";
  // Each command appends (O_APPEND, via >>) a start and an end marker with a
  // pause between: overlapping commands would interleave them.
  // Every run revokes when its command ends, so a long lease costs no time;
  // it only keeps a slow (sanitizer, loaded) machine from letting one lapse.
  const std::string command =
      "echo \"start $$\" >> '" + log + "'; sleep 0.03; echo \"end $$\" >> '" + log + "'";
  constexpr int kRuns = 6;
  std::vector<std::unique_ptr<ToolProcess>> runs;
  for (int i = 0; i < kRuns; ++i) {
    runs.push_back(
        std::make_unique<ToolProcess>(Args({"run", "db", "--holder", "runner-" + std::to_string(i),
                                            "--for", "5s", "--wait", "--", "sh", "-c", command})));
  }
  for (auto& run : runs) EXPECT_EQ(run->ExitCode(), 0) << run->err();
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u * kRuns);
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < lines.size(); i += 2) {
    ASSERT_EQ(lines[i].rfind("start ", 0), 0u) << "line " << i << ": " << lines[i];
    const std::string pid = lines[i].substr(6);
    EXPECT_EQ(lines[i + 1], "end " + pid) << "commands overlapped at line " << i + 1;
    ++seen[pid];
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kRuns));
}

TEST_F(cli_Run, ExtendsTheLeaseForAsLongAsTheCommandRuns) {
  // The command outlives the lease's first term more than twice over,
  // then asks whether its holder still has it.
  const std::string check =
      std::string("'") + kToolPath + "' check \"$SHMLEASE_LEASE\" --holder \"$SHMLEASE_HOLDER\"";
  ToolResult r = Run({"run", "db", "--for", "1500ms", "--", "sh", "-c", "sleep 3.5 && " + check});
  EXPECT_EQ(r.code, 0) << r;
}

TEST_F(cli_Run, SignalsArePassedOnToTheCommand) {
  for (int sig : {SIGTERM, SIGINT}) {
    const std::string trap = "trap 'echo got-signal; exit 3' " +
                             std::string(sig == SIGTERM ? "TERM" : "INT") +
                             "; echo ready; while :; do sleep 0.02; done";
    ToolProcess run(
        Args({"run", "db", "--holder", "keeper", "--for", "1h", "--", "sh", "-c", trap}));
    ASSERT_EQ(run.ReadLine(), "ready") << run.err();
    run.Signal(sig);
    EXPECT_EQ(run.ReadLine(), "got-signal") << run.err();
    EXPECT_EQ(run.ExitCode(), 3) << run.err();
    // The command ended, so the lease was given up (an hour early).
    EXPECT_EQ(Run({"check", "db", "--holder", "keeper"}).code, 1);
  }
}

// A 1h lease is extended every 20 minutes: the command is stopped at once
// because run waits for its holding to end (ShmStore::WaitUntilLost), not
// because an extension found it gone.
TEST_F(cli_Run, RevokedFromOutsideStopsTheCommandAtOnce) {
  ToolProcess run(Args({"run", "db", "--holder", "keeper", "--for", "1h", "--", "sh", "-c",
                        LoopingCommand("echo got-TERM; exit 0")}));
  ASSERT_EQ(run.ReadLine(), "ready") << run.err();
  ToolResult revoke = Run({"revoke", "db", "--holder", "keeper"});
  ASSERT_EQ(revoke.code, 0) << revoke;
  EXPECT_EQ(run.ReadLine(), "got-TERM") << run.err();
  EXPECT_EQ(run.ExitCode(), 1) << run.err();
  EXPECT_TRUE(Contains(run.err(), "while 'sh' ran: it was revoked")) << run.err();
}

// Taken over while the command runs: the command is stopped, and the new
// holding, which is not the command's, is left alone.
TEST_F(cli_Run, TakenOverWhileRunningStopsTheCommandAndLeavesTheNewHolding) {
  ScopedTempDir dir;
  const std::string go = dir.path() + "/go";
  ASSERT_EQ(mkfifo(go.c_str(), 0600), 0);
  // --kill-after 1h: the command, blocked on the FIFO, must not be killed
  // before the test has claimed and written to it, however slow the machine.
  ToolProcess run(
      Args({"run", "db", "--holder", "keeper", "--for", "1h", "--kill-after", "1h", "--", "sh",
            "-c", LoopingCommand("echo got-TERM; read line < " + go + "; exit 0")}));
  ASSERT_EQ(run.ReadLine(), "ready") << run.err();
  ASSERT_EQ(Run({"revoke", "db", "--holder", "keeper"}).code, 0);
  ASSERT_EQ(run.ReadLine(), "got-TERM") << run.err();
  ASSERT_EQ(Run({"claim", "db", "--holder", "other", "--for", "1h"}).code, 0);
  std::ofstream(go) << "go\n";  // The command exits 0 once it has read this.
  EXPECT_EQ(run.ExitCode(), 1) << run.err();
  EXPECT_TRUE(Contains(run.err(), "lost")) << run.err();
  EXPECT_EQ(Run({"check", "db", "--holder", "other"}).code, 0)
      << "run gave up a holding that was not its command's";
}

// Runs the tool with `args` as an unused uid (so that no other process
// counts against its limit) under RLIMIT_NPROC `processes`. Returns the
// wait status (exit 120: the set-up failed).
int RunAsAnotherUserWithProcessLimit(const std::vector<std::string>& args, rlim_t processes) {
  const uid_t uid = 40000 + static_cast<uid_t>(getpid() % 20000);
  // LeakSanitizer checks at exit from a thread of its own: not to be had here.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string asan_before = asan != nullptr ? asan : "";
  setenv("ASAN_OPTIONS",
         (asan_before + (asan_before.empty() ? "" : ":") + "detect_leaks=0").c_str(), 1);
  const int status = testing::RunToolWith(args, [uid, processes] {
    const rlimit limit{processes, processes};
    if (setgid(uid) != 0 || setuid(uid) != 0 || setrlimit(RLIMIT_NPROC, &limit) != 0) _exit(120);
  });
  if (asan != nullptr) {
    setenv("ASAN_OPTIONS", asan_before.c_str(), 1);
  } else {
    unsetenv("ASAN_OPTIONS");
  }
  return status;
}

// run watches its lease, and extends it, from threads of its own; when none
// can be made (RLIMIT_NPROC, a pids cgroup), it runs on without the watch,
// finding a loss at its extensions, which it then makes in its own thread,
// as before. Here the limit leaves room for run, its guardian and its
// command, and not for a thread; the 900 ms lease is extended twice while
// the command runs, and a failed extension would end it early (exit 1).
TEST_F(cli_Run, RunsOnWithoutItsThreadsWhenNoneCanBeMade) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run the command as another user";
  ScopedTempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  const int status =
      RunAsAnotherUserWithProcessLimit({"--segment", dir.path() + "/segment", "run", "db", "--for",
                                        "900ms", "--", "sh", "-c", "exec sleep 0.7"},
                                       3);
  ASSERT_TRUE(WIFEXITED(status)) << testing::DescribeStatus(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// run --wait waits in a thread, so that signals can end the wait; without a
// thread nothing could, so it refuses to wait, saying why, and never starts
// the command.
TEST_F(cli_Run, WaitRefusesWhenNoThreadCanBeMade) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run the command as another user";
  ScopedTempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  const std::string segment = dir.path() + "/segment";
  int status = RunAsAnotherUserWithProcessLimit(
      {"--segment", segment, "claim", "db", "--holder", "first", "--for", "1h"}, 100);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::DescribeStatus(status);
  const std::string ran = dir.path() + "/ran";
  status =
      RunAsAnotherUserWithProcessLimit({"--segment", segment, "run", "db", "--holder", "second",
                                        "--for", "1h", "--wait", "--", "sh", "-c", "touch " + ran},
                                       1);
  ASSERT_TRUE(WIFEXITED(status)) << testing::DescribeStatus(status);
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_FALSE(std::filesystem::exists(ran)) << "the command ran";
}

// Started with SIGCHLD ignored (it survives exec), run would have the
// kernel reap its command and lose the status.
TEST_F(cli_Run, ExitStatusSurvivesAnIgnoredSigchld) {
  const int status =
      testing::RunToolWith(Args({"run", "db", "--for", "1h", "--", "sh", "-c", "exit 7"}),
                           [] { signal(SIGCHLD, SIG_IGN); });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 7);
}

// A process stopped while it holds the table's lock: run cannot extend, and
// nobody else can claim until the lock comes back. run stops its command in
// time for it to be gone when the lease runs out (SIGTERM --kill-after
// before), not --kill-after after it: when the command has its SIGTERM, the
// lease still holds, read without the lock. A 6 s lease is first extended at
// 2 s; each try waits 2 s for the lock; SIGTERM comes at about 4 s.
TEST_F(cli_Run, ExtensionsBlockedByAStuckLockStopTheCommandBeforeTheLeaseRunsOut) {
  ExpectAStuckLockStopsTheCommandInTime({});
}

// The same with a lock timeout far longer than the lease (--lock-timeout
// 1h): the extension waiting for the lock must not hold run up, or the
// command would be stopped only after the lease had run out, an hour late.
// run gives the extension up when the command must be told to stop.
TEST_F(cli_Run, AnExtensionWaitingLongForAStuckLockIsGivenUpInTime) {
  ExpectAStuckLockStopsTheCommandInTime({"--lock-timeout", "1h"});
}

// An extension asked for just before the moment the command must be told to
// stop (--kill-after a hair under two thirds of the lease) is not given up
// before it could even try the lock: with nobody else on the table, nothing
// is lost. A 300 ms lease is extended at about 100 ms and the command must be
// told 50-400 us later; whether the extension's thread has reached the lock
// by then is a race, so several margins are tried. Without the grace an
// extension gets (lease_keeper.cc, kExtensionGrace) this failed in two of
// three runs; it cannot pass by accident the other way.
TEST_F(cli_Run, AnExtensionStartedJustBeforeTheStopMomentIsNotGivenUpUntried) {
  for (const char* kill_after : {"199950us", "199900us", "199800us", "199600us"}) {
    ToolResult r = Run({"run", "db", "--holder", "keeper", "--for", "300ms", "--kill-after",
                        kill_after, "--", "sh", "-c", "sleep 0.2"});
    EXPECT_EQ(r.code, 0) << r;
  }
}

// Signals that come while run gives the lease up (the lock free) do not
// abort the revoke: the lease is given back, and run exits with the
// command's status. The command ignores SIGINT, and run gets one after
// another from the moment the command runs until run has ended.
TEST_F(cli_Run, SignalsDuringTheFinalRevokeDoNotLeaveTheLeaseHeld) {
  ToolProcess run(Args({"run", "db", "--holder", "keeper", "--for", "1h", "--", "sh", "-c",
                        "trap '' INT; echo ready; sleep 0.3; exit 6"}));
  ASSERT_EQ(run.ReadLine(), "ready") << run.err();
  for (;;) {  // Bounded by the command's 0.3 s.
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(run.pid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == run.pid()) {
      break;  // Ended (not reaped yet).
    }
    run.Signal(SIGINT);
    sched_yield();
  }
  EXPECT_EQ(run.ExitCode(), 6) << run.err();
  EXPECT_EQ(Run({"check", "db", "--holder", "keeper"}).code, 1) << "the lease was not given up";
}

// Under nohup (SIGHUP ignored when run starts), a hangup neither ends a
// waiting run nor reaches its command: run leaves ignored signals ignored.
TEST_F(cli_Run, SignalsIgnoredWhenRunStartsStayIgnored) {
  ASSERT_EQ(Run({"claim", "db", "--holder", "first", "--for", "1h"}).code, 0);
  struct sigaction ignore {
  }, before{};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ASSERT_EQ(sigaction(SIGHUP, &ignore, &before), 0);
  ToolProcess run(Args({"-v", "run", "db", "--holder", "second", "--for", "1h", "--wait", "--",
                        "sh", "-c", "echo started; exit 5"}));
  sigaction(SIGHUP, &before, nullptr);  // The tool inherited it; the test needs it no more.
  ASSERT_TRUE(run.WaitForStderr("waiting for")) << run.err();
  run.Signal(SIGHUP);
  ASSERT_EQ(Run({"revoke", "db", "--holder", "first"}).code, 0);
  EXPECT_EQ(run.ReadLine(), "started") << run.err();
  EXPECT_EQ(run.ExitCode(), 5) << run.err();
}

// The number of threads process `pid` runs (its /proc status), 0 if unknown.
int ThreadsOf(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("Threads:")) return std::atoi(line.c_str() + 8);
  }
  return 0;
}

// While an extension waits for a stuck lock, run still passes signals on at
// once. run's threads say when the extension is waiting: the loop's, the one
// watching for the lease's loss, and, only while an extension is under way,
// the extension's (a lease of 6 s is first extended at 2 s; with a lock
// timeout of an hour and --kill-after longer than the lease, that extension
// waits until the lease runs out at 6 s, or until the lock comes back).
TEST_F(cli_Run, SignalsArePassedOnWhileAnExtensionWaitsForAStuckLock) {
  ToolProcess run(
      Args({"run", "db", "--holder", "keeper", "--for", "6s", "--kill-after", "1h",
            "--lock-timeout", "1h", "--", "sh", "-c",
            "trap 'echo got-INT; exit 4' INT; " + LoopingCommand("echo got-TERM; exit 5")}));
  ASSERT_EQ(run.ReadLine(), "ready") << run.err();
  auto stuck = testing::StartStuckWriter(segment_.name());
  ASSERT_FALSE(HasFailure());
  // Bounded: the extension starts within 2 s of the claim.
  for (int i = 0; i < 30'000 && ThreadsOf(run.pid()) < 3; ++i) {
    const timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
  ASSERT_EQ(ThreadsOf(run.pid()), 3) << "no extension started: " << run.err();
  run.Signal(SIGINT);
  EXPECT_EQ(run.ReadLine(), "got-INT") << run.err();
  // The command ended: run gives the lease up, which waits for the lock.
  kill(stuck->pid(), SIGCONT);
  EXPECT_TRUE(testing::ExitedZero(stuck->Wait()));
  EXPECT_EQ(run.ExitCode(), 4) << run.err();
  EXPECT_EQ(Run({"check", "db", "--holder", "keeper"}).code, 1) << "given up";
}

// Ctrl-C reaches a run whose claim waits for a stuck lock at once, not after
// the lock timeout; nothing is claimed and the command never starts.
TEST_F(cli_Run, AnInterruptEndsAClaimWaitingForAStuckLock) {
  ASSERT_EQ(Run({"create"}).code, 0);
  auto stuck = testing::StartStuckWriter(segment_.name());
  ASSERT_FALSE(HasFailure());
  ToolProcess run(Args({"-v", "run", "db", "--holder", "keeper", "--for", "1h", "--lock-timeout",
                        "1h", "--", "sh", "-c", "echo started"}));
  ASSERT_TRUE(run.WaitForStderr("claiming")) << run.err();
  run.Signal(SIGINT);
  EXPECT_EQ(run.ExitCode(), 128 + SIGINT) << run.err();
  EXPECT_EQ(run.out(), "");
  kill(stuck->pid(), SIGCONT);
  EXPECT_TRUE(testing::ExitedZero(stuck->Wait()));
  EXPECT_EQ(Run({"check", "db", "--holder", "keeper"}).code, 1) << "nothing was claimed";
}

TEST_F(cli_Run, CommandIgnoringSigtermIsKilledAfterKillAfter) {
  ToolProcess run(Args({"run", "db", "--holder", "keeper", "--for", "3s", "--kill-after", "200ms",
                        "--", "sh", "-c", "echo $$; " + LoopingCommand("echo ignored-TERM")}));
  std::optional<std::string> pid_line = run.ReadLine();
  ASSERT_TRUE(pid_line) << run.err();
  const pid_t command = std::stoi(*pid_line);
  ASSERT_EQ(run.ReadLine(), "ready") << run.err();
  ASSERT_EQ(Run({"revoke", "db", "--holder", "keeper"}).code, 0);
  EXPECT_EQ(run.ReadLine(), "ignored-TERM") << run.err();
  // run returns only after reaping its command, which only SIGKILL can end.
  EXPECT_EQ(run.ExitCode(), 1) << run.err();
  EXPECT_NE(kill(command, 0), 0);
}

TEST_F(cli_Run, KilledRunTakesItsCommandDownAndAWaiterTakesOver) {
  // Orphans are reparented to this process, so the test can reap the
  // command and see how it died.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  ToolProcess first(Args({"run", "db", "--holder", "first", "--for", "1s", "--", "sh", "-c",
                          "echo $$; exec sleep 600"}));
  std::optional<std::string> pid_line = first.ReadLine();
  ASSERT_TRUE(pid_line) << first.err();
  const pid_t command = std::stoi(*pid_line);

  ToolProcess second(Args({"run", "db", "--holder", "second", "--for", "1s", "--wait", "--verbose",
                           "--", "sh", "-c", "echo second-started"}));
  ASSERT_TRUE(second.WaitForStderr("waiting for")) << second.err();

  first.Signal(SIGKILL);
  EXPECT_EQ(first.ExitCode(), 128 + SIGKILL);
  // By the time the killed run is reaped, its command has been handed to us.
  int status = 0;
  pid_t reaped = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((reaped = waitpid(command, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    usleep(1000);
  }
  ASSERT_EQ(reaped, command) << "the command outlived its run";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

  // The killed run never revoked: the waiter gets the lease when it runs out.
  EXPECT_EQ(second.ReadLine(), "second-started") << second.err();
  EXPECT_EQ(second.ExitCode(), 0) << second.err();
}

// What the command starts: run puts the command in a process group of its
// own and stops the whole group. This process is made a subreaper, so that
// the command's orphaned children are handed to it: it can then tell how
// they ended, and kill (safely: an unreaped child's pid is not reused) any
// that a failing test leaves behind.
class cli_RunGroup : public cli_Run {
 protected:
  void SetUp() override {
    ASSERT_EQ(prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper_), 0);
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  }
  void TearDown() override {
    // By now every ToolProcess of the test is gone (SIGKILLed if it still ran).
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (pid_t pid : strays_) {
      while (!Ended(pid, nullptr)) {
        if (waitpid(pid, nullptr, WNOHANG) == 0 || std::chrono::steady_clock::now() > deadline) {
          // Ours and still running, or never handed over: kill it.
          ADD_FAILURE() << "pid " << pid << " outlived its run";
          kill(pid, SIGKILL);
          waitpid(pid, nullptr, 0);
          break;
        }
        usleep(1000);  // Polling for the orphan to be handed over, bounded above.
      }
    }
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    prctl(PR_SET_CHILD_SUBREAPER, was_subreaper_);
  }

  // The pid the command wrote to `file`, remembered for TearDown.
  pid_t StrayFrom(const std::string& file) {
    std::ifstream in(file);
    pid_t pid = 0;
    in >> pid;
    if (pid > 0) strays_.push_back(pid);
    return pid;
  }

  friend void ExpectLossAtTheEndReported(cli_RunGroup&, const std::string&, const std::string&);
  static bool IsZombie(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
  }

  // Whether `pid` has ended: reaped here (then *status tells how), or gone,
  // or a zombie its parent has not reaped.
  static bool Ended(pid_t pid, int* status) {
    int st = 0;
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      if (status != nullptr) *status = st;
      return true;
    }
    if (r == 0) return false;
    return kill(pid, 0) != 0 || IsZombie(pid);
  }

  // Polls Ended() until `timeout`.
  static bool EndsWithin(pid_t pid, std::chrono::milliseconds timeout, int* status = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!Ended(pid, status)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      usleep(1000);
    }
    return true;
  }

  std::vector<pid_t> strays_;
  int was_subreaper_ = 0;
};

// The lease changes hands after the last extension (a 1h lease is extended
// every 20 minutes) while the command is ending, where run's watch on the
// holding cannot see it in time: run is stopped while the lease changes
// hands and the command ends, so that once continued it finds the command
// ended before it looks at the watch. run must not report the command's
// success as if it had held the lease throughout, and must not give up the
// holding then in place, which is not the command's.
void ExpectLossAtTheEndReported(cli_RunGroup& t, const std::string& new_holder,
                                const std::string& why) {
  ScopedTempDir dir;
  const std::string go = dir.path() + "/go";
  ASSERT_EQ(mkfifo(go.c_str(), 0600), 0);
  ToolProcess run(t.Args({"run", "db", "--holder", "keeper", "--for", "1h", "--", "sh", "-c",
                          "echo $$; read line < '" + go + "'; exit 0"}));
  std::optional<std::string> pid_line = run.ReadLine();
  ASSERT_TRUE(pid_line) << run.err();
  const pid_t command = std::stoi(*pid_line);
  run.Signal(SIGSTOP);
  int status = 0;
  ASSERT_EQ(waitpid(run.pid(), &status, WUNTRACED), run.pid());
  ASSERT_TRUE(WIFSTOPPED(status)) << status;
  ASSERT_EQ(t.Run({"revoke", "db", "--holder", "keeper"}).code, 0);
  ASSERT_EQ(t.Run({"claim", "db", "--holder", new_holder, "--for", "1h"}).code, 0);
  std::ofstream(go) << "go\n";  // Opening blocks until the command opened it to read.
  ASSERT_TRUE(cli_RunGroup::EndsWithin(command, 30s));
  run.Signal(SIGCONT);
  EXPECT_EQ(run.ExitCode(), 1) << run.err();
  EXPECT_TRUE(Contains(run.err(), "lost")) << run.err();
  EXPECT_TRUE(Contains(run.err(), why)) << run.err();
  EXPECT_TRUE(Contains(run.err(), "the command had ended")) << run.err();
  EXPECT_EQ(t.Run({"check", "db", "--holder", new_holder}).code, 0)
      << "run gave up a holding that was not its command's";
}

TEST_F(cli_RunGroup, LeaseTakenOverAfterTheLastExtensionIsReportedLost) {
  ExpectLossAtTheEndReported(*this, "other", "taken over by 'other'");
}

TEST_F(cli_RunGroup, LeaseRevokedAndClaimedAgainUnderTheSameHolderIsReportedLost) {
  ExpectLossAtTheEndReported(*this, "keeper", "claimed again");
}

TEST_F(cli_RunGroup, LostLeaseStopsWhatTheCommandStarted) {
  ScopedTempDir dir;
  const std::string file = dir.path() + "/grandchild";
  ToolProcess run(
      Args({"run", "db", "--holder", "keeper", "--for", "3s", "--kill-after", "500ms", "--", "sh",
            "-c", "sleep 300 & echo $! > '" + file + "'; echo ready; wait"}));
  ASSERT_EQ(run.ReadLine(), "ready") << run.err();
  const pid_t grandchild = StrayFrom(file);
  ASSERT_GT(grandchild, 0);
  ASSERT_EQ(Run({"revoke", "db", "--holder", "keeper"}).code, 0);
  EXPECT_EQ(run.ExitCode(), 1) << run.err();
  EXPECT_TRUE(Contains(run.err(), "lost")) << run.err();
  // run returns only once the group is empty or was sent SIGKILL, after
  // which nothing of it runs again; only its dying is left to observe.
  EXPECT_TRUE(EndsWithin(grandchild, 30s)) << "the grandchild outlived the lease";
}

TEST_F(cli_RunGroup, KilledRunTakesWhatTheCommandStartedDown) {
  ScopedTempDir dir;
  const std::string file = dir.path() + "/grandchild";
  ToolProcess run(Args({"run", "db", "--holder", "first", "--for", "1h", "--", "sh", "-c",
                        "sleep 300 & echo $! > '" + file + "'; echo ready; wait"}));
  ASSERT_EQ(run.ReadLine(), "ready") << run.err();
  const pid_t grandchild = StrayFrom(file);
  ASSERT_GT(grandchild, 0);
  run.Signal(SIGKILL);
  EXPECT_EQ(run.ExitCode(), 128 + SIGKILL);
  int status = 0;
  ASSERT_TRUE(EndsWithin(grandchild, 30s, &status)) << "the grandchild outlived its run";
  // Reaped here (its shell died first and it was handed over): it was killed.
  if (status != 0) EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST_F(cli_RunGroup, WhatTheCommandLeftRunningIsStoppedBeforeTheLeaseIsGivenUp) {
  ScopedTempDir dir;
  const std::string file = dir.path() + "/leftover";
  // The shell ends at once, leaving its background child in its group.
  ToolResult r = Run({"run", "db", "--holder", "h", "--for", "1h", "--kill-after", "500ms", "-v",
                      "--", "sh", "-c", "sleep 300 & echo $! > '" + file + "'"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(Contains(r.err, "left running")) << r;
  const pid_t leftover = StrayFrom(file);
  ASSERT_GT(leftover, 0);
  int status = 0;
  EXPECT_TRUE(EndsWithin(leftover, 30s, &status)) << "the leftover outlived the lease";
  // Orphaned when sh ended, the leftover came here; it got SIGTERM first.
  if (status != 0) EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  EXPECT_EQ(Run({"check", "db", "--holder", "h"}).code, 1);
  EXPECT_EQ(Run({"claim", "db", "--holder", "other", "--for", "1h"}).code, 0);
}

// Shell code that starts a daemon as daemons start: a double fork, the
// second child in a session (and process group) of its own, stdio on
// /dev/null. It writes its pid to the FIFO `pid_fifo`, which the command
// reads and prints.
std::string DaemonStarter(const std::string& pid_fifo) {
  return "(setsid sh -c 'echo $$ > \"" + pid_fifo +
         "\"; exec sleep 300' </dev/null >/dev/null 2>&1 &); read daemon < '" + pid_fifo +
         "'; echo $daemon; ";
}

// A daemon escapes the command's process group, and so what run stops when
// the command ends. As a subreaper run is handed the orphan, and stops it
// before it gives the lease up. (This process, a subreaper too but higher
// up, was handed it before: it outlived run.)
TEST_F(cli_RunGroup, ADaemonTheCommandStartedIsStoppedWhenRunEnds) {
  ScopedTempDir dir;
  const std::string fifo = dir.path() + "/daemon";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ToolResult r = Run({"run", "db", "--holder", "h", "--for", "1h", "--kill-after", "1h", "-v", "--",
                      "sh", "-c", DaemonStarter(fifo) + "exit 3"});
  EXPECT_EQ(r.code, 3) << r;
  const pid_t daemon = std::atoi(r.out.c_str());
  ASSERT_GT(daemon, 0) << r;
  strays_.push_back(daemon);
  EXPECT_TRUE(Ended(daemon, nullptr)) << "the daemon outlived run: " << r;
  EXPECT_TRUE(Contains(r.err, "left running")) << r;
  EXPECT_EQ(Run({"check", "db", "--holder", "h"}).code, 1);
}

// The same when the lease is lost while the command runs: the daemon is
// stopped with the command's group, and gone once run has exited.
TEST_F(cli_RunGroup, ALostLeaseStopsTheDaemonTheCommandStarted) {
  ScopedTempDir dir;
  const std::string fifo = dir.path() + "/daemon";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ToolProcess run(Args({"run", "db", "--holder", "keeper", "--for", "1h", "--kill-after", "1h",
                        "--", "sh", "-c", DaemonStarter(fifo) + LoopingCommand("exit 0")}));
  std::optional<std::string> daemon_line = run.ReadLine();
  ASSERT_TRUE(daemon_line) << run.err();
  const pid_t daemon = std::stoi(*daemon_line);
  strays_.push_back(daemon);
  ASSERT_EQ(run.ReadLine(), "ready") << run.err();
  ASSERT_EQ(Run({"revoke", "db", "--holder", "keeper"}).code, 0);
  EXPECT_EQ(run.ExitCode(), 1) << run.err();
  EXPECT_TRUE(Contains(run.err(), "it was revoked")) << run.err();
  EXPECT_TRUE(Ended(daemon, nullptr)) << "the daemon outlived the lease";
}

// run stopped from outside (SIGSTOP, not its terminal's Ctrl-Z) cannot
// extend its lease, nor stop its command when the lease runs out: its
// guardian, given the lease's deadline at every extension, kills the
// command, and the daemon the command started, before the lease can be
// claimed again. The next holder's command looks at both the moment it
// runs: ended (zombies of the stopped run) or gone.
TEST_F(cli_RunGroup, AStoppedRunsCommandIsKilledBeforeTheLeaseRunsOut) {
  ScopedTempDir dir;
  const std::string fifo = dir.path() + "/daemon";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ToolProcess run(Args({"run", "db", "--holder", "stopped", "--for", "1s", "--", "sh", "-c",
                        DaemonStarter(fifo) + "echo $$; " + LoopingCommand("exit 0")}));
  std::optional<std::string> daemon_line = run.ReadLine();
  ASSERT_TRUE(daemon_line) << run.err();
  const pid_t daemon = std::stoi(*daemon_line);
  strays_.push_back(daemon);
  std::optional<std::string> command_line = run.ReadLine();
  ASSERT_TRUE(command_line) << run.err();
  const std::string command = *command_line;
  ASSERT_EQ(run.ReadLine(), "ready") << run.err();
  run.Signal(SIGSTOP);
  int status = 0;
  ASSERT_EQ(waitpid(run.pid(), &status, WUNTRACED), run.pid());
  ASSERT_TRUE(WIFSTOPPED(status)) << status;
  // "<pid>:<state>" of each, the state empty for a process that is gone.
  const std::string look =
      "for p in " + command + " " + std::to_string(daemon) +
      "; do s=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -c1); echo \"$p:$s\"; done";
  ToolResult next =
      Run({"run", "db", "--holder", "next", "--for", "1h", "--wait", "--", "sh", "-c", look});
  EXPECT_EQ(next.code, 0) << next;
  std::istringstream lines(next.out);
  int looked = 0;
  for (std::string line; std::getline(lines, line); ++looked) {
    const std::string state = line.substr(line.find(':') + 1);
    EXPECT_TRUE(state.empty() || state == "Z") << line << ": ran on past the lease";
  }
  EXPECT_EQ(looked, 2) << next;
  run.Signal(SIGCONT);
  EXPECT_EQ(run.ExitCode(), 1) << run.err();
  EXPECT_TRUE(Contains(run.err(), "lost")) << run.err();
  EXPECT_TRUE(Ended(daemon, nullptr));
}

TEST_F(cli_RunGroup, CommandWithoutLeftoversEndsWithoutDelay) {
  // No group left behind: run does not wait for --kill-after.
  const auto start = std::chrono::steady_clock::now();
  ToolResult r = Run({"run", "db", "--for", "1h", "--kill-after", "1h", "--", "sh", "-c",
                      "sleep 0 & wait; exit 4"});
  EXPECT_EQ(r.code, 4) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

// A program on a pty whose session it leads, as a terminal's shell: the test
// types into the terminal and reads what it shows. However the test ends,
// the program's group is killed and reaped.
class PtySession {
 public:
  explicit PtySession(std::vector<std::string> argv_text) {
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      execv(argv[0], argv.data());
      _exit(126);
    }
  }
  ~PtySession() {
    if (pid_ <= 0) return;
    // Everything in the session: the shell's jobs run in groups of their own.
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t pid = std::stoi(name);
      if (pid != pid_ && getsid(pid) == pid_) kill(pid, SIGKILL);
    }
    if (waitpid(pid_, nullptr, WNOHANG) == 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  bool ok() const { return pid_ > 0; }
  bool Type(const std::string& keys) {
    return write(master_, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size());
  }
  // Reads the terminal until `needle` shows up after what earlier calls
  // found; false on its end, or after a bound that only guards against a hang.
  bool WaitFor(const std::string& needle) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    std::size_t at;
    while ((at = out_.find(needle, seen_)) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{master_, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[512];
      const ssize_t n = read(master_, buf, sizeof buf);
      if (n <= 0) return false;  // EIO: the terminal's last user is gone.
      out_.append(buf, static_cast<std::size_t>(n));
    }
    seen_ = at + needle.size();
    return true;
  }
  const std::string& shown() const { return out_; }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  std::string out_;
  std::size_t seen_ = 0;
};

// The shmlease command with `args`, as a line for a shell: every word quoted.
std::string QuotedCommandLine(const std::vector<std::string>& args) {
  std::string line = "'" + std::string(kToolPath) + "'";
  for (const std::string& a : args) {
    std::string quoted;
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += " '" + quoted + "'";
  }
  return line;
}

// The interactive shell on `pty` has started and shows a prompt that the
// test can wait for ("prompt> ", spelt apart in the typed line).
::testing::AssertionResult ShellReady(PtySession& pty) {
  if (!pty.ok()) return ::testing::AssertionFailure() << "no pty";
  if (!pty.Type("PS1=pr\"ompt> \"; echo shell-\"ready\"\n") || !pty.WaitFor("shell-ready") ||
      !pty.WaitFor("prompt> ")) {
    return ::testing::AssertionFailure() << pty.shown();
  }
  return ::testing::AssertionSuccess();
}

// Shell code for a job's command to say it runs: "cmd-started", spelt apart
// so that only the command's output, not the echoed command line, shows it.
const std::string kSayStarted = "echo cmd-sta\"\"rted; ";

// Types `shmlease args...` at the shell's prompt, as a foreground job whose
// command runs kSayStarted, and waits until it has.
::testing::AssertionResult StartRunJob(PtySession& pty, const std::vector<std::string>& args) {
  if (!pty.Type(QuotedCommandLine(args) + "\n") || !pty.WaitFor("cmd-started")) {
    return ::testing::AssertionFailure() << pty.shown();
  }
  return ::testing::AssertionSuccess();
}

// Ctrl-Z stops the foreground job, and the shell says so and prompts again.
::testing::AssertionResult StopJobWithCtrlZ(PtySession& pty) {
  if (!pty.Type("\x1a") || !pty.WaitFor("Stopped") || !pty.WaitFor("prompt> ")) {
    return ::testing::AssertionFailure() << pty.shown();
  }
  return ::testing::AssertionSuccess();
}

// On a terminal (a pty whose session a shell leads, running `run` in its
// foreground group as a script would): the command's group gets the
// terminal, reads it, gets Ctrl-C from it, and the terminal comes back.
TEST_F(cli_RunGroup, CommandGetsTheTerminalAndGivesItBack) {
  const std::string command =
      "set -- $(cat /proc/$$/stat); [ \"$5\" = \"$8\" ] && echo cmd-foreground; "
      "trap 'echo got-INT; exit 5' INT; read line; echo \"read:$line\"; "
      "while :; do sleep 0.02; done";
  const std::string script =
      "\"$0\" \"$@\"; echo \"run-exit:$?\"; set -- $(cat /proc/$$/stat); "
      "[ \"$5\" = \"$8\" ] && echo terminal-back; exit 0";
  std::vector<std::string> argv_text = {"/bin/sh", "-c", script, kToolPath};
  for (const std::string& a : Args({"run", "db", "--for", "1h", "--", "sh", "-c", command})) {
    argv_text.push_back(a);
  }
  PtySession pty(argv_text);
  ASSERT_TRUE(pty.ok());
  EXPECT_TRUE(pty.WaitFor("cmd-foreground")) << pty.shown();
  ASSERT_TRUE(pty.Type("hello\n"));
  EXPECT_TRUE(pty.WaitFor("read:hello")) << pty.shown();
  ASSERT_TRUE(pty.Type("\x03"));  // Ctrl-C
  EXPECT_TRUE(pty.WaitFor("got-INT")) << pty.shown();
  EXPECT_TRUE(pty.WaitFor("run-exit:5")) << pty.shown();
  EXPECT_TRUE(pty.WaitFor("terminal-back")) << pty.shown();
  EXPECT_EQ(Run({"check", "db", "--holder", "anyone"}).code, 1);
}

// Ctrl-Z in an interactive shell stops the command and run with it, so the
// shell gets the terminal back; `fg` continues both, and the command has the
// terminal again (its Ctrl-C ends it). The terminal echoes what is typed, so
// every awaited text is spelt in the typed line so that it appears only in
// the output ("cmd-sta""rted").
TEST_F(cli_RunGroup, CtrlZStopsTheJobAndFgContinuesIt) {
  PtySession pty({"/bin/bash", "--norc", "--noprofile", "-i"});
  ASSERT_TRUE(ShellReady(pty));
  ASSERT_TRUE(StartRunJob(pty, Args({"run", "db", "--holder", "h", "--for", "1h", "--", "sh", "-c",
                                     "trap 'echo got-\"\"INT; exit 6' INT; " + kSayStarted +
                                         "read line; echo \"cmd-\"\"read:$line\"; "
                                         "while :; do sleep 0.02; done"})));
  ASSERT_TRUE(StopJobWithCtrlZ(pty));
  // Stopped, run still holds the lease (for an hour).
  EXPECT_EQ(Run({"check", "db", "--holder", "h"}).code, 0);
  ASSERT_TRUE(pty.Type("fg\n"));
  ASSERT_TRUE(pty.Type("typed-after-fg\n"));
  EXPECT_TRUE(pty.WaitFor("cmd-read:typed-after-fg")) << pty.shown();
  ASSERT_TRUE(pty.Type("\x03"));  // Ctrl-C
  EXPECT_TRUE(pty.WaitFor("got-INT")) << pty.shown();
  ASSERT_TRUE(pty.Type("echo run-\"exit\":$?\n"));
  EXPECT_TRUE(pty.WaitFor("run-exit:6")) << pty.shown();
  EXPECT_EQ(Run({"check", "db", "--holder", "h"}).code, 1);
}

// Stopped with Ctrl-Z, the lease revoked meanwhile: once continued, run has
// the command terminated before it runs on. SIGTERM reaches the stopped
// command before SIGCONT does, so its TERM trap runs (and exits) first, and
// its CONT trap never does. Continued first (before the loss was acted on),
// it ran its CONT trap in three of four tries: the two signals then race.
TEST_F(cli_RunGroup, ALeaseLostWhileStoppedEndsTheCommandBeforeItRunsOn) {
  PtySession pty({"/bin/bash", "--norc", "--noprofile", "-i"});
  ASSERT_TRUE(ShellReady(pty));
  ASSERT_TRUE(StartRunJob(pty, Args({"run", "db", "--holder", "h", "--for", "1h", "--", "sh", "-c",
                                     "trap 'echo got-\"\"CONT' CONT; "
                                     "trap 'echo got-\"\"TERM; exit 0' TERM; " +
                                         kSayStarted + "read line; echo cmd-\"\"read"})));
  ASSERT_TRUE(StopJobWithCtrlZ(pty));
  ASSERT_EQ(Run({"revoke", "db", "--holder", "h"}).code, 0);
  ASSERT_TRUE(pty.Type("fg\n"));
  EXPECT_TRUE(pty.WaitFor("got-TERM")) << pty.shown();
  ASSERT_TRUE(pty.Type("echo run-\"exit\":$?\n"));
  EXPECT_TRUE(pty.WaitFor("run-exit:1")) << pty.shown();
  EXPECT_EQ(pty.shown().find("got-CONT"), std::string::npos) << pty.shown();
  EXPECT_EQ(pty.shown().find("cmd-read"), std::string::npos) << pty.shown();
}

}  // namespace
}  // namespace shmlease
