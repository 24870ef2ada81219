// Leader election with shmlease: several processes compete for one lease;
// the leader is killed; another takes over once the lease runs out.
//
// Each candidate is a separate process that maps the same segment. The
// parent only watches: it prints the lease table at each step and kills the
// current leader with SIGKILL, which gives the lease no chance to be revoked,
// so the next leader has to wait for it to expire, exactly as in production.
//
// Usage: elect_leader [--candidates N] [--lease-ms MS] [--rounds R]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "shmlease/shmlease.h"

namespace {

using namespace std::chrono_literals;
using shmlease::kSingularControllerNamespace;

constexpr const char* kLease = "demo-leader";

struct Config {
  int candidates = 3;
  std::chrono::milliseconds lease{1500};
  int rounds = 2;
};

// What a candidate tells the parent: "I became leader" (its pid), one record per write.
struct Event {
  pid_t pid;
  std::uint64_t epoch;
};

[[noreturn]] void Die(const char* what, std::error_code ec, const std::string& detail = "") {
  std::fprintf(stderr, "elect_leader: %s: %s%s%s\n", what, ec.message().c_str(),
               detail.empty() ? "" : ": ", detail.c_str());
  std::exit(1);
}

// A candidate: claim, or wait for the lease to end and claim again. While
// leader, extend at a third of the lease and check the token before each
// unit of work, the way a real singleton job would.
[[noreturn]] void RunCandidate(const std::string& segment, const Config& cfg, int events_fd) {
  std::error_code ec;
  std::string detail;
  shmlease::ShmStoreOptions options;
  options.name = segment;
  auto store = shmlease::ShmStore::Open(options, ec, &detail);
  if (!store) Die("open", ec, detail);
  shmlease::Manager leases(store);
  auto claimer = leases.Claimer(kSingularControllerNamespace, "local", ec);
  auto checker = leases.Checker(kSingularControllerNamespace, "local", ec);
  if (ec) Die("manager", ec);
  const std::string holder = "pid-" + std::to_string(getpid());
  shmlease::Token token = checker->Token(kLease, holder);
  bool announced = false;
  for (;;) {
    ec = claimer->Claim(kLease, holder, cfg.lease);
    if (ec == shmlease::ErrClaimDenied) {
      announced = false;
      if (std::error_code wait = claimer->WaitUntilExpired(kLease)) Die("wait", wait);
      continue;
    }
    if (ec) Die("claim", ec);
    if (!announced) {
      shmlease::LeaseMap held;
      const shmlease::Key key{std::string(kSingularControllerNamespace), "local", kLease};
      store->Leases(&held, {&key, 1});
      Event e{getpid(), held.count(key) ? held[key].epoch : 0};
      if (write(events_fd, &e, sizeof e) != sizeof e) std::exit(1);
      announced = true;
    }
    // Work in small units until it is time to extend, checking leadership before each.
    auto extend_at = std::chrono::steady_clock::now() + cfg.lease / 3;
    while (std::chrono::steady_clock::now() < extend_at && !token.Check()) {
      std::this_thread::sleep_for(10ms);  // One unit of "work".
    }
  }
}

void PrintTable(const shmlease::ShmStore& store, const char* heading) {
  std::vector<shmlease::LeaseEntry> entries;
  if (std::error_code ec = store.Snapshot(&entries)) Die("snapshot", ec);
  const auto now = store.Now();
  std::printf("\n== %s\n", heading);
  std::printf("  %-20s %-6s %-12s %-12s %10s  %s\n", "NAMESPACE", "MODEL", "LEASE", "HOLDER",
              "EXPIRES-IN", "EPOCH");
  if (entries.empty()) std::printf("  (no leases)\n");
  for (const auto& e : entries) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(e.info.expiry - now);
    std::printf("  %-20s %-6s %-12s %-12s %8lldms  %llu\n", e.key.ns.c_str(),
                e.key.model_uuid.c_str(), e.key.lease.c_str(), e.held ? e.info.holder.c_str() : "-",
                static_cast<long long>(left.count()),
                static_cast<unsigned long long>(e.info.epoch));
  }
  std::fflush(stdout);
}

Event NextLeader(int events_fd) {
  Event e{};
  if (read(events_fd, &e, sizeof e) != sizeof e) {
    std::fprintf(stderr, "elect_leader: candidates stopped reporting\n");
    std::exit(1);
  }
  return e;
}

Config ParseArgs(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int value = std::atoi(argv[i + 1]);
    if (value <= 0) {
      std::fprintf(stderr, "elect_leader: %s needs a positive number\n", flag.c_str());
      std::exit(2);
    }
    if (flag == "--candidates") {
      cfg.candidates = value;
    } else if (flag == "--lease-ms") {
      cfg.lease = std::chrono::milliseconds(value);
    } else if (flag == "--rounds") {
      cfg.rounds = value;
    } else {
      std::fprintf(stderr, "usage: elect_leader [--candidates N] [--lease-ms MS] [--rounds R]\n");
      std::exit(2);
    }
  }
  if (cfg.rounds >= cfg.candidates) cfg.rounds = cfg.candidates - 1;
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = ParseArgs(argc, argv);
  const std::string segment = "shmlease-demo-" + std::to_string(getpid());
  std::error_code ec;
  std::string detail;
  shmlease::ShmStoreOptions options;
  options.name = segment;
  options.capacity = 16;
  auto store = shmlease::ShmStore::OpenOrCreate(options, ec, &detail);
  if (!store) Die("create", ec, detail);
  std::printf("segment %s, %d candidates, lease %lld ms\n",
              shmlease::ShmStore::PathOf(segment).c_str(), cfg.candidates,
              static_cast<long long>(cfg.lease.count()));

  int events[2];
  if (pipe(events) != 0) Die("pipe", std::error_code(errno, std::generic_category()));
  std::vector<pid_t> candidates;
  for (int i = 0; i < cfg.candidates; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      close(events[0]);
      RunCandidate(segment, cfg, events[1]);
    }
    candidates.push_back(pid);
    std::printf("candidate %d started as pid %d\n", i + 1, pid);
  }
  close(events[1]);

  Event leader = NextLeader(events[0]);
  std::printf("\npid %d is the leader (epoch %llu)\n", leader.pid,
              static_cast<unsigned long long>(leader.epoch));
  PrintTable(*store, "lease table after the election");
  for (int round = 0; round < cfg.rounds; ++round) {
    // Let the leader work for a while: it extends its lease well before it runs out.
    std::this_thread::sleep_for(cfg.lease);
    PrintTable(*store, "lease table one lease period later: the leader kept extending");
    kill(leader.pid, SIGKILL);
    waitpid(leader.pid, nullptr, 0);
    std::printf("\nkilled the leader, pid %d, with SIGKILL: its lease stays until it runs out\n",
                leader.pid);
    PrintTable(*store, "lease table right after the kill");
    auto killed_at = std::chrono::steady_clock::now();
    leader = NextLeader(events[0]);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - killed_at);
    std::printf("\npid %d took over %lld ms after the kill (epoch %llu)\n", leader.pid,
                static_cast<long long>(took.count()),
                static_cast<unsigned long long>(leader.epoch));
    PrintTable(*store, "lease table after the failover");
  }

  for (pid_t pid : candidates) kill(pid, SIGTERM);
  for (pid_t pid : candidates) waitpid(pid, nullptr, 0);
  shmlease::ShmStats stats;
  store->GetStats(&stats);
  std::printf("\n%llu claims, %llu extensions, %llu recoveries; removing %s\n",
              static_cast<unsigned long long>(stats.claims),
              static_cast<unsigned long long>(stats.extensions),
              static_cast<unsigned long long>(stats.recoveries), stats.path.c_str());
  shmlease::ShmStore::Destroy(segment);
  return 0;
}
