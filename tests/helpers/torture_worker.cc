// One worker of the crash torture test: claims, extends, revokes, pins,
// unpins, checks and waits at random on a few leases until it is killed.
//
//   torture_worker SEGMENT LOG_FILE WORKER_ID SEED
//
// Logs every promise it was given (see torture_record.h) for the parent to
// check for overlaps. Checks one thing itself, at once: a lease it was
// promised is held by it until the promised time (exit 3 otherwise). Any
// error the table should never give here exits 4. It never exits by itself.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "shmlease/shmlease.h"
#include "torture_record.h"

namespace {

using namespace std::chrono_literals;
using shmlease::Errc;
using shmlease::testing::kTortureLeases;
using shmlease::testing::TortureRecord;

std::int64_t Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

shmlease::Key LeaseKey(int i) {
  return shmlease::Key{std::string(shmlease::kSingularControllerNamespace), "torture",
                       "lease-" + std::to_string(i)};
}

int log_fd = -1;
std::uint64_t worker_id = 0;

void Log(std::uint32_t type, int lease, std::int64_t a, std::int64_t b) {
  TortureRecord r{type, static_cast<std::uint32_t>(lease), worker_id, a, b};
  if (write(log_fd, &r, sizeof r) != static_cast<ssize_t>(sizeof r)) std::_Exit(5);
}

[[noreturn]] void Die(int code, const std::string& what, std::error_code ec) {
  std::fprintf(stderr, "torture_worker %llu: %s: %s\n", static_cast<unsigned long long>(worker_id),
               what.c_str(), ec.message().c_str());
  std::_Exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  shmlease::ShmStoreOptions options;
  options.name = argv[1];
  log_fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (log_fd < 0) return 2;
  worker_id = std::strtoull(argv[3], nullptr, 10);
  std::mt19937_64 rng(std::strtoull(argv[4], nullptr, 10));
  std::error_code ec;
  std::string detail;
  auto store = shmlease::ShmStore::Open(options, ec, &detail);
  if (!store) Die(4, "open " + detail, ec);

  const std::string holder = "w" + std::to_string(worker_id);
  std::int64_t promised[kTortureLeases] = {};  // Local view: my promise's end per lease.
  std::vector<shmlease::Token> tokens;
  for (int i = 0; i < kTortureLeases; ++i) tokens.emplace_back(store, LeaseKey(i), holder);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  for (;;) {
    const int lease = pick(kTortureLeases);
    const shmlease::Key key = LeaseKey(lease);
    const int op = pick(100);
    if (op < 35) {  // Claim, or extend a lease already held.
      const auto d = std::chrono::microseconds(500 + pick(20'000));
      const std::int64_t t0 = Now();
      ec = store->ClaimOrExtendLease(key, {holder, d});
      const std::int64_t t1 = Now();
      if (!ec) {
        const std::int64_t end = t0 + std::chrono::nanoseconds(d).count();
        Log(shmlease::testing::kPromise, lease, t1, end);
        if (end > promised[lease]) promised[lease] = end;
      } else if (ec != Errc::claim_denied && ec != Errc::table_full) {
        Die(4, "claim", ec);
      }
    } else if (op < 60) {  // Check.
      // Tokens live across operations, so their cached fast path is what gets checked.
      ec = tokens[lease].Check();
      const std::int64_t t1 = Now();
      if (ec && t1 < promised[lease])
        Die(3, "promised lease " + std::to_string(lease) + " not held", ec);
    } else if (op < 70) {  // Revoke, mostly what I hold.
      if (promised[lease] == 0 && pick(4) != 0) continue;
      Log(shmlease::testing::kRevoke, lease, Now(), 0);
      promised[lease] = 0;
      ec = store->RevokeLease(key, holder);
      if (ec && ec != Errc::invalid && ec != Errc::not_held) Die(4, "revoke", ec);
    } else if (op < 80) {
      ec = store->PinLease(key, "e" + std::to_string(pick(3)));
      if (ec && ec != Errc::table_full && ec != Errc::too_many_pins) Die(4, "pin", ec);
    } else if (op < 92) {
      ec = store->UnpinLease(key, "e" + std::to_string(pick(3)));
      if (ec) Die(4, "unpin", ec);
    } else {  // Wait a little for a lease I am not promised to be free.
      if (promised[lease] > Now()) continue;
      std::stop_source stop;
      std::jthread timer([&stop](std::stop_token st) {
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock lock(m);
        cv.wait_for(lock, st, 20ms, [] { return false; });
        stop.request_stop();
      });
      const std::int64_t t0 = Now();
      ec = store->WaitUntilFree(key, stop.get_token());
      const std::int64_t t1 = Now();
      if (!ec) {
        Log(shmlease::testing::kWaitedFree, lease, t0, t1);
      } else if (ec != Errc::wait_cancelled) {
        Die(4, "wait", ec);
      }
    }
  }
}
