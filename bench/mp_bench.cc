// Multi-process benchmarks of shmlease and its peers (flock, fcntl OFD locks,
// a robust pthread mutex in shared memory, and a Redis lease when built with
// hiredis and $SHMLEASE_BENCH_REDIS_PORT names a running server).
//
// Every figure comes from real processes made with fork(). Timestamps are
// CLOCK_MONOTONIC in every process, so a time taken in one process can be
// subtracted from one taken in another; they travel through pipes.
//
//   contention  N processes (1, 2, 4, 8) each loop "acquire, release" on one
//               shared lease, or each on its own lease; aggregate cycles/s.
//   wakeup      A holds; B blocks waiting; A releases; time from just before
//               A's release call to B's return.
//   expiry      A claims for 10-15 ms; B waits; how long after the expiry B returns.
//   failover    A holds and is SIGKILLed; B was waiting; time from the kill to
//               B holding the lease (and, for expiring leases, beyond expiry).
//
// Usage: shmlease_mp_bench [--out FILE.json] [--samples DIR] [--quick]
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "shmlease/shmlease.h"
#ifdef SHMLEASE_BENCH_REDIS
#include "redis_lease.h"
#endif

namespace {

using namespace std::chrono_literals;
using bench::NowNs;

constexpr int kMaxProcs = 8;
constexpr int kMaxLeases = 16;

// Coordination state shared by the parent and its children.
struct Shared {
  std::atomic<int> ready;
  std::atomic<int> go;
  std::atomic<int> stop;
  std::atomic<std::uint64_t> cycles[kMaxProcs];
  pthread_mutex_t mutexes[kMaxLeases];  // The robust-mutex peer's "leases".
};
Shared* g_shared = nullptr;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "mp_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(2);
}

void WriteI64(int fd, std::int64_t v) {
  if (write(fd, &v, sizeof v) != sizeof v) Die("pipe write");
}
std::int64_t ReadI64(int fd) {
  std::int64_t v;
  if (read(fd, &v, sizeof v) != sizeof v) Die("pipe read");
  return v;
}

struct Pipe {
  Pipe() {
    if (pipe(fds) != 0) Die("pipe");
  }
  ~Pipe() {
    close(fds[0]);
    close(fds[1]);
  }
  int r() const { return fds[0]; }
  int w() const { return fds[1]; }
  int fds[2];
};

std::string Holder(int i) { return "holder-" + std::to_string(i); }

// One way to arbitrate a lease between processes.
class Peer {
 public:
  virtual ~Peer() = default;
  virtual std::string Name() const = 0;
  // Opens this process's own handles; called in every process after fork().
  virtual void Attach() = 0;
  // Blocks until `holder` holds lease `lease`; `duration` matters only to
  // peers with an expiry.
  virtual void Acquire(int lease, const std::string& holder, std::chrono::nanoseconds duration) = 0;
  virtual void Release(int lease, const std::string& holder) = 0;
  // Blocks until the lease is free (a lock peer does so by taking it), calls
  // `started` once the wait is in place, and returns CLOCK_MONOTONIC at the
  // return. A lock peer then gives the lock back. nullopt: no such operation.
  virtual std::optional<std::int64_t> WaitFree(int lease, const std::string& holder,
                                               const std::function<void()>& started) = 0;
  // Waits (as WaitFree) until it can take the lease, then holds it; returns
  // the time it holds it.
  virtual std::int64_t AcquireWhenFree(int lease, const std::string& holder,
                                       std::chrono::nanoseconds duration,
                                       const std::function<void()>& started) = 0;
  // The expiry of a held lease (CLOCK_MONOTONIC ns), when the peer has one.
  virtual std::optional<std::int64_t> Expiry(int lease) = 0;
  virtual bool HasExpiry() const = 0;
};

class ShmleasePeer final : public Peer {
 public:
  explicit ShmleasePeer(std::string segment) : segment_(std::move(segment)) {
    // Names are made once, as a user keeps the name of the lease it contends
    // for: formatting one costs more than the claim (snprintf, ~150 ns).
    for (int i = 0; i < kMaxLeases; ++i) names_[i] = bench::LeaseName(i);
  }
  std::string Name() const override { return "shmlease"; }
  void Attach() override {
    std::error_code ec;
    store_ = shmlease::ShmStore::Open(bench::Options(segment_), ec);
    if (!store_) Die(("open " + segment_ + ": " + ec.message()).c_str());
    shmlease::Manager m(store_);
    claimer_ = m.Claimer(kNs, bench::kModel, ec);
    revoker_ = m.Revoker(kNs, bench::kModel, ec);
  }
  void Acquire(int lease, const std::string& holder, std::chrono::nanoseconds d) override {
    const std::string& name = names_[lease];
    for (;;) {
      std::error_code ec = claimer_->Claim(name, holder, d);
      if (!ec) return;
      if (ec != shmlease::Errc::claim_denied) Die(("claim: " + ec.message()).c_str());
      claimer_->WaitUntilExpired(name);
    }
  }
  void Release(int lease, const std::string& holder) override {
    revoker_->Revoke(names_[lease], holder);
  }
  std::optional<std::int64_t> WaitFree(int lease, const std::string&,
                                       const std::function<void()>& started) override {
    claimer_->WaitUntilExpired(names_[lease], {}, started);
    return NowNs();
  }
  std::int64_t AcquireWhenFree(int lease, const std::string& holder, std::chrono::nanoseconds d,
                               const std::function<void()>& started) override {
    const std::string& name = names_[lease];
    bool announced = false;
    for (;;) {
      claimer_->WaitUntilExpired(name, {}, [&] {
        if (!announced) started();
        announced = true;
      });
      if (!claimer_->Claim(name, holder, d)) return NowNs();
    }
  }
  std::optional<std::int64_t> Expiry(int lease) override {
    shmlease::LeaseMap leases;
    const shmlease::Key keys[] = {{std::string(kNs), std::string(bench::kModel), names_[lease]}};
    if (store_->Leases(&leases, keys) || leases.empty()) return std::nullopt;
    return leases.begin()->second.expiry.time_since_epoch().count();
  }
  bool HasExpiry() const override { return true; }

 private:
  static constexpr std::string_view kNs = shmlease::kSingularControllerNamespace;
  std::string segment_;
  std::string names_[kMaxLeases];
  std::shared_ptr<shmlease::ShmStore> store_;
  std::unique_ptr<shmlease::Claimer> claimer_;
  std::unique_ptr<shmlease::Revoker> revoker_;
};

// Base of the three lock peers: no expiry, the wait is a blocking acquire.
class LockPeer : public Peer {
 public:
  std::optional<std::int64_t> WaitFree(int lease, const std::string& holder,
                                       const std::function<void()>& started) override {
    started();
    Acquire(lease, holder, 0ns);
    const std::int64_t t = NowNs();
    Release(lease, holder);
    return t;
  }
  std::int64_t AcquireWhenFree(int lease, const std::string& holder, std::chrono::nanoseconds,
                               const std::function<void()>& started) override {
    started();
    Acquire(lease, holder, 0ns);
    return NowNs();
  }
  std::optional<std::int64_t> Expiry(int) override { return std::nullopt; }
  bool HasExpiry() const override { return false; }
};

// One lock file per lease; each process opens its own descriptions.
class FlockPeer final : public LockPeer {
 public:
  explicit FlockPeer(std::string dir) : dir_(std::move(dir)) {}
  std::string Name() const override { return "flock"; }
  void Attach() override {
    for (int i = 0; i < kMaxLeases; ++i) {
      if (fds_[i] >= 0) close(fds_[i]);
      fds_[i] =
          open((dir_ + "/flock-" + std::to_string(i)).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fds_[i] < 0) Die("open lock file");
    }
  }
  void Acquire(int lease, const std::string&, std::chrono::nanoseconds) override {
    while (flock(fds_[lease], LOCK_EX) != 0) {
      if (errno != EINTR) Die("flock");
    }
  }
  void Release(int lease, const std::string&) override { flock(fds_[lease], LOCK_UN); }

 private:
  std::string dir_;
  int fds_[kMaxLeases] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
};

// One file; lease i is the byte at offset i.
class OfdPeer final : public LockPeer {
 public:
  explicit OfdPeer(std::string dir) : path_(dir + "/ofd") {}
  std::string Name() const override { return "ofd"; }
  void Attach() override {
    if (fd_ >= 0) close(fd_);
    fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) Die("open lock file");
  }
  void Acquire(int lease, const std::string&, std::chrono::nanoseconds) override {
    while (Lock(lease, F_WRLCK, F_OFD_SETLKW) != 0) {
      if (errno != EINTR) Die("F_OFD_SETLKW");
    }
  }
  void Release(int lease, const std::string&) override { Lock(lease, F_UNLCK, F_OFD_SETLK); }

 private:
  int Lock(int lease, short type, int cmd) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = lease;
    fl.l_len = 1;
    return fcntl(fd_, cmd, &fl);
  }
  std::string path_;
  int fd_ = -1;
};

class MutexPeer final : public LockPeer {
 public:
  MutexPeer() {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    for (auto& m : g_shared->mutexes) pthread_mutex_init(&m, &a);
    pthread_mutexattr_destroy(&a);
  }
  std::string Name() const override { return "mutex"; }
  void Attach() override {}
  void Acquire(int lease, const std::string&, std::chrono::nanoseconds) override {
    int rc = pthread_mutex_lock(&g_shared->mutexes[lease]);
    // The previous owner died holding it (failover): we own it now.
    if (rc == EOWNERDEAD) pthread_mutex_consistent(&g_shared->mutexes[lease]);
  }
  void Release(int lease, const std::string&) override {
    pthread_mutex_unlock(&g_shared->mutexes[lease]);
  }
};

#ifdef SHMLEASE_BENCH_REDIS
// Redis has no blocking wait for a key to go: a client retries. Contention
// retries at once (the most a client can get); failover polls every 1 ms.
class RedisPeer final : public Peer {
 public:
  explicit RedisPeer(int port)
      : port_(port), prefix_("shmlease-bench:" + std::to_string(getpid())) {}
  std::string Name() const override { return "redis"; }
  void Attach() override {
    std::string error;
    r_ = bench::RedisLease::Connect(port_, &error);
    if (!r_) Die(("redis: " + error).c_str());
  }
  void Acquire(int lease, const std::string& holder, std::chrono::nanoseconds d) override {
    while (!r_->Claim(Key(lease), holder, Ms(d))) {
    }
  }
  void Release(int lease, const std::string& holder) override { r_->Revoke(Key(lease), holder); }
  std::optional<std::int64_t> WaitFree(int, const std::string&,
                                       const std::function<void()>&) override {
    return std::nullopt;
  }
  std::int64_t AcquireWhenFree(int lease, const std::string& holder, std::chrono::nanoseconds d,
                               const std::function<void()>& started) override {
    started();
    while (!r_->Claim(Key(lease), holder, Ms(d))) bench::SleepNs(1'000'000);
    return NowNs();
  }
  std::optional<std::int64_t> Expiry(int) override { return std::nullopt; }
  bool HasExpiry() const override { return true; }
  void Clear() {
    for (int i = 0; i < kMaxLeases; ++i) r_->Delete(Key(i));
  }

 private:
  static long long Ms(std::chrono::nanoseconds d) {
    return std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  }
  std::string Key(int lease) const { return prefix_ + ":" + std::to_string(lease); }
  int port_;
  std::string prefix_;
  std::unique_ptr<bench::RedisLease> r_;
};
#endif

// ------------------------------------------------------------ scenarios

template <typename Fn>
pid_t Fork(Fn fn) {
  pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    alarm(120);  // A child that deadlocks must not hang the benchmark run.
    fn();
    _exit(0);
  }
  return pid;
}

void Reap(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

struct Stats {
  double p50 = 0, p99 = 0, min = 0, max = 0;
  std::size_t n = 0;
};
Stats Summarise(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  s.n = v.size();
  s.p50 = bench::Quantile(v, 0.5);
  s.p99 = bench::Quantile(v, 0.99);
  s.min = v.front();
  s.max = v.back();
  return s;
}

std::string StatsJson(const Stats& s) {
  char buf[256];
  std::snprintf(
      buf, sizeof buf,
      "\"p50_ns\": %.0f, \"p99_ns\": %.0f, \"min_ns\": %.0f, \"max_ns\": %.0f, \"n\": %zu", s.p50,
      s.p99, s.min, s.max, s.n);
  return buf;
}

// Aggregate acquire+release cycles per second of `procs` processes.
double Contention(Peer& peer, int procs, bool shared_lease, std::chrono::milliseconds run) {
  g_shared->ready = 0;
  g_shared->go = 0;
  g_shared->stop = 0;
  std::vector<pid_t> pids;
  for (int p = 0; p < procs; ++p) {
    pids.push_back(Fork([&, p] {
      peer.Attach();
      const int lease = shared_lease ? 0 : p;
      const std::string holder = Holder(p);
      g_shared->ready.fetch_add(1);
      while (!g_shared->go.load()) sched_yield();
      std::uint64_t n = 0;
      while (!g_shared->stop.load(std::memory_order_relaxed)) {
        peer.Acquire(lease, holder, 10s);
        peer.Release(lease, holder);
        ++n;
      }
      g_shared->cycles[p] = n;
    }));
  }
  while (g_shared->ready.load() < procs) sched_yield();
  const std::int64_t t0 = NowNs();
  g_shared->go = 1;
  bench::SleepNs(std::chrono::nanoseconds(run).count());
  g_shared->stop = 1;
  const std::int64_t t1 = NowNs();
  std::uint64_t total = 0;
  for (int p = 0; p < procs; ++p) {
    Reap(pids[p]);
    total += g_shared->cycles[p];
  }
  return static_cast<double>(total) / (static_cast<double>(t1 - t0) * 1e-9);
}

// A releases, B returns from its wait: samples in ns.
std::vector<double> Wakeup(Peer& peer, int samples) {
  constexpr int kLease = 1;
  Pipe go, ready, result;
  pid_t b = Fork([&] {
    peer.Attach();
    for (int k = 0; k < samples; ++k) {
      ReadI64(go.r());
      std::optional<std::int64_t> t =
          peer.WaitFree(kLease, Holder(1), [&] { WriteI64(ready.w(), 0); });
      WriteI64(result.w(), t.value_or(-1));
    }
  });
  peer.Attach();
  std::vector<double> out;
  for (int k = 0; k < samples; ++k) {
    peer.Acquire(kLease, Holder(0), 10s);
    WriteI64(go.w(), 0);
    ReadI64(ready.r());
    bench::SleepNs(200'000);  // Lets B get into its blocking call and to sleep.
    const std::int64_t t_release = NowNs();
    peer.Release(kLease, Holder(0));
    const std::int64_t t_return = ReadI64(result.r());
    out.push_back(static_cast<double>(t_return - t_release));
  }
  Reap(b);
  return out;
}

// A claims for 10-15 ms; B waits; B's return minus the expiry, in ns. Long
// enough for B's whole spin before the expiry (ShmStoreOptions::expiry_spin,
// 1 ms, at most a quarter of the wait), as with any lease of 4 ms or more.
std::vector<double> ExpiryLateness(Peer& peer, int samples) {
  constexpr int kLease = 2;
  Pipe expiry, result;
  pid_t b = Fork([&] {
    peer.Attach();
    for (int k = 0; k < samples; ++k) {
      const std::int64_t e = ReadI64(expiry.r());
      std::optional<std::int64_t> t = peer.WaitFree(kLease, Holder(1), [] {});
      WriteI64(result.w(), *t - e);
    }
  });
  peer.Attach();
  std::mt19937_64 rng(11);
  std::vector<double> out;
  for (int k = 0; k < samples; ++k) {
    peer.Acquire(kLease, Holder(0), std::chrono::nanoseconds(10'000'000 + rng() % 5'000'000));
    WriteI64(expiry.w(), *peer.Expiry(kLease));
    out.push_back(static_cast<double>(ReadI64(result.r())));
  }
  Reap(b);
  return out;
}

struct Failover {
  std::vector<double> kill_to_hold, beyond_expiry;
  int expired_before_kill = 0;
};

// A holds (lease of `lease_ms` where the peer has expiry) and is SIGKILLed at
// a random point 1 ms .. 1 ms + lease_ms/4 after B started waiting.
Failover FailoverRun(Peer& peer, int trials, int lease_ms) {
  constexpr int kLease = 3;
  const auto duration = std::chrono::milliseconds(lease_ms);
  std::mt19937_64 rng(13);
  Failover f;
  for (int k = 0; k < trials; ++k) {
    Pipe held, ready, result;
    pid_t a = Fork([&] {
      peer.Attach();
      const std::int64_t before = NowNs();
      peer.Acquire(kLease, Holder(0), duration);
      // shmlease reports the exact expiry; for Redis the time before the SET
      // plus the TTL is an early bound, so "beyond expiry" is an upper bound.
      std::optional<std::int64_t> e = peer.Expiry(kLease);
      WriteI64(
          held.w(),
          e ? *e : (peer.HasExpiry() ? before + std::chrono::nanoseconds(duration).count() : 0));
      for (;;) pause();
    });
    const std::int64_t expiry = ReadI64(held.r());
    pid_t b = Fork([&] {
      peer.Attach();
      const std::int64_t t =
          peer.AcquireWhenFree(kLease, Holder(1), duration, [&] { WriteI64(ready.w(), 0); });
      WriteI64(result.w(), t);
      peer.Release(kLease, Holder(1));
    });
    ReadI64(ready.r());
    const std::int64_t delay = 1'000'000 + static_cast<std::int64_t>(rng() % (lease_ms * 250'000));
    bench::SleepNs(delay);
    const std::int64_t t_kill = NowNs();
    kill(a, SIGKILL);
    Reap(a);
    const std::int64_t t_hold = ReadI64(result.r());
    Reap(b);
    // On a loaded machine the set-up (two forks) can outlast the lease: then
    // the kill came after expiry and the trial measures nothing; count it.
    if (expiry > 0 && t_kill >= expiry) {
      ++f.expired_before_kill;
      continue;
    }
    f.kill_to_hold.push_back(static_cast<double>(t_hold - t_kill));
    if (expiry > 0) f.beyond_expiry.push_back(static_cast<double>(t_hold - expiry));
  }
  return f;
}

void SaveSamples(const std::string& dir, const std::string& name, const std::vector<double>& v) {
  if (dir.empty()) return;
  FILE* f = std::fopen((dir + "/" + name).c_str(), "w");
  if (!f) Die("write samples");
  for (double x : v) std::fprintf(f, "%.0f\n", x);
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path, samples_dir;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (a == "--samples" && i + 1 < argc) {
      samples_dir = argv[++i];
    } else if (a == "--quick") {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: %s [--out FILE.json] [--samples DIR] [--quick]\n", argv[0]);
      return 2;
    }
  }
  alarm(300);
  void* mem =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) Die("mmap");
  g_shared = new (mem) Shared{};

  const std::string segment = bench::SegmentName("mp");
  shmlease::ShmStore::Destroy(segment);
  std::error_code ec;
  auto store = shmlease::ShmStore::OpenOrCreate(bench::Options(segment, 4096), ec);
  if (!store) Die(("create segment: " + ec.message()).c_str());
  char tmpl[] = "/tmp/shmlease-mp-bench-XXXXXX";
  const std::string dir = mkdtemp(tmpl);

  std::vector<std::unique_ptr<Peer>> peers;
  peers.push_back(std::make_unique<ShmleasePeer>(segment));
  peers.push_back(std::make_unique<FlockPeer>(dir));
  peers.push_back(std::make_unique<OfdPeer>(dir));
  peers.push_back(std::make_unique<MutexPeer>());
  std::string redis_note = "not built (hiredis not found)";
#ifdef SHMLEASE_BENCH_REDIS
  RedisPeer* redis = nullptr;
  if (int port = bench::RedisLease::PortFromEnv()) {
    auto r = std::make_unique<RedisPeer>(port);
    redis = r.get();
    peers.push_back(std::move(r));
    redis_note = "";
  } else {
    redis_note = "SHMLEASE_BENCH_REDIS_PORT not set";
  }
#endif

  const auto run = quick ? 100ms : 300ms;
  const int wake_samples = quick ? 100 : 1000;
  const int expiry_samples = quick ? 50 : 300;
  std::string json = "{\n  \"redis_note\": \"" + redis_note + "\",\n  \"contention\": [\n";
  bool first = true;
  for (auto& peer : peers) {
    for (bool shared : {true, false}) {
      for (int procs : {1, 2, 4, 8}) {
        const double rate = Contention(*peer, procs, shared, run);
        std::fprintf(stderr, "contention %-8s %-10s %d procs: %.0f cycles/s\n",
                     peer->Name().c_str(), shared ? "one_lease" : "own_lease", procs, rate);
        char buf[256];
        std::snprintf(
            buf, sizeof buf,
            "%s    {\"peer\": \"%s\", \"mode\": \"%s\", \"procs\": %d, \"cycles_per_s\": %.0f}",
            first ? "" : ",\n", peer->Name().c_str(), shared ? "one_lease" : "own_lease", procs,
            rate);
        json += buf;
        first = false;
      }
    }
  }
  json += "\n  ],\n  \"wakeup\": [\n";
  first = true;
  for (auto& peer : peers) {
    std::vector<double> samples;
    std::string line;
    if (peer->Name() == "redis") {
      line = "\"unsupported\": \"Redis has no blocking wait for a key to go; a client polls\"";
    } else {
      samples = Wakeup(*peer, wake_samples);
      SaveSamples(samples_dir, "wakeup_" + peer->Name() + ".txt", samples);
      line = StatsJson(Summarise(samples));
    }
    std::fprintf(stderr, "wakeup %-8s %s\n", peer->Name().c_str(), line.c_str());
    json += (first ? "" : ",\n") + ("    {\"peer\": \"" + peer->Name() + "\", " + line + "}");
    first = false;
  }
  json += "\n  ],\n  \"expiry\": [\n";
  first = true;
  for (auto& peer : peers) {
    std::string line;
    if (peer->Name() == "shmlease") {
      std::vector<double> samples = ExpiryLateness(*peer, expiry_samples);
      SaveSamples(samples_dir, "expiry_shmlease.txt", samples);
      line = StatsJson(Summarise(samples));
    } else if (peer->HasExpiry()) {
      line =
          "\"unsupported\": \"keys expire, but there is no blocking wait for it; a client polls\"";
    } else {
      line = "\"unsupported\": \"a lock has no expiry\"";
    }
    std::fprintf(stderr, "expiry %-8s %s\n", peer->Name().c_str(), line.c_str());
    json += (first ? "" : ",\n") + ("    {\"peer\": \"" + peer->Name() + "\", " + line + "}");
    first = false;
  }
  json += "\n  ],\n  \"failover\": [\n";
  first = true;
  for (auto& peer : peers) {
    // Long enough that B is waiting well before the lease runs out, even on a loaded machine.
    const int lease_ms = 50;
    Failover f =
        FailoverRun(*peer, peer->HasExpiry() ? (quick ? 10 : 40) : (quick ? 20 : 100), lease_ms);
    Stats k = Summarise(f.kill_to_hold);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "    {\"peer\": \"%s\", \"lease_ms\": %d, \"kill_to_hold_p50_ns\": %.0f, "
                  "\"kill_to_hold_p99_ns\": %.0f, \"n\": %zu, \"expired_before_kill\": %d",
                  peer->Name().c_str(), peer->HasExpiry() ? lease_ms : 0, k.p50, k.p99, k.n,
                  f.expired_before_kill);
    std::string line = buf;
    if (!f.beyond_expiry.empty()) {
      Stats e = Summarise(f.beyond_expiry);
      std::snprintf(buf, sizeof buf,
                    ", \"beyond_expiry_p50_ns\": %.0f, \"beyond_expiry_p99_ns\": %.0f", e.p50,
                    e.p99);
      line += buf;
    }
    std::fprintf(stderr, "failover %s\n", line.c_str());
    json += (first ? "" : ",\n") + line + "}";
    first = false;
  }
  json += "\n  ]\n}\n";

#ifdef SHMLEASE_BENCH_REDIS
  if (redis) {
    redis->Attach();
    redis->Clear();
  }
#endif
  store.reset();
  shmlease::ShmStore::Destroy(segment);
  for (int i = 0; i < kMaxLeases; ++i) unlink((dir + "/flock-" + std::to_string(i)).c_str());
  unlink((dir + "/ofd").c_str());
  rmdir(dir.c_str());

  if (out_path.empty()) {
    std::fputs(json.c_str(), stdout);
  } else {
    FILE* f = std::fopen(out_path.c_str(), "w");
    if (!f) Die("write output");
    std::fputs(json.c_str(), f);
    std::fclose(f);
  }
  return 0;
}
