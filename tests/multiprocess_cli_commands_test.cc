// The shmlease command driven as a user would: every subcommand, every exit
// code, bad flags and names, missing and corrupt segments, JSON read back.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_tool.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::RunTool;
using testing::ScopedSegmentName;
using testing::ScopedTempDir;
using testing::ToolProcess;
using testing::ToolResult;

// Runs shmlease on the test's own segment (--segment first, as a global option).
// Suites are named cli_* so that `ctest -R cli` selects the command's tests.
class cli_Commands : public ::testing::Test {
 protected:
  ToolResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--segment", segment_.name()});
    return RunTool(args);
  }
  json Json(std::vector<std::string> args) {
    ToolResult r = Run(std::move(args));
    EXPECT_EQ(r.code, 0) << r;
    return json::parse(r.out);
  }
  const std::string& name() const { return segment_.name(); }

  ScopedSegmentName segment_;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Whether every line of `text` starts with `prefix` (and there is at least one).
bool EveryLineStartsWith(const std::string& text, const std::string& prefix) {
  std::istringstream lines(text);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) != 0) return false;
    ++count;
  }
  return count > 0;
}

// Whether `text` holds only printable ASCII and newlines: nothing a terminal obeys.
bool OnlyPrintable(const std::string& text) {
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b != '\n' && (b < 0x20 || b >= 0x7f)) return false;
  }
  return true;
}

TEST_F(cli_Commands, HelpOnEverySubcommand) {
  ToolResult top = RunTool({"--help"});
  EXPECT_EQ(top.code, 0) << top;
  for (const char* sub : {"create", "destroy", "claim", "extend", "revoke", "check", "wait", "pin",
                          "unpin", "pinned", "dump", "stat", "fsck", "run"}) {
    EXPECT_TRUE(Contains(top.out, sub)) << sub;
    ToolResult r = RunTool({sub, "--help"});
    EXPECT_EQ(r.code, 0) << sub << ": " << r;
    EXPECT_TRUE(Contains(r.out, std::string("shmlease ") + sub)) << r;
  }
  ToolResult run = RunTool({"run", "--help"});
  EXPECT_TRUE(Contains(run.out, "--kill-after")) << run;
}

TEST_F(cli_Commands, CreateStatDestroy) {
  ToolResult r = Run({"create", "--capacity", "16", "--mode", "0640"});
  ASSERT_EQ(r.code, 0) << r;
  json stat = Json({"stat", "--json"});
  EXPECT_EQ(stat["capacity"], 16);
  EXPECT_EQ(stat["used"], 0);
  EXPECT_EQ(stat["mode"], "0640");
  EXPECT_EQ(stat["path"], "/dev/shm/" + name());
  EXPECT_EQ(stat["owner_uid"], geteuid());
  EXPECT_GT(stat["layout_version"].get<int>(), 0);
  EXPECT_EQ(stat["recoveries"], 0);

  ToolResult text = Run({"stat"});
  EXPECT_EQ(text.code, 0) << text;
  for (const char* field :
       {"path:", "owner:", "mode:", "capacity:", "used:", "layout version:", "recoveries:"}) {
    EXPECT_TRUE(Contains(text.out, field)) << field << "\n" << text;
  }

  // An existing compatible segment is fine and keeps its shape.
  r = Run({"create"});
  EXPECT_EQ(r.code, 0) << r;
  r = Run({"create", "--capacity", "32"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(Contains(r.err, "capacity 16")) << r;
  EXPECT_EQ(Json({"stat", "--json"})["capacity"], 16);

  r = Run({"destroy"});
  EXPECT_EQ(r.code, 0) << r;
  r = Run({"stat"});
  EXPECT_EQ(r.code, 3) << r;
  r = Run({"destroy"});
  EXPECT_EQ(r.code, 3) << r;
  r = Run({"destroy", "--force"});
  EXPECT_EQ(r.code, 0) << r;
}

TEST_F(cli_Commands, ClaimDeniedNamesHolderAndTimeLeft) {
  ToolResult r = Run({"claim", "db", "--holder", "alice", "--for", "1h"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "");
  r = Run({"claim", "db", "--holder", "bob", "--for", "10s"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "'alice'")) << r;
  EXPECT_TRUE(Contains(r.err, "for another 59m")) << r;
  // The holder claiming again extends.
  r = Run({"claim", "db", "--holder", "alice", "--for", "2h"});
  EXPECT_EQ(r.code, 0) << r;
  json dump = Json({"dump", "--json"});
  ASSERT_EQ(dump["leases"].size(), 1u) << dump;
  EXPECT_GT(dump["leases"][0]["expires_in_ms"].get<std::int64_t>(), 3'600'000);
}

TEST_F(cli_Commands, ExtendOnlyByTheHolder) {
  ToolResult r = Run({"extend", "db", "--holder", "alice", "--for", "10s"});
  EXPECT_EQ(r.code, 1) << r;  // Nobody holds it; the segment is created on the way.
  EXPECT_TRUE(Contains(r.err, "not held by anyone")) << r;
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "10s"}).code, 0);
  r = Run({"extend", "db", "--holder", "alice", "--for", "1h"});
  EXPECT_EQ(r.code, 0) << r;
  r = Run({"extend", "db", "--holder", "bob", "--for", "1h"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "'alice'")) << r;
  json dump = Json({"dump", "--json"});
  EXPECT_EQ(dump["leases"][0]["holder"], "alice");
  EXPECT_GT(dump["leases"][0]["expires_in_ms"].get<std::int64_t>(), 10'000);
}

TEST_F(cli_Commands, RevokeOnlyByTheHolder) {
  ToolResult r = Run({"revoke", "db", "--holder", "alice"});
  EXPECT_EQ(r.code, 1) << r;  // No segment: nobody holds anything.
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "1h"}).code, 0);
  r = Run({"revoke", "db", "--holder", "bob"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(Run({"check", "db", "--holder", "alice"}).code, 0);
  r = Run({"revoke", "db", "--holder", "alice"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(Run({"check", "db", "--holder", "alice"}).code, 1);
  r = Run({"revoke", "db", "--holder", "alice"});
  EXPECT_EQ(r.code, 1) << r;
  // Freed at once: another holder can claim.
  EXPECT_EQ(Run({"claim", "db", "--holder", "bob", "--for", "1h"}).code, 0);
}

TEST_F(cli_Commands, CheckIsSilentUnlessVerbose) {
  ToolResult r = Run({"check", "db", "--holder", "alice"});
  EXPECT_EQ(r.code, 3) << r;  // Read-only command, no segment.
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "1h"}).code, 0);
  r = Run({"check", "db", "--holder", "alice"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out + r.err, "");
  r = Run({"check", "db", "--holder", "bob"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(r.out + r.err, "");
  r = Run({"check", "db", "--holder", "bob", "--verbose"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(Contains(r.out, "does not hold")) << r;
  r = Run({"check", "db", "--holder", "alice", "-v"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "'alice' holds")) << r;
  EXPECT_EQ(Run({"check", "other", "--holder", "alice"}).code, 1);
}

TEST_F(cli_Commands, ExpiredLeaseIsFree) {
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "300ms"}).code, 0);
  // wait returns once the lease has run out; then it is free for anyone.
  ToolResult r = Run({"wait", "db", "--timeout", "1m"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(Run({"check", "db", "--holder", "alice"}).code, 1);
  EXPECT_EQ(Run({"claim", "db", "--holder", "bob", "--for", "1h"}).code, 0);
}

TEST_F(cli_Commands, WaitReturnsAtOnceWithoutSegmentOrLease) {
  ToolResult r = Run({"wait", "db"});
  EXPECT_EQ(r.code, 0) << r;
  ASSERT_EQ(Run({"create"}).code, 0);
  r = Run({"wait", "db"});
  EXPECT_EQ(r.code, 0) << r;
}

TEST_F(cli_Commands, WaitTimesOutWhileHeld) {
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "1h"}).code, 0);
  ToolResult r = Run({"wait", "db", "--timeout", "200ms"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "timed out")) << r;
  EXPECT_TRUE(Contains(r.err, "'alice'")) << r;
}

TEST_F(cli_Commands, WaitReturnsWhenRevoked) {
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "1h"}).code, 0);
  ToolProcess waiter({"--segment", name(), "wait", "db"});
  ASSERT_TRUE(waiter.started());
  // Whether the waiter is asleep yet or not, it must come back with 0 once the
  // lease is revoked, and never while it is held for another hour.
  ASSERT_EQ(Run({"revoke", "db", "--holder", "alice"}).code, 0);
  EXPECT_EQ(waiter.ExitCode(), 0) << waiter.err();
}

TEST_F(cli_Commands, PinUnpinPinned) {
  ToolResult r = Run({"pinned"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_EQ(Run({"unpin", "db", "--entity", "e1"}).code, 0);  // No segment, no pin.
  ASSERT_EQ(Run({"pin", "db", "--entity", "e2"}).code, 0);    // Creates the segment.
  ASSERT_EQ(Run({"pin", "db", "--entity", "e1"}).code, 0);
  ASSERT_EQ(Run({"pin", "db", "--entity", "e1"}).code, 0);  // Idempotent.
  ASSERT_EQ(Run({"--model", "m2", "pin", "cache", "--entity", "e3"}).code, 0);

  json pinned = Json({"pinned", "--json"});
  ASSERT_EQ(pinned["leases"].size(), 2u) << pinned;
  // Sorted by namespace, model, lease: model "local" before "m2".
  EXPECT_EQ(pinned["leases"][0]["lease"], "db");
  EXPECT_EQ(pinned["leases"][0]["pinned_by"], json::array({"e1", "e2"}));
  EXPECT_EQ(pinned["leases"][1]["lease"], "cache");
  EXPECT_EQ(pinned["leases"][1]["model"], "m2");
  EXPECT_EQ(pinned["leases"][1]["pinned_by"], json::array({"e3"}));
  json only_local = Json({"pinned", "--json", "--model", "local"});
  ASSERT_EQ(only_local["leases"].size(), 1u) << only_local;

  r = Run({"pinned"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "e1,e2")) << r;

  EXPECT_EQ(Run({"unpin", "db", "--entity", "e1"}).code, 0);
  EXPECT_EQ(Run({"unpin", "db", "--entity", "nobody"}).code, 0);
  pinned = Json({"pinned", "--json"});
  EXPECT_EQ(pinned["leases"][0]["pinned_by"], json::array({"e2"}));
}

TEST_F(cli_Commands, PinKeepsAnExpiredLeaseHeld) {
  // Pinned first (a pin on a free lease is kept for the next holder), so that
  // however slowly the commands start, the lease cannot lapse in between.
  ASSERT_EQ(Run({"pin", "db", "--entity", "keeper"}).code, 0);
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "300ms"}).code, 0);
  // Polled with a bound: the kernel gives no event for "a time has passed".
  json entry;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  do {
    entry = Json({"dump", "--json"})["leases"][0];
  } while (entry["expires_in_ms"].get<std::int64_t>() >= 0 &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_LT(entry["expires_in_ms"].get<std::int64_t>(), 0) << entry;
  EXPECT_EQ(entry["holder"], "alice");
  EXPECT_EQ(Run({"check", "db", "--holder", "alice"}).code, 0);
  EXPECT_EQ(Run({"claim", "db", "--holder", "bob", "--for", "1h"}).code, 1);
  // The last pin gone, a lease whose time ran out is free at once.
  ASSERT_EQ(Run({"unpin", "db", "--entity", "keeper"}).code, 0);
  EXPECT_EQ(Run({"claim", "db", "--holder", "bob", "--for", "1h"}).code, 0);
}

TEST_F(cli_Commands, TooManyPinsIsANo) {
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(Run({"pin", "db", "--entity", "e" + std::to_string(i)}).code, 0);
  }
  ToolResult r = Run({"pin", "db", "--entity", "e8"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "too many pins")) << r;
}

TEST_F(cli_Commands, DumpJsonReadsBack) {
  ASSERT_EQ(Run({"create", "--capacity", "64"}).code, 0);
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "1h"}).code, 0);
  ASSERT_EQ(Run({"claim", "web", "--holder", "bob", "--for", "10m"}).code, 0);
  ASSERT_EQ(Run({"--namespace", "application-leadership", "--model", "m-1", "claim", "app",
                 "--holder", "unit-0", "--for", "1h"})
                .code,
            0);
  ASSERT_EQ(Run({"pin", "web", "--entity", "ops"}).code, 0);
  ASSERT_EQ(Run({"pin", "idle", "--entity", "ops"}).code, 0);  // Pinned, never held.

  json dump = Json({"dump", "--json"});
  EXPECT_EQ(dump["capacity"], 64);
  EXPECT_EQ(dump["used"], 4);
  const json& leases = dump["leases"];
  ASSERT_EQ(leases.size(), 4u) << dump;
  // Sorted by namespace, model, lease.
  EXPECT_EQ(leases[0]["namespace"], "application-leadership");
  EXPECT_EQ(leases[0]["model"], "m-1");
  EXPECT_EQ(leases[0]["lease"], "app");
  EXPECT_EQ(leases[0]["holder"], "unit-0");
  EXPECT_EQ(leases[1]["lease"], "db");
  EXPECT_EQ(leases[2]["lease"], "idle");
  EXPECT_EQ(leases[3]["lease"], "web");

  const json& db = leases[1];
  EXPECT_EQ(db["namespace"], "singular-controller");
  EXPECT_EQ(db["model"], "local");
  EXPECT_EQ(db["holder"], "alice");
  ASSERT_TRUE(db["expires_in_ms"].is_number_integer()) << db;
  EXPECT_GT(db["expires_in_ms"].get<std::int64_t>(), 3'500'000);
  EXPECT_LE(db["expires_in_ms"].get<std::int64_t>(), 3'600'000);
  EXPECT_EQ(db["pinned_by"], json::array());
  EXPECT_TRUE(db["epoch"].is_number_unsigned()) << db;
  EXPECT_GT(db["epoch"].get<std::uint64_t>(), 0u);
  EXPECT_NE(db["epoch"], leases[3]["epoch"]);

  const json& idle = leases[2];
  EXPECT_TRUE(idle["holder"].is_null()) << idle;
  EXPECT_FALSE(idle.contains("expires_in_ms")) << idle;
  EXPECT_EQ(idle["pinned_by"], json::array({"ops"}));
  EXPECT_EQ(leases[3]["pinned_by"], json::array({"ops"}));

  // Filters apply only when given; `used` still counts the whole table.
  json app_only = Json({"dump", "--json", "--namespace", "application-leadership"});
  ASSERT_EQ(app_only["leases"].size(), 1u) << app_only;
  EXPECT_EQ(app_only["used"], 4);
  json local_only = Json({"--model", "local", "dump", "--json"});
  EXPECT_EQ(local_only["leases"].size(), 3u) << local_only;
}

TEST_F(cli_Commands, DumpTextIsAlignedAndSorted) {
  ASSERT_EQ(Run({"claim", "zeta", "--holder", "a-long-holder-name", "--for", "1h"}).code, 0);
  ASSERT_EQ(Run({"claim", "alpha", "--holder", "b", "--for", "1h"}).code, 0);
  ASSERT_EQ(Run({"pin", "alpha", "--entity", "ops"}).code, 0);
  ToolResult r = Run({"dump"});
  ASSERT_EQ(r.code, 0) << r;
  std::istringstream lines(r.out);
  std::string header, first, second, extra;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_FALSE(std::getline(lines, extra)) << r;
  const std::vector<std::string> columns = {"NAMESPACE",  "MODEL",     "LEASE", "HOLDER",
                                            "EXPIRES-IN", "PINNED-BY", "EPOCH"};
  std::size_t last = 0;
  for (const std::string& column : columns) {
    std::size_t at = header.find(column);
    ASSERT_NE(at, std::string::npos) << header;
    EXPECT_GE(at, last);
    last = at;
    // Every row has a value starting exactly under each column's title.
    for (const std::string* row : {&first, &second}) {
      ASSERT_GT(row->size(), at) << *row;
      EXPECT_NE((*row)[at], ' ') << column << " in '" << *row << "'";
      if (at > 0) EXPECT_EQ((*row)[at - 1], ' ') << column << " in '" << *row << "'";
    }
  }
  EXPECT_TRUE(Contains(first, "alpha")) << r;
  EXPECT_TRUE(Contains(first, "ops")) << r;
  EXPECT_TRUE(Contains(second, "zeta")) << r;
  EXPECT_TRUE(Contains(second, "a-long-holder-name")) << r;
}

TEST_F(cli_Commands, DumpWatchPrintsOneJsonObjectPerLine) {
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "1h"}).code, 0);
  ToolProcess watch({"--segment", name(), "dump", "--json", "--watch", "20ms"});
  for (int i = 0; i < 3; ++i) {
    std::optional<std::string> line = watch.ReadLine();
    ASSERT_TRUE(line) << watch.err();
    json dump = json::parse(*line);
    ASSERT_EQ(dump["leases"].size(), 1u) << *line;
    EXPECT_EQ(dump["leases"][0]["holder"], "alice");
  }
  watch.Signal(SIGTERM);
  EXPECT_EQ(watch.ExitCode(), 128 + SIGTERM);
}

// A reader that goes away (`| head`) ends the watch with status 0, not SIGPIPE.
TEST_F(cli_Commands, DumpWatchEndsQuietlyWhenItsReaderGoes) {
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "1h"}).code, 0);
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  const int status = testing::RunToolWith(
      {"--segment", name(), "dump", "--json", "--watch", "10ms"},
      [&] { dup2(out[1], STDOUT_FILENO); },
      [&](pid_t) {
        close(out[1]);
        char c = 0;
        while (read(out[0], &c, 1) == 1 && c != '\n') {
        }
        EXPECT_EQ(c, '\n') << "no first line";
        close(out[0]);  // The reader goes; the next watch round's write fails.
      });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << (WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                              : "exit " + std::to_string(WEXITSTATUS(status)));
}

TEST_F(cli_Commands, FsckCleanSegment) {
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "1h"}).code, 0);
  ToolResult r = Run({"fsck"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "clean")) << r;
  EXPECT_EQ(Run({"fsck", "--repair"}).code, 0);
}

TEST_F(cli_Commands, MissingSegment) {
  for (std::vector<std::string> args : {std::vector<std::string>{"dump"},
                                        {"dump", "--json"},
                                        {"stat"},
                                        {"fsck"},
                                        {"pinned"},
                                        {"check", "db", "--holder", "a"}}) {
    ToolResult r = Run(args);
    EXPECT_EQ(r.code, 3) << args[0] << ": " << r;
    EXPECT_TRUE(Contains(r.err, name())) << r;
    EXPECT_TRUE(Contains(r.err, "not found")) << r;
  }
  EXPECT_EQ(Run({"wait", "db"}).code, 0);
  // Writing commands create it.
  EXPECT_EQ(Run({"claim", "db", "--holder", "a", "--for", "1h"}).code, 0);
  EXPECT_EQ(Run({"stat"}).code, 0);
}

TEST_F(cli_Commands, CorruptSegment) {
  ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/garbage.seg";
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 100'000; ++i) out.put(static_cast<char>(i * 131 + 7));
  }
  for (std::vector<std::string> args : {std::vector<std::string>{"dump"},
                                        {"dump", "--json"},
                                        {"stat"},
                                        {"fsck"},
                                        {"pinned"},
                                        {"check", "db", "--holder", "a"},
                                        {"claim", "db", "--holder", "a", "--for", "1s"},
                                        {"wait", "db"},
                                        {"run", "db", "--for", "1s", "--", "true"}}) {
    args.insert(args.begin(), {"--segment", path});
    ToolResult r = RunTool(args);
    EXPECT_EQ(r.code, 3) << args[2] << ": " << r;
    EXPECT_TRUE(Contains(r.err, path)) << r;
    EXPECT_TRUE(Contains(r.err, "corrupt")) << r;
  }
  // A file that is not a segment is only removed when asked twice.
  ToolResult r = RunTool({"--segment", path, "destroy"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_EQ(access(path.c_str(), F_OK), 0);
  r = RunTool({"--segment", path, "destroy", "--force"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_NE(access(path.c_str(), F_OK), 0);

  // Shorter than a header.
  {
    std::ofstream out(path, std::ios::binary);
    out << "short";
  }
  r = RunTool({"--segment", path, "dump"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_TRUE(Contains(r.err, "truncated")) << r;
}

// A directory or a FIFO named as the segment: every command says so and
// exits 3, none aborts (mapping a directory throws in Boost) or blocks (a
// FIFO's open waits for a writer), and neither is touched.
TEST_F(cli_Commands, DirectoryOrFifoIsNotASegment) {
  ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string directory = dir.path() + "/a-directory";
  const std::string fifo = dir.path() + "/a-fifo";
  ASSERT_EQ(mkdir(directory.c_str(), 0700), 0);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& [path, kind] : {std::pair{directory, std::string("is a directory")},
                                   std::pair{fifo, std::string("is a FIFO")}}) {
    for (std::vector<std::string> args : {std::vector<std::string>{"dump"},
                                          {"stat"},
                                          {"fsck"},
                                          {"pinned"},
                                          {"check", "db", "--holder", "a"},
                                          {"create"},
                                          {"claim", "db", "--holder", "a", "--for", "1s"},
                                          {"destroy"},
                                          {"run", "db", "--for", "1s", "--", "true"}}) {
      args.insert(args.begin(), {"--segment", path});
      ToolResult r = RunTool(args);
      EXPECT_EQ(r.code, 3) << args[2] << ": " << r;
      EXPECT_TRUE(Contains(r.err, path + " " + kind)) << r;
      EXPECT_FALSE(Contains(r.err, "layout")) << "a directory is no other layout: " << r;
    }
  }
  struct stat st;
  ASSERT_EQ(stat(directory.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_EQ(stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST_F(cli_Commands, FileBackedSegment) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/leases.seg";
  ToolResult r = RunTool({"claim", "db", "--holder", "alice", "--for", "1h", "--segment", path});
  ASSERT_EQ(r.code, 0) << r;
  r = RunTool({"--segment", path, "dump", "--json"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(json::parse(r.out)["leases"][0]["holder"], "alice");
  r = RunTool({"--segment", path, "stat", "--json"});
  EXPECT_EQ(json::parse(r.out)["path"], path);
  EXPECT_EQ(RunTool({"--segment", path, "fsck"}).code, 0);
  ASSERT_EQ(RunTool({"--segment", path, "revoke", "db", "--holder", "alice"}).code, 0);
  EXPECT_EQ(RunTool({"--segment", path, "destroy"}).code, 0);
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

// Removing a segment takes its leases from their holders without a word:
// each goes on with its old mapping, while the next claimer gets a new,
// empty table. destroy refuses while any lease is held or pinned, naming
// each with its holder and pins, unless --force.
TEST_F(cli_Commands, DestroyRefusesWhileLeasesAreHeldOrPinnedUnlessForced) {
  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "1h"}).code, 0);
  ASSERT_EQ(Run({"pin", "cache", "--entity", "bob"}).code, 0);
  ToolResult r = Run({"destroy"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "refusing to remove")) << r;
  EXPECT_TRUE(Contains(r.err, "2 leases are held or pinned")) << r;
  EXPECT_TRUE(Contains(r.err, "lease 'db'") && Contains(r.err, "held by 'alice'")) << r;
  EXPECT_TRUE(Contains(r.err, "lease 'cache'") && Contains(r.err, "pinned by 'bob'")) << r;
  EXPECT_TRUE(Contains(r.err, "--force")) << r;
  EXPECT_EQ(Run({"check", "db", "--holder", "alice"}).code, 0) << "the segment was removed";

  ASSERT_EQ(Run({"revoke", "db", "--holder", "alice"}).code, 0);
  r = Run({"destroy"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "1 lease is held or pinned")) << r;
  ASSERT_EQ(Run({"unpin", "cache", "--entity", "bob"}).code, 0);
  r = Run({"destroy"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(Run({"stat"}).code, 3) << "not removed";

  ASSERT_EQ(Run({"claim", "db", "--holder", "alice", "--for", "1h"}).code, 0);
  r = Run({"destroy", "--force"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(Run({"stat"}).code, 3) << "not removed";
}

TEST_F(cli_Commands, GlobalOptionsBeforeOrAfterTheSubcommand) {
  ASSERT_EQ(RunTool({"claim", "db", "--holder", "a", "--for", "1h", "--segment", name(),
                     "--namespace", "ns-x", "--model", "m-y"})
                .code,
            0);
  ToolResult r = RunTool({"--segment", name(), "--namespace", "ns-x", "--model", "m-y", "check",
                          "db", "--holder", "a"});
  EXPECT_EQ(r.code, 0) << r;
  // Another namespace or model is another lease.
  EXPECT_EQ(RunTool({"--segment", name(), "check", "db", "--holder", "a"}).code, 1);
  EXPECT_EQ(
      RunTool({"--segment", name(), "--namespace", "ns-x", "check", "db", "--holder", "a"}).code,
      1);
  // SHMLEASE_SEGMENT names the segment when --segment is absent.
  r = RunTool({"--namespace", "ns-x", "--model", "m-y", "check", "db", "--holder", "a"},
              {"SHMLEASE_SEGMENT=" + name()});
  EXPECT_EQ(r.code, 0) << r;
}

TEST_F(cli_Commands, BadNamesAndFlagsAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string named;  // What the message must mention.
  };
  const std::string long_name(65, 'x');
  const std::vector<Case> cases = {
      {{"claim", "a.b", "--holder", "h", "--for", "1s"}, "LEASE"},
      {{"claim", long_name, "--holder", "h", "--for", "1s"}, "too long"},
      {{"claim", "db", "--holder", long_name, "--for", "1s"}, "--holder"},
      {{"claim", "db", "--holder", "a b", "--for", "1s"}, "--holder"},
      {{"claim", "db", "--holder", "", "--for", "1s"}, "--holder"},
      {{"claim", "db", "--holder", "h", "--for", "0s"}, "--for"},
      {{"claim", "db", "--holder", "h", "--for", "0"}, "--for"},
      {{"claim", "db", "--holder", "h", "--for", "0.9ns"}, "shorter than 1ns"},
      {{"claim", "db", "--holder", "h", "--for", "-1s"}, "--for"},
      {{"claim", "db", "--holder", "h", "--for", "soon"}, "--for"},
      {{"claim", "db", "--holder", "h"}, "--for"},
      {{"claim", "db", "--for", "1s"}, "--holder"},
      {{"extend", "db", "--holder", "h", "--for", "-5ms"}, "--for"},
      {{"wait", "db", "--timeout", "0ms"}, "--timeout"},
      {{"dump", "--watch", "0s"}, "--watch"},
      {{"run", "db", "--for", "1s", "--kill-after", "0", "--", "true"}, "--kill-after"},
      {{"run", "db", "--for", "1s"}, "CMD"},
      {{"pin", "db", "--entity", "x#y"}, "--entity"},
      {{"--namespace", "bad$ns", "claim", "db", "--holder", "h", "--for", "1s"}, "--namespace"},
      {{"claim", "db", "--holder", "h", "--for", "1s", "--model", long_name}, "--model"},
      {{"create", "--mode", "0999"}, "--mode"},
      {{"create", "--capacity", "0"}, "capacity"},
      {{"create", "--capacity", "lots"}, "--capacity"},
      {{"create", "--capacity", "-1"}, "--capacity"},
      {{"create", "--capacity", ""}, "--capacity"},
      {{"create", "--capacity", "0x10"}, "1 to 67108864"},
      {{"create", "--capacity", "+5"}, "--capacity"},
      {{"create", "--capacity", " 5"}, "--capacity"},
      {{"create", "--capacity", "67108865"}, "--capacity"},
      {{"create", "--capacity", "18446744073709551617"}, "--capacity"},
      {{"create", "--mode", "7777"}, "--mode"},
      {{"create", "--mode", "4755"}, "--mode"},
      {{"create", "--mode", "1777"}, "--mode"},
      {{"create", "--mode", "01777"}, "--mode"},
      {{"create", "--mode", "0"}, "owner must be able to read and write"},
      {{"create", "--mode", "0400"}, "owner must be able to read and write"},
      {{"create", "--mode", "0244"}, "--mode"},
      {{"claim", "db", "--holder", "h", "--for", "+1s"}, "--for"},
      {{"claim", "db", "--holder", "h", "--for", ".5s"}, "--for"},
      {{"claim", "db", "--holder", "h", "--for", "1.s"}, "--for"},
      {{"claim", "db", "--holder", "h", "--for", "1h1h"}, "--for"},
      {{"claim", "db", "--holder", "h", "--for", "30m1h"}, "--for"},
      {{"claim", "db", "--holder", "h", "--for", "9223372036854775807ns"}, "--for"},
      {{"claim", "db", "--holder", "h", "--for", "2562047h"}, "--for"},
      {{"wait", "db", "--timeout", "876001h"}, "--timeout"},
      {{"bogus"}, "unknown subcommand 'bogus'"},
      {{"--holder", "h", "claim", "db", "--for", "1s"}, "--holder is an option of 'claim'"},
      {{"--trust-owner", "no-such-user-here", "dump"}, "--trust-owner"},
      {{"dump", "--no-such-flag"}, "--no-such-flag"},
      {{"no-such-command"}, "subcommand"},
      {{}, "subcommand"},
      {{"claim", "db", "extra", "--holder", "h", "--for", "1s"}, "extra"},
      // The command's own option, with no `--` before the command.
      {{"run", "db", "--for", "1s", "sh", "-c", "true"},
       "write the command after '--', so that its options are its own"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), {"--segment", name()});
    ToolResult r = RunTool(args);
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(c.args) << ": " << r;
    EXPECT_TRUE(Contains(r.err, c.named)) << c.named << ": " << r;
    // Parser errors too: every line of every error says who is speaking.
    EXPECT_TRUE(EveryLineStartsWith(r.err, "shmlease: ")) << r;
  }
  // Nothing above got as far as creating the segment.
  EXPECT_EQ(Run({"stat"}).code, 3);
  // A segment name the system cannot have.
  ToolResult r =
      RunTool({"--segment", std::string(300, 's'), "claim", "db", "--holder", "h", "--for", "1s"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "--segment")) << r;
  // The longest name allowed is fine.
  r = Run({"claim", std::string(64, 'x'), "--holder", std::string(64, 'h'), "--for", "1s"});
  EXPECT_EQ(r.code, 0) << r;
}

TEST_F(cli_Commands, ForeignOwnerIsRefusedUnlessTrusted) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the segment to another user";
  ASSERT_EQ(Run({"create"}).code, 0);
  const uid_t other = 65534;  // nobody
  ASSERT_EQ(chown(("/dev/shm/" + name()).c_str(), other, static_cast<gid_t>(-1)), 0);
  ToolResult r = Run({"dump"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_TRUE(Contains(r.err, "owned by uid 65534")) << r;
  EXPECT_EQ(Run({"claim", "db", "--holder", "a", "--for", "1h"}).code, 3);
  r = Run({"--trust-owner", "65534", "dump"});
  EXPECT_EQ(r.code, 0) << r;
  r = Run({"claim", "db", "--holder", "a", "--for", "1h", "--trust-owner", "nobody"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(Run({"--trust-any-owner", "check", "db", "--holder", "a"}).code, 0);
}

TEST_F(cli_Commands, ModesWithinTheOwnersReachAreKept) {
  ASSERT_EQ(Run({"create", "--mode", "777"}).code, 0);
  EXPECT_EQ(Json({"stat", "--json"})["mode"], "0777");
  ASSERT_EQ(Run({"destroy"}).code, 0);
  ASSERT_EQ(Run({"create", "--mode", "0600", "--capacity", "1"}).code, 0);
  json stat = Json({"stat", "--json"});
  EXPECT_EQ(stat["mode"], "0600");
  EXPECT_EQ(stat["capacity"], 1);
}

TEST_F(cli_Commands, VersionAndUnknownSubcommand) {
  for (const char* flag : {"--version", "-V"}) {
    ToolResult r = RunTool({flag});
    EXPECT_EQ(r.code, 0) << r;
    EXPECT_TRUE(r.out.rfind("shmlease ", 0) == 0 && r.out.size() > 9 && r.out.back() == '\n' &&
                r.out.find_first_not_of("0123456789.\n", 9) == std::string::npos &&
                Contains(r.out, "."))
        << r;
  }
  ToolResult r = RunTool({"no-such-command"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "unknown subcommand 'no-such-command'")) << r;
  EXPECT_FALSE(Contains(r.err, "is required")) << r;
  r = RunTool({"--segment", name(), "--holder", "h", "claim", "db", "--for", "1s"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "--holder is an option of 'claim' and goes after it")) << r;
}

TEST_F(cli_Commands, NonUtf8NamesGiveValidJson) {
  const std::string lease = "db\xff", holder = "h\xfe\x80", entity = "e\xc3";
  ASSERT_EQ(Run({"claim", lease, "--holder", holder, "--for", "1h"}).code, 0);
  ASSERT_EQ(Run({"pin", lease, "--entity", entity}).code, 0);
  ASSERT_EQ(Run({"pin", "plain", "--entity", entity}).code, 0);
  const std::string bad = "\xef\xbf\xbd";  // U+FFFD in place of each invalid byte.
  ToolResult r = Run({"dump", "--json"});
  ASSERT_EQ(r.code, 0) << r;
  json dump = json::parse(r.out);
  ASSERT_EQ(dump["leases"].size(), 2u) << dump;
  EXPECT_EQ(dump["leases"][0]["lease"], "db" + bad);
  EXPECT_EQ(dump["leases"][0]["holder"], "h" + bad + bad);
  EXPECT_EQ(dump["leases"][0]["pinned_by"][0], "e" + bad);
  r = Run({"pinned", "--json"});
  ASSERT_EQ(r.code, 0) << r;
  json pinned = json::parse(r.out);
  ASSERT_EQ(pinned["leases"].size(), 2u) << pinned;
  EXPECT_EQ(pinned["leases"][0]["lease"], "db" + bad);
  EXPECT_EQ(pinned["leases"][1]["pinned_by"][0], "e" + bad);
  // One object per line while watching, each valid.
  ToolProcess watch({"--segment", name(), "dump", "--json", "--watch", "50ms"});
  for (int i = 0; i < 2; ++i) {
    std::optional<std::string> line = watch.ReadLine();
    ASSERT_TRUE(line);
    EXPECT_EQ(json::parse(*line)["leases"][0]["lease"], "db" + bad);
  }
  // A file-backed segment whose path is not UTF-8.
  ScopedTempDir dir;
  const std::string path = dir.path() + "/seg\xff";
  ASSERT_EQ(RunTool({"--segment", path, "create"}).code, 0);
  r = RunTool({"--segment", path, "stat", "--json"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(json::parse(r.out)["path"], dir.path() + "/seg" + bad);
}

TEST_F(cli_Commands, TextOutputEscapesBytesThatAreNotPrintable) {
  const std::string lease = "db\xff", holder = "h\x9b";
  ASSERT_EQ(Run({"claim", lease, "--holder", holder, "--for", "1h"}).code, 0);
  ASSERT_EQ(Run({"pin", lease, "--entity", "e\xc3\xa9"}).code, 0);
  ToolResult r = Run({"dump"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(OnlyPrintable(r.out)) << r;
  EXPECT_TRUE(Contains(r.out, "db\\xff")) << r;
  EXPECT_TRUE(Contains(r.out, "h\\x9b")) << r;
  EXPECT_TRUE(Contains(r.out, "e\\xc3\\xa9")) << r;
  r = Run({"pinned"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(OnlyPrintable(r.out)) << r;
  EXPECT_TRUE(Contains(r.out, "db\\xff")) << r;
  // -v and the messages that name a lease or holder.
  r = Run({"-v", "claim", lease, "--holder", holder, "--for", "1h"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(OnlyPrintable(r.out) && Contains(r.out, "'h\\x9b'")) << r;
  r = Run({"claim", lease, "--holder", "other", "--for", "1h"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(OnlyPrintable(r.err) && Contains(r.err, "'db\\xff'") && Contains(r.err, "'h\\x9b'"))
      << r;
  // A refused name is echoed escaped: a control character cannot reach the terminal.
  for (const std::string& evil :
       {std::string("a\x1b[2Jb"), std::string("line\nbreak"), std::string("bell\x07")}) {
    for (std::vector<std::string> args :
         {std::vector<std::string>{"claim", evil, "--holder", "h", "--for", "1s"},
          {"claim", "db", "--holder", evil, "--for", "1s"},
          {"--namespace", evil, "dump"}}) {
      r = Run(args);
      EXPECT_EQ(r.code, 2) << r;
      EXPECT_TRUE(OnlyPrintable(r.err)) << r;
      EXPECT_TRUE(EveryLineStartsWith(r.err, "shmlease: ")) << r;
    }
  }
  r = Run({"claim", "a\x1b[2Jb", "--holder", "h", "--for", "1s"});
  EXPECT_TRUE(Contains(r.err, "'a\\x1b[2Jb'")) << r;
  r = Run({"claim", "db", "--holder", "h", "--for", "1\x1bs"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(OnlyPrintable(r.err) && Contains(r.err, "1\\x1bs")) << r;
}

// The number in "(epoch N)" of a verbose claim's output; 0 when there is none.
std::uint64_t EpochSaid(const std::string& out) {
  const std::size_t at = out.find("(epoch ");
  return at == std::string::npos ? 0 : std::strtoull(out.c_str() + at + 7, nullptr, 10);
}

// An extension never shortens a lease: one for less than is left changes
// nothing, and -v says so instead of "extended ... for 10.0s".
TEST_F(cli_Commands, VerboseExtendSaysWhenTheLeaseKeptItsLaterExpiry) {
  ToolResult first = Run({"-v", "claim", "db", "--holder", "alice", "--for", "1h"});
  ASSERT_EQ(first.code, 0) << first;
  const std::string epoch = "(epoch " + std::to_string(EpochSaid(first.out)) + ")";
  ASSERT_NE(EpochSaid(first.out), 0u) << first;
  for (const char* command : {"extend", "claim"}) {
    ToolResult r = Run({"-v", command, "db", "--holder", "alice", "--for", "10s"});
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_EQ(r.out.rfind("kept lease 'db'", 0), 0u) << r;
    EXPECT_TRUE(Contains(r.out, "its expiry in 59m")) << r;
    EXPECT_TRUE(Contains(r.out, "later than 10.0s from now")) << r;
    EXPECT_TRUE(Contains(r.out, epoch)) << r;
  }
  ToolResult r = Run({"-v", "extend", "db", "--holder", "alice", "--for", "2h"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out.rfind("extended lease 'db'", 0), 0u) << r;
  EXPECT_TRUE(Contains(r.out, "for 2h0m0s " + epoch)) << r;
}

TEST_F(cli_Commands, ClaimVerboseSaysExtendedWhenTheHolderHeldIt) {
  ToolResult r = Run({"-v", "claim", "db", "--holder", "alice", "--for", "1h"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out.rfind("claimed lease 'db'", 0), 0u) << r;
  // Epochs start from the wall clock (design.md): compared with each other only.
  const std::uint64_t first = EpochSaid(r.out);
  EXPECT_GT(first, 0u) << r;
  r = Run({"-v", "claim", "db", "--holder", "alice", "--for", "2h"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out.rfind("extended lease 'db'", 0), 0u) << r;
  EXPECT_EQ(EpochSaid(r.out), first) << r;
  ASSERT_EQ(Run({"revoke", "db", "--holder", "alice"}).code, 0);
  r = Run({"-v", "claim", "db", "--holder", "bob", "--for", "1h"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out.rfind("claimed lease 'db'", 0), 0u) << r;
  EXPECT_EQ(EpochSaid(r.out), first + 1) << r;
}

TEST_F(cli_Commands, HelpTextsAgreeWithTheOptions) {
  ToolResult r = RunTool({"dump", "--help"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "--watch INTERVAL")) << r;
  EXPECT_FALSE(Contains(r.out, "TEXT:")) << r;
  for (const char* sub : {"claim", "wait", "create", "pinned", "dump"}) {
    r = RunTool({sub, "--help"});
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_FALSE(Contains(r.out, ":DURATION") || Contains(r.out, "TEXT:")) << r;
    EXPECT_FALSE(Contains(r.out, "The options above")) << r;
    EXPECT_TRUE(Contains(r.out,
                         "Global options (--segment, --namespace, --model, --trust-owner, "
                         "--trust-any-owner, --lock-timeout, -v)"))
        << r;
  }
  r = RunTool({"--help"});
  EXPECT_TRUE(Contains(r.out, "--lock-timeout DURATION=2.0s")) << r;
  // A lock timeout that is no duration, or none at all, is refused, naming the flag.
  for (const char* bad : {"0s", "-1s", "soon"}) {
    r = RunTool({"--lock-timeout", bad, "claim", "db", "--for", "1s"});
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(Contains(r.err, "--lock-timeout")) << r;
  }
  EXPECT_TRUE(Contains(RunTool({"claim", "--help"}).out, "--for DURATION"));
}

TEST_F(cli_Commands, DestroyRefusesAnEmptyFileUnlessForced) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/empty.seg";
  { std::ofstream out(path); }
  ToolResult r = RunTool({"--segment", path, "destroy"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_TRUE(Contains(r.err, "empty") && Contains(r.err, "--force")) << r;
  EXPECT_EQ(access(path.c_str(), F_OK), 0);
  r = RunTool({"--segment", path, "destroy", "--force"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

// A file prepared for the segment (say, for a group) is used as prepared:
// its mode is the preparer's choice, not --mode's.
TEST_F(cli_Commands, AnEmptyFileBecomesASegmentAndKeepsItsMode) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/prepared.seg";
  { std::ofstream out(path); }
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  ToolResult r = RunTool({"--segment", path, "create", "--mode", "0600"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(Contains(r.err, "with mode 0640, not 0600")) << r;
  r = RunTool({"--segment", path, "claim", "db", "--holder", "h", "--for", "1h"});
  ASSERT_EQ(r.code, 0) << r;
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(RunTool({"--segment", path, "check", "db", "--holder", "h"}).code, 0);
}

TEST_F(cli_Commands, DestroyRefusesAForeignOwnerUnlessTrustedOrForced) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the segment to another user";
  const std::string shm_path = "/dev/shm/" + name();
  ASSERT_EQ(Run({"create"}).code, 0);
  ASSERT_EQ(chown(shm_path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  ToolResult r = Run({"destroy"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_TRUE(Contains(r.err, "owned by uid 65534")) << r;
  EXPECT_EQ(access(shm_path.c_str(), F_OK), 0);
  r = Run({"destroy", "--trust-owner", "65534"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_NE(access(shm_path.c_str(), F_OK), 0);

  ASSERT_EQ(Run({"create"}).code, 0);
  ASSERT_EQ(chown(shm_path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  EXPECT_EQ(Run({"--trust-any-owner", "destroy"}).code, 0);
  ASSERT_EQ(Run({"create"}).code, 0);
  ASSERT_EQ(chown(shm_path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  EXPECT_EQ(Run({"destroy", "--force"}).code, 0);
  EXPECT_NE(access(shm_path.c_str(), F_OK), 0);

  // A file path owned by another user, likewise.
  ScopedTempDir dir;
  const std::string path = dir.path() + "/theirs.seg";
  ASSERT_EQ(RunTool({"--segment", path, "create"}).code, 0);
  ASSERT_EQ(chown(path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  EXPECT_EQ(RunTool({"--segment", path, "destroy"}).code, 3);
  EXPECT_EQ(access(path.c_str(), F_OK), 0);
  EXPECT_EQ(RunTool({"--segment", path, "--trust-owner", "nobody", "destroy"}).code, 0);
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace shmlease
