// Single-process benchmarks of shmlease and of what a user would use instead
// (flock, fcntl OFD locks, a robust pthread mutex in shared memory, Redis).
//
// Method. An operation of a few nanoseconds cannot be timed one at a time:
// the two clock reads around it cost more than it does. So every benchmark
// iteration runs a *batch* of `batch` operations between two CLOCK_MONOTONIC
// reads and records the batch's mean cost per operation as one sample.
//   - The reported time (manual time) is the mean over all samples.
//   - p50_ns and p99_ns are percentiles of the samples. p50 is the typical cost
//     of one operation; p99 shows how often something (an interrupt, a
//     preemption, a cache or TLB miss burst) slowed a whole batch. A single
//     slow operation shows up in its batch's mean divided by `batch`, so the
//     tails of fast operations are smoothed, which the batch size
//     (a counter in the output) tells the reader.
//   - Slow operations (Redis round trips, Leases(), opening a segment) use
//     batch = 1: true per-operation percentiles.
// Untimed set-up and clean-up (e.g. revoking what a "claim of a free lease"
// batch claimed) happen outside the two clock reads.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "bench_util.h"
#include "shmlease/shmlease.h"
#ifdef SHMLEASE_BENCH_REDIS
#include "redis_lease.h"
#endif

namespace {

using namespace std::chrono_literals;
using shmlease::ShmStore;

constexpr std::string_view kNs = shmlease::kSingularControllerNamespace;
const std::string kHolder = "holder-a";
const std::string kOther = "holder-b";
constexpr auto kLong = std::chrono::hours(1);

void Report(benchmark::State& state, std::vector<double>& samples, int batch) {
  state.counters["p50_ns"] = bench::Quantile(samples, 0.50);
  state.counters["p99_ns"] = bench::Quantile(samples, 0.99);
  state.counters["batch"] = batch;
}

// Times `op(i)` for i in [0, batch) per iteration; `before` and `after` run
// untimed around each batch.
template <typename Before, typename Op, typename After>
void Batched(benchmark::State& state, int batch, Before before, Op op, After after) {
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    before();
    const std::int64_t t0 = bench::NowNs();
    for (int i = 0; i < batch; ++i) op(i);
    const double per_op = static_cast<double>(bench::NowNs() - t0) / batch;
    after();
    samples.push_back(per_op);
    state.SetIterationTime(per_op * 1e-9);
  }
  Report(state, samples, batch);
}

template <typename Op>
void Batched(benchmark::State& state, int batch, Op op) {
  Batched(
      state, batch, [] {}, op, [] {});
}

// A fresh segment with a Manager and one of each interface, destroyed (name
// removed, mapping released) when it goes out of scope.
struct Env {
  Env(std::string_view what, std::size_t capacity) : name(bench::SegmentName(what)) {
    std::error_code ec;
    std::string detail;
    ShmStore::Destroy(name);  // A leftover of a crashed run with a recycled pid.
    store = ShmStore::OpenOrCreate(bench::Options(name, capacity), ec, &detail);
    if (!store) {
      std::fprintf(stderr, "cannot create %s: %s\n", name.c_str(), detail.c_str());
      std::abort();
    }
    manager = std::make_unique<shmlease::Manager>(store);
    checker = manager->Checker(kNs, bench::kModel, ec);
    claimer = manager->Claimer(kNs, bench::kModel, ec);
    revoker = manager->Revoker(kNs, bench::kModel, ec);
    pinner = manager->Pinner(kNs, bench::kModel, ec);
    reader = manager->Reader(kNs, bench::kModel, ec);
  }
  ~Env() { ShmStore::Destroy(name); }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  void MustClaim(const std::string& lease, const std::string& holder,
                 std::chrono::nanoseconds d = kLong) {
    if (std::error_code ec = claimer->Claim(lease, holder, d)) {
      std::fprintf(stderr, "claim %s: %s\n", lease.c_str(), ec.message().c_str());
      std::abort();
    }
  }

  std::string name;
  std::shared_ptr<ShmStore> store;
  std::unique_ptr<shmlease::Manager> manager;
  std::unique_ptr<shmlease::Checker> checker;
  std::unique_ptr<shmlease::Claimer> claimer;
  std::unique_ptr<shmlease::Revoker> revoker;
  std::unique_ptr<shmlease::Pinner> pinner;
  std::unique_ptr<shmlease::Reader> reader;
};

// ------------------------------------------------------------ clock reads

template <clockid_t kClock>
void BM_ClockRead(benchmark::State& state) {
  Batched(state, 100, [](int) {
    timespec ts;
    clock_gettime(kClock, &ts);
    benchmark::DoNotOptimize(ts);
  });
}
BENCHMARK(BM_ClockRead<CLOCK_MONOTONIC>)
    ->Name("Clock/monotonic")
    ->UseManualTime()
    ->Iterations(20000);
BENCHMARK(BM_ClockRead<CLOCK_MONOTONIC_COARSE>)
    ->Name("Clock/monotonic_coarse")
    ->UseManualTime()
    ->Iterations(20000);

// How far CLOCK_MONOTONIC_COARSE lags CLOCK_MONOTONIC, sampled back to back
// for half a second: what a check may trust the coarse clock for (see
// lib/clock.cc). The time reported is the cost of one sample.
void BM_CoarseLag(benchmark::State& state) {
  std::vector<double> lag;
  lag.reserve(1 << 24);
  for (auto _ : state) {
    const std::int64_t start = bench::NowNs();
    std::int64_t n = 0;
    for (std::int64_t now = start; now - start < 500'000'000; ++n) {
      timespec c;
      clock_gettime(CLOCK_MONOTONIC_COARSE, &c);
      now = bench::NowNs();
      if (lag.size() < lag.capacity())
        lag.push_back(static_cast<double>(now - (c.tv_sec * 1'000'000'000LL + c.tv_nsec)));
    }
    state.SetIterationTime(static_cast<double>(bench::NowNs() - start) * 1e-9 /
                           static_cast<double>(n));
  }
  timespec res{};
  clock_getres(CLOCK_MONOTONIC_COARSE, &res);
  state.counters["res_ns"] = static_cast<double>(res.tv_nsec);
  state.counters["lag_p50_ns"] = bench::Quantile(lag, 0.5);
  state.counters["lag_p99_ns"] = bench::Quantile(lag, 0.99);
  state.counters["lag_max_ns"] = lag.empty() ? 0 : lag.back();
}
BENCHMARK(BM_CoarseLag)->Name("Clock/coarse_lag")->UseManualTime()->Iterations(1);

// ------------------------------------------------------------ Token::Check

void BM_CheckHeld(benchmark::State& state) {
  Env env("check-held", 4096);
  const std::string lease = bench::LeaseName(1);
  env.MustClaim(lease, kHolder);
  shmlease::Token token = env.checker->Token(lease, kHolder);
  if (token.Check()) state.SkipWithError("token does not hold");
  Batched(state, 100, [&](int) { benchmark::DoNotOptimize(token.Check()); });
}
BENCHMARK(BM_CheckHeld)->Name("shmlease/Check/held")->UseManualTime()->Iterations(20000);

// What a check costs beyond its clock read, measured in the same moment:
// every round times a batch of coarse clock reads through glibc, a batch
// through the vDSO's entry point called directly (as the library reads it),
// and a batch of checks, back to back, the order rotating. The VM changes
// speed between stretches of time (results_notes.md); figures of separate
// benchmarks may come from different speeds, these cannot.
using VdsoClockGettime = int (*)(clockid_t, timespec*);
VdsoClockGettime FindVdsoClockGettime() {
  void* vdso = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (vdso == nullptr) return nullptr;
  auto* fn = reinterpret_cast<VdsoClockGettime>(dlsym(vdso, "__vdso_clock_gettime"));
  dlclose(vdso);
  return fn;
}

void BM_CheckVsClock(benchmark::State& state) {
  const VdsoClockGettime vdso = FindVdsoClockGettime();
  if (vdso == nullptr) {
    state.SkipWithError("no vDSO clock_gettime");
    return;
  }
  Env env("check-vs-clock", 4096);
  const std::string lease = bench::LeaseName(1);
  env.MustClaim(lease, kHolder);
  shmlease::Token token = env.checker->Token(lease, kHolder);
  if (token.Check()) state.SkipWithError("token does not hold");
  constexpr int kBatch = 100;
  std::vector<double> glibc, direct, check, beyond;
  std::size_t round = 0;
  for (auto _ : state) {
    double per_op[3] = {};
    for (std::size_t k = 0; k < 3; ++k) {
      const std::size_t which = (round + k) % 3;
      const std::int64_t t0 = bench::NowNs();
      for (int i = 0; i < kBatch; ++i) {
        timespec ts;
        switch (which) {
          case 0:
            clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
            benchmark::DoNotOptimize(ts);
            break;
          case 1:
            vdso(CLOCK_MONOTONIC_COARSE, &ts);
            benchmark::DoNotOptimize(ts);
            break;
          default:
            benchmark::DoNotOptimize(token.Check());
        }
      }
      per_op[which] = static_cast<double>(bench::NowNs() - t0) / kBatch;
    }
    glibc.push_back(per_op[0]);
    direct.push_back(per_op[1]);
    check.push_back(per_op[2]);
    beyond.push_back(per_op[2] - per_op[1]);
    state.SetIterationTime(per_op[2] * 1e-9);
    ++round;
  }
  state.counters["glibc_coarse_p50_ns"] = bench::Quantile(glibc, 0.50);
  state.counters["vdso_coarse_p50_ns"] = bench::Quantile(direct, 0.50);
  state.counters["check_p50_ns"] = bench::Quantile(check, 0.50);
  state.counters["beyond_clock_p50_ns"] = bench::Quantile(beyond, 0.50);
  state.counters["batch"] = kBatch;
}
BENCHMARK(BM_CheckVsClock)
    ->Name("shmlease/Check/held_vs_clock")
    ->UseManualTime()
    ->Iterations(20000);

// Near expiry the coarse clock cannot tell, so Check reads the precise clock.
// Before each batch the lease is extended to expire 2 ms from now: inside the
// coarse clock's margin (at least twice the tick, and at least 100 ms), yet far
// beyond the batch's few microseconds.
void BM_CheckNearExpiry(benchmark::State& state) {
  Env env("check-near", 4096);
  const std::string lease = bench::LeaseName(1);
  const auto tick = std::chrono::nanoseconds(2'000'000);
  env.MustClaim(lease, kHolder, tick);
  shmlease::Token token = env.checker->Token(lease, kHolder);
  Batched(
      state, 50, [&] { env.MustClaim(lease, kHolder, tick); },
      [&](int) { benchmark::DoNotOptimize(token.Check()); }, [] {});
  state.counters["window_ns"] = static_cast<double>(tick.count());
}
BENCHMARK(BM_CheckNearExpiry)
    ->Name("shmlease/Check/near_expiry")
    ->UseManualTime()
    ->Iterations(20000);

void BM_CheckHeldByOther(benchmark::State& state) {
  Env env("check-other", 4096);
  const std::string lease = bench::LeaseName(1);
  env.MustClaim(lease, kOther);
  shmlease::Token token = env.checker->Token(lease, kHolder);
  if (!token.Check()) state.SkipWithError("token holds, it should not");
  Batched(state, 100, [&](int) { benchmark::DoNotOptimize(token.Check()); });
}
BENCHMARK(BM_CheckHeldByOther)
    ->Name("shmlease/Check/held_by_other")
    ->UseManualTime()
    ->Iterations(20000);

// ------------------------------------------------------------ writers

void BM_ClaimExtend(benchmark::State& state) {
  Env env("extend", 4096);
  const std::string lease = bench::LeaseName(1);
  env.MustClaim(lease, kHolder);
  Batched(state, 20,
          [&](int) { benchmark::DoNotOptimize(env.claimer->Claim(lease, kHolder, kLong)); });
}
BENCHMARK(BM_ClaimExtend)->Name("shmlease/Claim/extend")->UseManualTime()->Iterations(20000);

// `leases` leases renewed in turn, by name, through one Claimer. The turn
// runs on across batches, so that the cycle never breaks.
void RenewInTurn(benchmark::State& state, const char* segment, std::size_t leases) {
  Env env(segment, 4096);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < leases; ++i) names.push_back(bench::LeaseName(i + 1));
  for (const std::string& name : names) env.MustClaim(name, kHolder);
  std::size_t next = 0;
  Batched(state, 20, [&](int) {
    benchmark::DoNotOptimize(env.claimer->Claim(names[next++ % leases], kHolder, kLong));
  });
}

// A Claimer remembers where the last four leases it claimed live, the oldest
// forgotten first. Eight in turn defeat that memory on every call: the cost
// of an extension looked up by name (validated lengths, encoded and hashed
// key, names compared in the slot).
void BM_ClaimExtendByName(benchmark::State& state) { RenewInTurn(state, "extend-by-name", 8); }
BENCHMARK(BM_ClaimExtendByName)
    ->Name("shmlease/Claim/extend_by_name")
    ->UseManualTime()
    ->Iterations(20000);

// Four in turn: each stays remembered.
void BM_ClaimExtendFourInTurn(benchmark::State& state) { RenewInTurn(state, "extend-four", 4); }
BENCHMARK(BM_ClaimExtendFourInTurn)
    ->Name("shmlease/Claim/extend_four_in_turn")
    ->UseManualTime()
    ->Iterations(20000);

// The same extension through a Holding, which finds its lease without the names.
void BM_HoldingExtend(benchmark::State& state) {
  Env env("holding-extend", 4096);
  shmlease::Holding holding = env.claimer->Holding(bench::LeaseName(1), kHolder);
  if (holding.Claim(kLong)) state.SkipWithError("holding cannot claim");
  Batched(state, 20, [&](int) { benchmark::DoNotOptimize(holding.Claim(kLong)); });
}
BENCHMARK(BM_HoldingExtend)->Name("shmlease/Holding/extend")->UseManualTime()->Iterations(20000);

// A batch claims 16 distinct free leases; they are revoked untimed afterwards.
void BM_ClaimFree(benchmark::State& state) {
  Env env("claim-free", 4096);
  constexpr int kBatch = 16;
  std::vector<std::string> leases;
  for (int i = 0; i < kBatch; ++i) leases.push_back(bench::LeaseName(i));
  Batched(
      state, kBatch, [] {},
      [&](int i) { benchmark::DoNotOptimize(env.claimer->Claim(leases[i], kHolder, kLong)); },
      [&] {
        for (const auto& l : leases) env.revoker->Revoke(l, kHolder);
      });
}
BENCHMARK(BM_ClaimFree)->Name("shmlease/Claim/free")->UseManualTime()->Iterations(10000);

void BM_ClaimRevoke(benchmark::State& state) {
  Env env("claim-revoke", 4096);
  const std::string lease = bench::LeaseName(1);
  Batched(state, 16, [&](int) {
    benchmark::DoNotOptimize(env.claimer->Claim(lease, kHolder, kLong));
    benchmark::DoNotOptimize(env.revoker->Revoke(lease, kHolder));
  });
}
BENCHMARK(BM_ClaimRevoke)->Name("shmlease/ClaimRevoke")->UseManualTime()->Iterations(10000);

void BM_PinUnpin(benchmark::State& state) {
  Env env("pin", 4096);
  const std::string lease = bench::LeaseName(1);
  env.MustClaim(lease, kHolder);
  const std::string entity = "machine-0";
  Batched(state, 16, [&](int) {
    benchmark::DoNotOptimize(env.pinner->Pin(lease, entity));
    benchmark::DoNotOptimize(env.pinner->Unpin(lease, entity));
  });
}
BENCHMARK(BM_PinUnpin)->Name("shmlease/PinUnpin")->UseManualTime()->Iterations(10000);

// Reader::Leases of a model holding N leases, in a table of the default
// capacity (4096) or N when larger: a snapshot walks every slot of the table.
void BM_Leases(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Env env("leases", std::max<std::size_t>(n, 4096));
  for (std::size_t i = 0; i < n; ++i) env.MustClaim(bench::LeaseName(i), kHolder);
  std::map<std::string, std::string> out;
  Batched(state, 1, [&](int) { benchmark::DoNotOptimize(env.reader->Leases(&out)); });
  if (out.size() != n) state.SkipWithError("Leases() returned the wrong number of leases");
}
// The same through the Store: ShmStore::Leases, the full LeaseMap (Key -> Info).
void BM_StoreLeases(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Env env("store-leases", std::max<std::size_t>(n, 4096));
  for (std::size_t i = 0; i < n; ++i) env.MustClaim(bench::LeaseName(i), kHolder);
  shmlease::LeaseMap out;
  Batched(state, 1, [&](int) { benchmark::DoNotOptimize(env.store->Leases(&out)); });
  if (out.size() != n) state.SkipWithError("Leases() returned the wrong number of leases");
}
BENCHMARK(BM_StoreLeases)
    ->Name("shmlease/StoreLeases")
    ->Arg(10)
    ->Iterations(20000)
    ->UseManualTime();
BENCHMARK(BM_StoreLeases)
    ->Name("shmlease/StoreLeases")
    ->Arg(1000)
    ->Iterations(2000)
    ->UseManualTime();
BENCHMARK(BM_StoreLeases)
    ->Name("shmlease/StoreLeases")
    ->Arg(10000)
    ->Iterations(300)
    ->UseManualTime();
BENCHMARK(BM_Leases)->Name("shmlease/Leases")->Arg(10)->Iterations(20000)->UseManualTime();
BENCHMARK(BM_Leases)->Name("shmlease/Leases")->Arg(1000)->Iterations(2000)->UseManualTime();
BENCHMARK(BM_Leases)->Name("shmlease/Leases")->Arg(10000)->Iterations(300)->UseManualTime();
// The same with a new map on every call (built and destroyed inside the timed
// region): Leases() merges into the caller's map, so a caller that polls with
// one map pays less than one that does not.
void BM_LeasesFreshMap(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Env env("leases-fresh", std::max<std::size_t>(n, 4096));
  for (std::size_t i = 0; i < n; ++i) env.MustClaim(bench::LeaseName(i), kHolder);
  std::size_t size = 0;
  Batched(state, 1, [&](int) {
    std::map<std::string, std::string> out;
    benchmark::DoNotOptimize(env.reader->Leases(&out));
    size = out.size();
  });
  if (size != n) state.SkipWithError("Leases() returned the wrong number of leases");
}
BENCHMARK(BM_LeasesFreshMap)
    ->Name("shmlease/Leases_fresh_map")
    ->Arg(10000)
    ->Iterations(300)
    ->UseManualTime();

// ------------------------------------------------------------ table size

// A table of capacity N, filled with N held leases, shared by the scaling
// benchmarks of that size and destroyed at the end of main().
struct ScaleEnv {
  explicit ScaleEnv(std::size_t n) : env("scale-" + std::to_string(n), n), n(n) {
    for (std::size_t i = 0; i < n; ++i) env.MustClaim(bench::LeaseName(i), kHolder);
  }
  Env env;
  std::size_t n;
};
std::map<std::size_t, std::unique_ptr<ScaleEnv>>& ScaleEnvs() {
  static std::map<std::size_t, std::unique_ptr<ScaleEnv>> envs;
  return envs;
}
ScaleEnv& Scale(std::size_t n) {
  auto& p = ScaleEnvs()[n];
  if (!p) p = std::make_unique<ScaleEnv>(n);
  return *p;
}

// The working set: 256 leases spread evenly over the table, visited in a
// shuffled order. It fits in the caches at every size, so what changes with
// N is only what the algorithm does (probe lengths, max_probe bounds).
constexpr int kWorkingSet = 256;
std::vector<std::size_t> WorkingSet(std::size_t n) {
  std::vector<std::size_t> idx;
  for (int i = 0; i < kWorkingSet; ++i) idx.push_back(i * n / kWorkingSet);
  std::shuffle(idx.begin(), idx.end(), std::mt19937_64(42));
  return idx;
}

void BM_ScaleCheck(benchmark::State& state) {
  ScaleEnv& s = Scale(static_cast<std::size_t>(state.range(0)));
  std::vector<shmlease::Token> tokens;
  for (std::size_t i : WorkingSet(s.n)) {
    tokens.push_back(s.env.checker->Token(bench::LeaseName(i), kHolder));
    if (tokens.back().Check()) state.SkipWithError("token does not hold");
  }
  Batched(state, kWorkingSet, [&](int i) { benchmark::DoNotOptimize(tokens[i].Check()); });
}
BENCHMARK(BM_ScaleCheck)
    ->Name("shmlease/Scale/Check")
    ->Arg(1000)
    ->Arg(64000)
    ->Arg(1000000)
    ->UseManualTime()
    ->Iterations(5000);

void BM_ScaleClaim(benchmark::State& state) {
  ScaleEnv& s = Scale(static_cast<std::size_t>(state.range(0)));
  std::vector<std::string> leases;
  for (std::size_t i : WorkingSet(s.n)) leases.push_back(bench::LeaseName(i));
  Batched(state, kWorkingSet, [&](int i) {
    benchmark::DoNotOptimize(s.env.claimer->Claim(leases[i], kHolder, kLong));
  });
}
BENCHMARK(BM_ScaleClaim)
    ->Name("shmlease/Scale/Claim_extend")
    ->Arg(1000)
    ->Arg(64000)
    ->Arg(1000000)
    ->UseManualTime()
    ->Iterations(500);

// The three sizes measured side by side: every iteration is a round that
// times one batch on each table, back to back, in an order that rotates from
// round to round. The benchmarks above measure each size in its own stretch
// of time, and this VM changes speed between stretches (results_notes.md):
// a size that happens to run in a slow stretch looks nearly twice as costly.
// Here every round pairs the sizes in the same moment, so the median of the
// rounds' 1M ÷ 1k ratios shows what the table size costs, and only that.
constexpr std::size_t kPairedSizes[] = {1000, 64000, 1000000};

template <typename MakeOp>
void ScalePaired(benchmark::State& state, MakeOp make_op) {
  // make_op(ScaleEnv&, working set) returns the op of one batch index, the
  // same closure type for every size: called directly, not through a
  // std::function, whose indirect call would add the same few nanoseconds to
  // every size and flatter the ratio.
  using Op = std::invoke_result_t<MakeOp&, ScaleEnv&, const std::vector<std::size_t>&>;
  std::vector<Op> ops;
  for (std::size_t n : kPairedSizes) {
    ScaleEnv& s = Scale(n);
    ops.push_back(make_op(s, WorkingSet(s.n)));
  }
  std::vector<std::vector<double>> samples(ops.size());
  std::vector<double> ratios;
  std::size_t round = 0;
  for (auto _ : state) {
    double per_op[std::size(kPairedSizes)] = {};
    for (std::size_t k = 0; k < ops.size(); ++k) {
      const std::size_t which = (round + k) % ops.size();
      const std::int64_t t0 = bench::NowNs();
      for (int i = 0; i < kWorkingSet; ++i) ops[which](i);
      per_op[which] = static_cast<double>(bench::NowNs() - t0) / kWorkingSet;
      samples[which].push_back(per_op[which]);
    }
    ratios.push_back(per_op[2] / per_op[0]);
    state.SetIterationTime((per_op[0] + per_op[1] + per_op[2]) / 3 * 1e-9);
    ++round;
  }
  state.counters["p50_1k_ns"] = bench::Quantile(samples[0], 0.50);
  state.counters["p50_64k_ns"] = bench::Quantile(samples[1], 0.50);
  state.counters["p50_1M_ns"] = bench::Quantile(samples[2], 0.50);
  state.counters["ratio_1M_1k_p50"] = bench::Quantile(ratios, 0.50);
  state.counters["ratio_1M_1k_p90"] = bench::Quantile(ratios, 0.90);
  state.counters["batch"] = kWorkingSet;
}

void BM_ScaleCheckPaired(benchmark::State& state) {
  ScalePaired(state, [&](ScaleEnv& s, const std::vector<std::size_t>& set) {
    std::vector<shmlease::Token> tokens;
    for (std::size_t i : set) {
      tokens.push_back(s.env.checker->Token(bench::LeaseName(i), kHolder));
      if (tokens.back().Check()) state.SkipWithError("token does not hold");
    }
    return [tokens = std::move(tokens)](int i) mutable {
      benchmark::DoNotOptimize(tokens[i].Check());
    };
  });
}
BENCHMARK(BM_ScaleCheckPaired)
    ->Name("shmlease/Scale/Check_paired")
    ->UseManualTime()
    ->Iterations(5000);

void BM_ScaleClaimPaired(benchmark::State& state) {
  ScalePaired(state, [](ScaleEnv& s, const std::vector<std::size_t>& set) {
    std::vector<std::string> leases;
    for (std::size_t i : set) leases.push_back(bench::LeaseName(i));
    shmlease::Claimer* claimer = s.env.claimer.get();
    return [leases = std::move(leases), claimer](int i) {
      benchmark::DoNotOptimize(claimer->Claim(leases[i], kHolder, kLong));
    };
  });
}
BENCHMARK(BM_ScaleClaimPaired)
    ->Name("shmlease/Scale/Claim_extend_paired")
    ->UseManualTime()
    ->Iterations(500);

// Uniformly random leases over the whole table: at 1M leases (1.1 GB) nearly
// every operation misses the caches and the TLB. This shows the memory
// system, not the algorithm; the working-set figures above show the latter.
void BM_ScaleCheckUniform(benchmark::State& state) {
  ScaleEnv& s = Scale(static_cast<std::size_t>(state.range(0)));
  std::vector<shmlease::Token> tokens;
  tokens.reserve(s.n);
  for (std::size_t i = 0; i < s.n; ++i) {
    tokens.push_back(s.env.checker->Token(bench::LeaseName(i), kHolder));
    benchmark::DoNotOptimize(tokens.back().Check());  // Resolves the slot once.
  }
  std::mt19937_64 rng(7);
  std::vector<std::uint32_t> order(1 << 16);
  for (auto& o : order) o = static_cast<std::uint32_t>(rng() % s.n);
  std::size_t pos = 0;
  Batched(state, 64, [&](int) {
    benchmark::DoNotOptimize(tokens[order[pos++ & (order.size() - 1)]].Check());
  });
}
BENCHMARK(BM_ScaleCheckUniform)
    ->Name("shmlease/Scale/Check_uniform")
    ->Arg(1000)
    ->Arg(64000)
    ->Arg(1000000)
    ->UseManualTime()
    ->Iterations(5000);

void BM_ScaleClaimUniform(benchmark::State& state) {
  ScaleEnv& s = Scale(static_cast<std::size_t>(state.range(0)));
  std::mt19937_64 rng(7);
  std::vector<std::string> leases(1 << 14);
  for (auto& l : leases) l = bench::LeaseName(rng() % s.n);
  std::size_t pos = 0;
  Batched(state, 64, [&](int) {
    benchmark::DoNotOptimize(
        s.env.claimer->Claim(leases[pos++ & (leases.size() - 1)], kHolder, kLong));
  });
}
BENCHMARK(BM_ScaleClaimUniform)
    ->Name("shmlease/Scale/Claim_extend_uniform")
    ->Arg(1000)
    ->Arg(64000)
    ->Arg(1000000)
    ->UseManualTime()
    ->Iterations(500);

// Opening (mapping and validating) the existing 1M-lease segment; the close
// (unmapping) is untimed.
void BM_Open1M(benchmark::State& state) {
  ScaleEnv& s = Scale(1000000);
  std::shared_ptr<ShmStore> opened;
  Batched(
      state, 1, [] {},
      [&](int) {
        std::error_code ec;
        opened = ShmStore::Open(bench::Options(s.env.name), ec);
        if (!opened) std::abort();
      },
      [&] { opened.reset(); });
}
BENCHMARK(BM_Open1M)->Name("shmlease/Open/1M")->UseManualTime()->Iterations(100);

// ------------------------------------------------------------ peers

// A lock file in a private temporary directory, removed with it.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/shmlease-bench-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    for (const auto& f : files) unlink(f.c_str());
    rmdir(path.c_str());
  }
  int Open(const std::string& name) {
    files.push_back(path + "/" + name);
    return open(files.back().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  }
  std::string path;
  std::vector<std::string> files;
};

void BM_FlockClaimFree(benchmark::State& state) {
  TempDir dir;
  constexpr int kBatch = 16;
  std::vector<int> fds;
  for (int i = 0; i < kBatch; ++i) fds.push_back(dir.Open("lock" + std::to_string(i)));
  Batched(
      state, kBatch, [] {},
      [&](int i) { benchmark::DoNotOptimize(flock(fds[i], LOCK_EX | LOCK_NB)); },
      [&] {
        for (int fd : fds) flock(fd, LOCK_UN);
      });
  for (int fd : fds) close(fd);
}
BENCHMARK(BM_FlockClaimFree)->Name("flock/Claim/free")->UseManualTime()->Iterations(10000);

void BM_FlockClaimRevoke(benchmark::State& state) {
  TempDir dir;
  int fd = dir.Open("lock");
  Batched(state, 16, [&](int) {
    benchmark::DoNotOptimize(flock(fd, LOCK_EX | LOCK_NB));
    benchmark::DoNotOptimize(flock(fd, LOCK_UN));
  });
  close(fd);
}
BENCHMARK(BM_FlockClaimRevoke)->Name("flock/ClaimRevoke")->UseManualTime()->Iterations(10000);

int OfdLock(int fd, short type, off_t start, int cmd = F_OFD_SETLK) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = 1;
  return fcntl(fd, cmd, &fl);
}

// F_OFD_GETLK from a second open file description tells whether anyone holds
// the range (not who: l_pid is -1 for OFD locks). The closest thing to a check.
void BM_OfdCheckHeld(benchmark::State& state) {
  TempDir dir;
  int holder = dir.Open("lock");
  int other = open(dir.files.back().c_str(), O_RDWR | O_CLOEXEC);
  OfdLock(holder, F_WRLCK, 0);
  Batched(state, 16, [&](int) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_len = 1;
    fcntl(other, F_OFD_GETLK, &fl);
    benchmark::DoNotOptimize(fl.l_type);
  });
  close(other);
  close(holder);
}
BENCHMARK(BM_OfdCheckHeld)->Name("ofd/Check/held_by_other")->UseManualTime()->Iterations(10000);

void BM_OfdClaimFree(benchmark::State& state) {
  TempDir dir;
  constexpr int kBatch = 16;
  int fd = dir.Open("lock");
  Batched(
      state, kBatch, [] {}, [&](int i) { benchmark::DoNotOptimize(OfdLock(fd, F_WRLCK, i)); },
      [&] {
        for (int i = 0; i < kBatch; ++i) OfdLock(fd, F_UNLCK, i);
      });
  close(fd);
}
BENCHMARK(BM_OfdClaimFree)->Name("ofd/Claim/free")->UseManualTime()->Iterations(10000);

void BM_OfdClaimRevoke(benchmark::State& state) {
  TempDir dir;
  int fd = dir.Open("lock");
  Batched(state, 16, [&](int) {
    benchmark::DoNotOptimize(OfdLock(fd, F_WRLCK, 0));
    benchmark::DoNotOptimize(OfdLock(fd, F_UNLCK, 0));
  });
  close(fd);
}
BENCHMARK(BM_OfdClaimRevoke)->Name("ofd/ClaimRevoke")->UseManualTime()->Iterations(10000);

// Robust, process-shared mutexes in a shared anonymous mapping.
struct ShmMutexes {
  explicit ShmMutexes(int n) : n(n) {
    bytes = sizeof(pthread_mutex_t) * n;
    m = static_cast<pthread_mutex_t*>(
        mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    for (int i = 0; i < n; ++i) pthread_mutex_init(&m[i], &a);
    pthread_mutexattr_destroy(&a);
  }
  ~ShmMutexes() { munmap(m, bytes); }
  int n;
  std::size_t bytes;
  pthread_mutex_t* m;
};

void BM_MutexClaimFree(benchmark::State& state) {
  constexpr int kBatch = 16;
  ShmMutexes mx(kBatch);
  Batched(
      state, kBatch, [] {},
      [&](int i) { benchmark::DoNotOptimize(pthread_mutex_trylock(&mx.m[i])); },
      [&] {
        for (int i = 0; i < kBatch; ++i) pthread_mutex_unlock(&mx.m[i]);
      });
}
BENCHMARK(BM_MutexClaimFree)->Name("mutex/Claim/free")->UseManualTime()->Iterations(10000);

void BM_MutexClaimRevoke(benchmark::State& state) {
  ShmMutexes mx(1);
  Batched(state, 16, [&](int) {
    benchmark::DoNotOptimize(pthread_mutex_lock(&mx.m[0]));
    benchmark::DoNotOptimize(pthread_mutex_unlock(&mx.m[0]));
  });
}
BENCHMARK(BM_MutexClaimRevoke)->Name("mutex/ClaimRevoke")->UseManualTime()->Iterations(10000);

// What an extension costs beyond what any extension must do, measured in the
// same moment (as held_vs_clock does for the check): an extension reads the
// precise clock once (the new expiry is now + duration, and no other clock is
// sure to be no earlier than the call's start) and takes and gives back the
// writers' lock, a robust process-shared mutex. Every round times a batch of
// each, back to back, the order rotating: the precise clock read through the
// vDSO, a trylock + unlock pair of such a mutex, an extension through a
// Holding, one through a Claimer renewing its last lease, and one by name
// (eight leases in turn, more than a Claimer remembers).
void BM_ExtendVsFloor(benchmark::State& state) {
  const VdsoClockGettime vdso = FindVdsoClockGettime();
  if (vdso == nullptr) {
    state.SkipWithError("no vDSO clock_gettime");
    return;
  }
  Env env("extend-vs-floor", 4096);
  ShmMutexes mx(1);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < 8; ++i) names.push_back(bench::LeaseName(i + 1));
  for (const std::string& name : names) env.MustClaim(name, kHolder);
  shmlease::Holding holding = env.claimer->Holding(names[0], kHolder);
  if (holding.Claim(kLong)) state.SkipWithError("holding cannot extend");
  std::error_code ec;
  const auto by_name = env.manager->Claimer(kNs, bench::kModel, ec);
  if (ec) state.SkipWithError("no second claimer");
  constexpr int kKinds = 5;
  constexpr int kBatch = 20;
  std::vector<double> samples[kKinds];
  std::size_t round = 0;
  std::size_t next = 0;
  for (auto _ : state) {
    double per_op[kKinds] = {};
    for (int k = 0; k < kKinds; ++k) {
      const int which = static_cast<int>((round + k) % kKinds);
      const std::int64_t t0 = bench::NowNs();
      for (int i = 0; i < kBatch; ++i) {
        timespec ts;
        switch (which) {
          case 0:
            vdso(CLOCK_MONOTONIC, &ts);
            benchmark::DoNotOptimize(ts);
            break;
          case 1:
            benchmark::DoNotOptimize(pthread_mutex_trylock(&mx.m[0]));
            benchmark::DoNotOptimize(pthread_mutex_unlock(&mx.m[0]));
            break;
          case 2:
            benchmark::DoNotOptimize(holding.Claim(kLong));
            break;
          case 3:
            benchmark::DoNotOptimize(env.claimer->Claim(names[0], kHolder, kLong));
            break;
          default:
            benchmark::DoNotOptimize(by_name->Claim(names[next++ % names.size()], kHolder, kLong));
        }
      }
      per_op[which] = static_cast<double>(bench::NowNs() - t0) / kBatch;
    }
    for (int k = 0; k < kKinds; ++k) samples[k].push_back(per_op[k]);
    state.SetIterationTime(per_op[2] * 1e-9);
    ++round;
  }
  state.counters["clock_p50_ns"] = bench::Quantile(samples[0], 0.50);
  state.counters["lock_pair_p50_ns"] = bench::Quantile(samples[1], 0.50);
  state.counters["holding_p50_ns"] = bench::Quantile(samples[2], 0.50);
  state.counters["claimer_p50_ns"] = bench::Quantile(samples[3], 0.50);
  state.counters["by_name_p50_ns"] = bench::Quantile(samples[4], 0.50);
  state.counters["batch"] = kBatch;
}
BENCHMARK(BM_ExtendVsFloor)
    ->Name("shmlease/Claim/extend_vs_floor")
    ->UseManualTime()
    ->Iterations(10000);

#ifdef SHMLEASE_BENCH_REDIS
// Each Redis benchmark is one round trip per operation over loopback TCP.
std::unique_ptr<bench::RedisLease> RedisOrSkip(benchmark::State& state) {
  const int port = bench::RedisLease::PortFromEnv();
  if (port == 0) {
    state.SkipWithError("SHMLEASE_BENCH_REDIS_PORT not set: redis-server not started");
    return nullptr;
  }
  std::string error;
  auto r = bench::RedisLease::Connect(port, &error);
  if (!r) state.SkipWithError(error.c_str());
  return r;
}
const std::string kRedisKey = "shmlease-bench:" + std::to_string(getpid()) + ":lease";

void BM_RedisCheckHeld(benchmark::State& state) {
  auto r = RedisOrSkip(state);
  if (!r) return;
  r->Delete(kRedisKey);
  r->Claim(kRedisKey, kHolder, 3'600'000);
  Batched(state, 1, [&](int) { benchmark::DoNotOptimize(r->Check(kRedisKey, kHolder)); });
  r->Delete(kRedisKey);
}
BENCHMARK(BM_RedisCheckHeld)->Name("redis/Check/held")->UseManualTime()->Iterations(10000);

void BM_RedisCheckOther(benchmark::State& state) {
  auto r = RedisOrSkip(state);
  if (!r) return;
  r->Delete(kRedisKey);
  r->Claim(kRedisKey, kOther, 3'600'000);
  Batched(state, 1, [&](int) { benchmark::DoNotOptimize(r->Check(kRedisKey, kHolder)); });
  r->Delete(kRedisKey);
}
BENCHMARK(BM_RedisCheckOther)
    ->Name("redis/Check/held_by_other")
    ->UseManualTime()
    ->Iterations(10000);

void BM_RedisExtend(benchmark::State& state) {
  auto r = RedisOrSkip(state);
  if (!r) return;
  r->Delete(kRedisKey);
  r->Claim(kRedisKey, kHolder, 3'600'000);
  Batched(state, 1,
          [&](int) { benchmark::DoNotOptimize(r->Extend(kRedisKey, kHolder, 3'600'000)); });
  r->Delete(kRedisKey);
}
BENCHMARK(BM_RedisExtend)->Name("redis/Claim/extend")->UseManualTime()->Iterations(10000);

void BM_RedisClaimFree(benchmark::State& state) {
  auto r = RedisOrSkip(state);
  if (!r) return;
  r->Delete(kRedisKey);
  Batched(
      state, 1, [] {},
      [&](int) { benchmark::DoNotOptimize(r->Claim(kRedisKey, kHolder, 3'600'000)); },
      [&] { r->Delete(kRedisKey); });
}
BENCHMARK(BM_RedisClaimFree)->Name("redis/Claim/free")->UseManualTime()->Iterations(10000);

void BM_RedisClaimRevoke(benchmark::State& state) {
  auto r = RedisOrSkip(state);
  if (!r) return;
  r->Delete(kRedisKey);
  Batched(state, 1, [&](int) {
    benchmark::DoNotOptimize(r->Claim(kRedisKey, kHolder, 3'600'000));
    benchmark::DoNotOptimize(r->Revoke(kRedisKey, kHolder));
  });
}
BENCHMARK(BM_RedisClaimRevoke)->Name("redis/ClaimRevoke")->UseManualTime()->Iterations(10000);
#endif

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  ScaleEnvs().clear();  // Removes the big segments (up to 1.1 GB of tmpfs each).
  benchmark::Shutdown();
  return 0;
}
