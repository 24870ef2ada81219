// `shmlease run` with real processes: the command runs only while its lease
// is held, never beside another holder's, and never outlives its guard.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

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
class cli_Run : public ::testing::Test {
 protected:
  std::vector<std::string> Args(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--segment", segment_.name()});
    return args;
  }
  ToolResult Run(std::vector<std::string> args) { return RunTool(Args(std::move(args))); }

  ScopedSegmentName segment_;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A command that says "ready" once it runs, then loops until stopped; on
// SIGTERM it runs `on_term` (shell code).
std::string LoopingCommand(const std::string& on_term) {
  return "trap '" + on_term + "' TERM; echo ready; while :; do sleep 0.02; done";
}

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

TEST_F(cli_Run, DefaultHolderIsPidOfRun) {
  ToolProcess run(Args({"run", "db", "--for", "1h", "--", "sh", "-c", "echo $SHMLEASE_HOLDER"}));
  std::optional<std::string> holder = run.ReadLine();
  ASSERT_TRUE(holder) << run.err();
  EXPECT_EQ(*holder, "pid-" + std::to_string(run.pid()));
  EXPECT_EQ(run.ExitCode(), 0) << run.err();
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

// A 3s lease is extended every second, so a revoke is noticed within one;
// it only lapses by itself if the run stalls for two.
TEST_F(cli_Run, RevokedFromOutsideStopsTheCommand) {
  ToolProcess run(Args({"run", "db", "--holder", "keeper", "--for", "3s", "--", "sh", "-c",
                        LoopingCommand("echo got-TERM; exit 0")}));
  ASSERT_EQ(run.ReadLine(), "ready") << run.err();
  ToolResult revoke = Run({"revoke", "db", "--holder", "keeper"});
  ASSERT_EQ(revoke.code, 0) << revoke;
  EXPECT_EQ(run.ReadLine(), "got-TERM") << run.err();
  EXPECT_EQ(run.ExitCode(), 1) << run.err();
  EXPECT_TRUE(Contains(run.err(), "lost")) << run.err();
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

}  // namespace
}  // namespace shmlease
