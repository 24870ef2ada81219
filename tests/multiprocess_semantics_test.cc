// docs/semantics.md across real processes (S25): every rule holds when the
// operations come from different processes mapping one segment. Child
// processes are forked and driven through pipes; a process stuck holding the
// writers' lock is made with the test-only fault hook (SHMLEASE_CRASH_HOW=stop),
// one that dies mid-write with SHMLEASE_CRASH_AT. Nothing here sleeps to let
// time pass: order comes from pipes, waitpid and the `started` callback.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::BackgroundWait;
using testing::ChildProcess;
using testing::DescribeStatus;
using testing::DumpState;
using testing::ExitedZero;
using testing::MonotonicNowNs;
using testing::MustOpen;
using testing::Pipe;
using testing::ScopedSegmentName;
using testing::StartStuckWriter;
using testing::TestOptions;
using testing::WaitUntilThreadSleepsInFutex;

// ------------------------------------------------------------ a process to command

// A child process that performs Manager operations (namespace "ns", model
// "model") on its own mapping of the segment, one per request, so that a
// test can interleave the operations of several processes exactly.
class RemoteAgent {
 public:
  enum Op : std::int32_t {
    kClaim,
    kRevoke,
    kPin,
    kUnpin,
    kCheck,
    kHolderOf,
    kWait,          // WaitUntilExpired: replies once when started, once when done.
    kWaitThenStop,  // WaitUntilExpired on a thread, stopped from another once started.
    kWaitLost,      // ShmStore::WaitUntilLost: replies once when started, once when done.
    kDie,           // SIGKILL itself: no destructor, no unmapping, no goodbye.
    kExit,
  };

  explicit RemoteAgent(const std::string& segment)
      : child_([this, segment] { return Serve(segment); }) {
    // Only the child keeps these ends: its death then reads as end of file here.
    to_.CloseRead();
    from_.CloseWrite();
  }
  ~RemoteAgent() {
    if (alive_) Send({kExit});
  }

  struct Reply {
    std::int32_t value = 0;     // The error's value; 0 for success.
    std::int32_t category = 0;  // 0: none, 1: shmlease, 2: other, 3: "started".
    std::int64_t before = 0;    // CLOCK_MONOTONIC in the child just before the operation...
    std::int64_t after = 0;     // ...and just after it returned.
    char text[80] = {};
    std::error_code error() const {
      if (category == 1) return make_error_code(static_cast<Errc>(value));
      if (category == 2) return std::make_error_code(std::errc::io_error);
      return {};
    }
  };

  std::error_code Claim(const std::string& lease, const std::string& holder,
                        std::chrono::nanoseconds d, Reply* reply = nullptr) {
    return Call({kClaim, lease, holder, d.count()}, reply);
  }
  std::error_code Revoke(const std::string& lease, const std::string& holder) {
    return Call({kRevoke, lease, holder});
  }
  std::error_code Pin(const std::string& lease, const std::string& entity) {
    return Call({kPin, lease, entity});
  }
  std::error_code Unpin(const std::string& lease, const std::string& entity) {
    return Call({kUnpin, lease, entity});
  }
  std::error_code Check(const std::string& lease, const std::string& holder) {
    return Call({kCheck, lease, holder});
  }
  // The holder the child's Reader reports, or "" when the lease is not held.
  std::string HolderOf(const std::string& lease) {
    Reply r;
    if (Call({kHolderOf, lease}, &r)) return "<error>";
    return r.text;
  }
  // Starts WaitUntilExpired in the child; true once the wait is in place.
  bool StartWait(const std::string& lease) {
    Reply r;
    return Send({kWait, lease}) && Receive(&r) && r.category == 3;
  }
  // Starts WaitUntilLost for the holding of `epoch` in the child; true once
  // the wait is in place. Its end comes through WaitResult.
  bool StartWaitLost(const std::string& lease, std::uint64_t epoch) {
    Reply r;
    return Send({kWaitLost, lease, "", static_cast<std::int64_t>(epoch)}) && Receive(&r) &&
           r.category == 3;
  }
  // The end of a wait begun by StartWait; `reply->after` is when it returned.
  std::error_code WaitResult(Reply* reply) { return Receive(reply) ? reply->error() : Lost(); }
  // A wait in the child that a second thread of the child stops once it has started.
  std::error_code WaitThenStop(const std::string& lease) { return Call({kWaitThenStop, lease}); }
  // Stops the child (SIGSTOP); true once it is stopped.
  bool Stop() {
    if (kill(child_.pid(), SIGSTOP) != 0) return false;
    std::optional<int> status = child_.WaitStoppedOrExited();
    return status && WIFSTOPPED(*status);
  }
  void Continue() { kill(child_.pid(), SIGCONT); }
  // Kills the child at once and reaps it.
  std::optional<int> Die() {
    Send({kDie});
    alive_ = false;
    return child_.Wait();
  }
  // Asks the child to exit; its exit status.
  std::optional<int> Finish() {
    Send({kExit});
    alive_ = false;
    return child_.Wait();
  }

 private:
  struct Command {
    Command(Op o, const std::string& l = "", const std::string& n = "", std::int64_t d = 0)
        : op(o), duration_ns(d) {
      std::strncpy(lease, l.c_str(), sizeof lease - 1);
      std::strncpy(name, n.c_str(), sizeof name - 1);
    }
    Command() = default;
    std::int32_t op = kExit;
    char lease[80] = {};
    char name[80] = {};
    std::int64_t duration_ns = 0;
  };

  static std::error_code Lost() { return make_error_code(Errc::io_error); }
  bool Send(const Command& c) { return to_.WriteValue(c); }
  bool Receive(Reply* r) { return from_.ReadValue(r); }
  std::error_code Call(const Command& c, Reply* reply = nullptr) {
    Reply r;
    if (!Send(c) || !Receive(&r)) return Lost();
    if (reply) *reply = r;
    return r.error();
  }

  // The child's side. Returns its exit code.
  int Serve(const std::string& segment) {
    to_.CloseWrite();
    from_.CloseRead();
    std::error_code ec;
    ShmStoreOptions options = TestOptions(segment);
    auto store = ShmStore::Open(options, ec);
    if (!store) return 10;
    const Manager manager(store);
    auto claimer = manager.Claimer("ns", "model", ec);
    auto checker = manager.Checker("ns", "model", ec);
    auto revoker = manager.Revoker("ns", "model", ec);
    auto pinner = manager.Pinner("ns", "model", ec);
    auto reader = manager.Reader("ns", "model", ec);
    if (ec) return 11;
    Command c;
    while (to_.ReadValue(&c, std::chrono::hours(1))) {
      Reply r;
      r.before = MonotonicNowNs();
      switch (c.op) {
        case kClaim:
          ec = claimer->Claim(c.lease, c.name, std::chrono::nanoseconds(c.duration_ns));
          break;
        case kRevoke:
          ec = revoker->Revoke(c.lease, c.name);
          break;
        case kPin:
          ec = pinner->Pin(c.lease, c.name);
          break;
        case kUnpin:
          ec = pinner->Unpin(c.lease, c.name);
          break;
        case kCheck:
          ec = checker->Token(c.lease, c.name).Check();
          break;
        case kHolderOf: {
          std::map<std::string, std::string> holders;
          ec = reader->Leases(&holders);
          auto it = holders.find(c.lease);
          if (it != holders.end()) std::strncpy(r.text, it->second.c_str(), sizeof r.text - 1);
          break;
        }
        case kWait:
          ec = claimer->WaitUntilExpired(c.lease, {}, [this] {
            Reply started;
            started.category = 3;
            from_.WriteValue(started);
          });
          break;
        case kWaitLost:
          ec = store->WaitUntilLost({"ns", "model", c.lease},
                                    static_cast<std::uint64_t>(c.duration_ns), {}, [this] {
                                      Reply started;
                                      started.category = 3;
                                      from_.WriteValue(started);
                                    });
          break;
        case kWaitThenStop: {
          BackgroundWait wait(*claimer, c.lease);
          if (!wait.Started()) return 12;
          wait.RequestStop();
          auto result = wait.Result();
          if (!result) return 13;
          ec = result->first;
          break;
        }
        case kDie:
          kill(getpid(), SIGKILL);
          return 14;
        default:
          return 0;
      }
      r.after = MonotonicNowNs();
      if (ec) {
        r.value = ec.value();
        r.category = ec.category() == lease_category() ? 1 : 2;
      }
      if (!from_.WriteValue(r)) return 15;
    }
    return 0;
  }

  Pipe to_;    // Commands, parent to child.
  Pipe from_;  // Replies, child to parent.
  ChildProcess child_;
  bool alive_ = true;
};

// Opens the segment with a fake clock, and a Manager's views onto ("ns", "model").
struct Local {
  explicit Local(const ShmStoreOptions& options) : store(MustOpen(options)), manager(store) {
    std::error_code ec;
    claimer = manager.Claimer("ns", "model", ec);
    checker = manager.Checker("ns", "model", ec);
    revoker = manager.Revoker("ns", "model", ec);
    pinner = manager.Pinner("ns", "model", ec);
    EXPECT_FALSE(ec);
  }
  std::optional<Info> InfoOf(const std::string& lease) const {
    LeaseMap m;
    const Key keys[] = {{"ns", "model", lease}};
    EXPECT_FALSE(store->Leases(&m, keys));
    if (m.empty()) return std::nullopt;
    return m.begin()->second;
  }
  std::shared_ptr<ShmStore> store;
  Manager manager;
  std::unique_ptr<Claimer> claimer;
  std::unique_ptr<Checker> checker;
  std::unique_ptr<Revoker> revoker;
  std::unique_ptr<Pinner> pinner;
};

// ------------------------------------------------------------ S25: the rules across processes

TEST(AcrossProcesses, S25_ClaimCheckExtendRevokeAndPinFromDifferentProcesses) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name()));
  ASSERT_TRUE(local.store);
  RemoteAgent a(seg.name()), b(seg.name());
  const Clock::time_point t0 = local.store->Now();
  ASSERT_FALSE(a.Claim("lease", "a", 10s));  // S13
  EXPECT_EQ(local.InfoOf("lease")->expiry, t0 + 10s);
  const std::uint64_t epoch = local.InfoOf("lease")->epoch;
  EXPECT_EQ(b.Claim("lease", "b", 10s), ErrClaimDenied);  // S15
  EXPECT_FALSE(b.Check("lease", "a"));                    // S17
  EXPECT_EQ(b.Check("lease", "b"), ErrNotHeld);
  EXPECT_FALSE(local.checker->Token("lease", "a").Check());
  EXPECT_EQ(b.HolderOf("lease"), "a");  // S22
  ASSERT_FALSE(local.store->AdvanceFakeClock(5s));
  ASSERT_FALSE(a.Claim("lease", "a", 10s));  // S14: extends to t0 + 15s.
  EXPECT_EQ(local.InfoOf("lease")->expiry, t0 + 15s);
  EXPECT_EQ(local.InfoOf("lease")->epoch, epoch);  // S16
  EXPECT_EQ(b.Revoke("lease", "b"), ErrNotHeld);   // S18
  ASSERT_FALSE(b.Pin("lease", "b-pin"));           // S10
  ASSERT_FALSE(local.store->AdvanceFakeClock(1h));
  EXPECT_FALSE(b.Check("lease", "a"));  // S20
  EXPECT_EQ(b.Claim("lease", "b", 10s), ErrClaimDenied);
  ASSERT_FALSE(a.Unpin("lease", "b-pin"));  // S11: anyone may unpin.
  EXPECT_EQ(b.HolderOf("lease"), "");
  EXPECT_EQ(a.Check("lease", "a"), ErrNotHeld);
  ASSERT_FALSE(b.Claim("lease", "b", 10s));  // S16
  EXPECT_GT(local.InfoOf("lease")->epoch, epoch);
  ASSERT_FALSE(a.Revoke("lease", "b"));  // A holder is a name, not a process.
  EXPECT_EQ(b.Check("lease", "b"), ErrNotHeld);
  EXPECT_FALSE(a.Revoke("lease", "b"));  // S18: nobody holds it.
  EXPECT_TRUE(ExitedZero(a.Finish()));
  EXPECT_TRUE(ExitedZero(b.Finish()));
}

// ------------------------------------------------------------ S23: a stopped process holds the
// lock

TEST(StuckLock, S23_WritesTimeOutWhileAStoppedProcessHoldsTheLockAndReadsGoOn) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name()));
  ASSERT_TRUE(local.store);
  ASSERT_FALSE(local.claimer->Claim("held", "holder", 1h));
  ASSERT_FALSE(local.pinner->Pin("pinned", "entity"));
  const std::string before = DumpState(*local.store);
  const Clock::time_point held_expiry = local.InfoOf("held")->expiry;
  ShmStoreOptions quick = TestOptions(seg.name());
  quick.lock_timeout = 20ms;
  Local impatient(quick);
  ASSERT_TRUE(impatient.store);

  auto stuck = StartStuckWriter(seg.name());
  ASSERT_FALSE(HasFailure());

  ShmStore& store = *impatient.store;
  const Key held{"ns", "model", "held"}, pinned{"ns", "model", "pinned"},
      fresh{"ns", "model", "fresh"};
  EXPECT_EQ(store.ClaimLease(fresh, {"me", 10s}), ErrTimeout);
  EXPECT_EQ(store.ExtendLease(held, {"holder", 2h}), ErrTimeout);
  EXPECT_EQ(store.ClaimOrExtendLease(held, {"holder", 2h}), ErrTimeout);
  EXPECT_EQ(store.RevokeLease(held, "holder"), ErrTimeout);
  EXPECT_EQ(store.PinLease(held, "entity"), ErrTimeout);
  EXPECT_EQ(store.UnpinLease(pinned, "entity"), ErrTimeout);
  // The Manager never reports success for what did not happen.
  EXPECT_EQ(impatient.claimer->Claim("fresh", "me", 10s), ErrTimeout);
  EXPECT_EQ(impatient.claimer->Claim("held", "holder", 2h), ErrTimeout);
  EXPECT_TRUE(IsTimeout(impatient.claimer->Claim("held", "other", 2h)));
  EXPECT_EQ(impatient.revoker->Revoke("held", "holder"), ErrTimeout);
  EXPECT_EQ(impatient.pinner->Pin("held", "entity"), ErrTimeout);
  EXPECT_EQ(impatient.pinner->Unpin("pinned", "entity"), ErrTimeout);
  // Readers never take the lock: checks and snapshots answer throughout.
  EXPECT_FALSE(impatient.checker->Token("held", "holder").Check());
  EXPECT_EQ(impatient.checker->Token("held", "other").Check(), ErrNotHeld);
  EXPECT_EQ(impatient.checker->Token("fresh", "me").Check(), ErrNotHeld);
  LeaseMap leases;
  EXPECT_FALSE(store.Leases(&leases));
  EXPECT_EQ(leases.size(), 1u);
  EXPECT_FALSE(store.LeaseGroup("ns", "model", &leases));
  EXPECT_EQ(leases.size(), 1u);
  PinMap pins;
  EXPECT_FALSE(store.Pinned(&pins));
  EXPECT_EQ(pins, (PinMap{{pinned, {"entity"}}}));
  EXPECT_EQ(DumpState(store), before);

  // Once the stopped process resumes, its claim completes and nothing else happened.
  ASSERT_EQ(kill(stuck->pid(), SIGCONT), 0);
  std::optional<int> status = stuck->Wait();
  EXPECT_TRUE(ExitedZero(status)) << DescribeStatus(status);
  ASSERT_FALSE(store.Leases(&leases));
  EXPECT_EQ(leases.size(), 2u);
  EXPECT_EQ(leases.at(held).expiry, held_expiry);
  EXPECT_EQ(leases.at(Key{"ns", "model", "stuck"}).holder, "stuck");
  EXPECT_EQ(leases.count(fresh), 0u);
  ASSERT_FALSE(store.Pinned(&pins));
  EXPECT_EQ(pins, (PinMap{{pinned, {"entity"}}}));
  EXPECT_FALSE(impatient.claimer->Claim("fresh", "me", 10s));
  EXPECT_FALSE(impatient.revoker->Revoke("held", "holder"));
}

// A writer stopped inside a lease's slot (its seqlock odd) leaves that one
// lease unknown until it resumes; every other lease reads as before, and no
// reader hangs.
TEST(StuckLock, S23_AWriterStoppedInsideASlotLeavesOtherLeasesReadable) {
  ScopedSegmentName seg;
  ShmStoreOptions quick = TestOptions(seg.name());
  quick.lock_timeout = 20ms;
  Local local(quick);
  ASSERT_TRUE(local.store);
  ASSERT_FALSE(local.claimer->Claim("held", "holder", 1h));
  ASSERT_FALSE(local.claimer->Claim("busy", "holder", 1h));
  ChildProcess stuck([&] {
    setenv("SHMLEASE_CRASH_AT", "mid-slot-copy", 1);
    setenv("SHMLEASE_CRASH_HOW", "stop", 1);
    Local mine(TestOptions(seg.name()));
    return mine.pinner && !mine.pinner->Pin("busy", "entity") ? 0 : 3;
  });
  std::optional<int> status = stuck.WaitStoppedOrExited();
  ASSERT_TRUE(status && WIFSTOPPED(*status)) << DescribeStatus(status);

  EXPECT_FALSE(local.checker->Token("held", "holder").Check());
  EXPECT_EQ(local.checker->Token("held", "other").Check(), ErrNotHeld);
  LeaseMap leases;
  const Key held_only[] = {{"ns", "model", "held"}};
  EXPECT_FALSE(local.store->Leases(&leases, held_only));
  EXPECT_EQ(leases.size(), 1u);
  // The busy lease's slot is mid-write: whatever a reader says, it says it
  // within the lock timeout, and never that another holder has it.
  const std::error_code busy = local.checker->Token("busy", "holder").Check();
  EXPECT_TRUE(!busy || busy == ErrNotHeld) << busy.message();
  EXPECT_EQ(local.checker->Token("busy", "other").Check(), ErrNotHeld);
  const std::error_code all = local.store->Leases(&leases);
  EXPECT_TRUE(!all || all == ErrTimeout) << all.message();
  EXPECT_EQ(local.claimer->Claim("busy", "other", 1h), ErrTimeout);

  ASSERT_EQ(kill(stuck.pid(), SIGCONT), 0);
  status = stuck.Wait();
  EXPECT_TRUE(ExitedZero(status)) << DescribeStatus(status);
  EXPECT_FALSE(local.checker->Token("busy", "holder").Check());
  PinMap pins;
  ASSERT_FALSE(local.store->Pinned(&pins));
  EXPECT_EQ(pins, (PinMap{{Key{"ns", "model", "busy"}, {"entity"}}}));
  EXPECT_EQ(local.claimer->Claim("busy", "other", 1h), ErrClaimDenied);
}

TEST(StuckLock, S24_AStopRequestedWhileBlockedOnTheLockAbortsAndChangesNothing) {
  ScopedSegmentName seg;
  ShmStoreOptions patient = TestOptions(seg.name());
  patient.lock_timeout = std::chrono::hours(1);  // Only the stop can end the wait.
  Local local(patient);
  ASSERT_TRUE(local.store);
  ASSERT_FALSE(local.claimer->Claim("held", "holder", 1h));
  ASSERT_FALSE(local.pinner->Pin("held", "entity"));
  const std::string before = DumpState(*local.store);
  auto stuck = StartStuckWriter(seg.name());
  ASSERT_FALSE(HasFailure());

  const std::function<std::error_code(std::stop_token)> writes[] = {
      [&](std::stop_token s) {
        return local.store->ClaimLease({"ns", "model", "fresh"}, {"me", 10s}, s);
      },
      [&](std::stop_token s) { return local.claimer->Claim("fresh", "me", 10s, s); },
      [&](std::stop_token s) { return local.claimer->Claim("held", "holder", 2h, s); },
      [&](std::stop_token s) { return local.revoker->Revoke("held", "holder", s); },
      [&](std::stop_token s) { return local.pinner->Pin("held", "other", s); },
      [&](std::stop_token s) { return local.pinner->Unpin("held", "entity", s); },
  };
  for (std::size_t i = 0; i < std::size(writes); ++i) {
    SCOPED_TRACE("write #" + std::to_string(i));
    std::promise<pid_t> tid;
    std::promise<std::error_code> result;
    std::future<std::error_code> result_future = result.get_future();
    std::jthread writer([&](std::stop_token stop) {
      tid.set_value(static_cast<pid_t>(syscall(SYS_gettid)));
      result.set_value(writes[i](stop));
    });
    ASSERT_TRUE(WaitUntilThreadSleepsInFutex(tid.get_future().get()));
    writer.request_stop();
    ASSERT_EQ(result_future.wait_for(30s), std::future_status::ready) << "the stop was ignored";
    EXPECT_EQ(result_future.get(), ErrAborted);
    EXPECT_EQ(DumpState(*local.store), before);
  }
  ASSERT_EQ(kill(stuck->pid(), SIGCONT), 0);
  EXPECT_TRUE(ExitedZero(stuck->Wait()));
}

// ------------------------------------------------------------ S27: processes that die

TEST(DeadProcesses, S27_AHolderProcessThatDiesKeepsItsLeaseUntilExpiry) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name()));
  ASSERT_TRUE(local.store);
  RemoteAgent doomed(seg.name());
  ASSERT_FALSE(doomed.Claim("lease", "doomed", 10s));
  std::optional<int> status = doomed.Die();
  ASSERT_TRUE(status && WIFSIGNALED(*status)) << DescribeStatus(status);
  const Token token = local.checker->Token("lease", "doomed");
  EXPECT_FALSE(token.Check());
  EXPECT_EQ(local.claimer->Claim("lease", "heir", 10s), ErrClaimDenied);
  ASSERT_FALSE(local.store->AdvanceFakeClock(10s - 1ns));
  EXPECT_FALSE(token.Check());
  EXPECT_EQ(local.claimer->Claim("lease", "heir", 10s), ErrClaimDenied);
  ASSERT_FALSE(local.store->AdvanceFakeClock(1ns));
  EXPECT_EQ(token.Check(), ErrNotHeld);
  EXPECT_FALSE(local.claimer->Claim("lease", "heir", 10s));
}

TEST(DeadProcesses, S27_ADeadProcessKeepsItsPinnedLeaseUntilThePinsGo) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name()));
  ASSERT_TRUE(local.store);
  RemoteAgent doomed(seg.name());
  ASSERT_FALSE(doomed.Claim("lease", "doomed", 10s));
  ASSERT_FALSE(doomed.Pin("lease", "doomed-pin"));
  doomed.Die();
  ASSERT_FALSE(local.store->AdvanceFakeClock(1h));
  EXPECT_FALSE(local.checker->Token("lease", "doomed").Check());
  EXPECT_EQ(local.claimer->Claim("lease", "heir", 10s), ErrClaimDenied);
  ASSERT_FALSE(local.pinner->Unpin("lease", "doomed-pin"));
  EXPECT_FALSE(local.claimer->Claim("lease", "heir", 10s));
}

// Every crash point inside a write (lib/table.cc Commit and Apply).
constexpr const char* kCrashPoints[] = {
    "lock-acquired",  "journal-partial", "journal-written",      "journal-committed",
    "seqlock-opened", "mid-slot-copy",   "before-seqlock-close", "applied"};

// A writer SIGKILLed at each point of each kind of write leaves a segment
// that everyone else can go on using: the write either happened or not, and
// the first process to come along (reader or writer) sees the truth.
TEST(DeadProcesses, S27_TheSegmentStaysUsableWhateverPointAWriterDiesAt) {
  enum Write { kClaim, kRevoke, kPin, kUnpin };
  for (const char* point : kCrashPoints) {
    for (Write write : {kClaim, kRevoke, kPin, kUnpin}) {
      SCOPED_TRACE(std::string(point) + " write #" + std::to_string(write));
      ScopedSegmentName seg("-" + std::string(point) + std::to_string(write));
      Local local(TestOptions(seg.name()));
      ASSERT_TRUE(local.store);
      // A bystander lease shares nothing with the write but the segment.
      ASSERT_FALSE(local.claimer->Claim("bystander", "other", 1h));
      ASSERT_FALSE(local.claimer->Claim("victim", "holder", 1h));
      ASSERT_FALSE(local.pinner->Pin("victim", "old-pin"));
      const std::string before = DumpState(*local.store, false);
      ChildProcess child([&] {
        setenv("SHMLEASE_CRASH_AT", point, 1);
        Local mine(TestOptions(seg.name()));
        if (!mine.store) return 2;
        switch (write) {
          case kClaim:
            mine.claimer->Claim("new", "newcomer", 1h);
            break;
          case kRevoke:
            mine.revoker->Revoke("victim", "holder");
            break;
          case kPin:
            mine.pinner->Pin("victim", "new-pin");
            break;
          case kUnpin:
            mine.pinner->Unpin("victim", "old-pin");
            break;
        }
        return 3;  // The crash point was not reached.
      });
      std::optional<int> status = child.Wait();
      ASSERT_TRUE(status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
          << DescribeStatus(status);

      // Readers first, before any writer repairs anything.
      const bool revoked = local.checker->Token("victim", "holder").Check() == ErrNotHeld;
      EXPECT_TRUE(!revoked || write == kRevoke) << "the holder lost a lease nobody revoked";
      EXPECT_FALSE(local.checker->Token("bystander", "other").Check());
      const Key victim{"ns", "model", "victim"};
      LeaseMap leases;
      const Key victim_only[] = {victim};
      EXPECT_FALSE(local.store->Leases(&leases, victim_only));
      EXPECT_EQ(leases.count(victim), revoked ? 0u : 1u);

      // Then the write either happened or it did not; nothing in between.
      PinMap pins;
      ASSERT_FALSE(local.store->Pinned(&pins));
      ASSERT_FALSE(local.store->Leases(&leases));
      switch (write) {
        case kClaim:
          EXPECT_EQ(leases.size(), leases.count(Key{"ns", "model", "new"}) ? 3u : 2u);
          if (leases.count(Key{"ns", "model", "new"})) {
            EXPECT_EQ(leases.at(Key{"ns", "model", "new"}).holder, "newcomer");
          }
          break;
        case kRevoke:
          EXPECT_EQ(leases.size(), revoked ? 1u : 2u);
          break;
        case kPin: {
          const std::vector<std::string>& p = pins[victim];
          EXPECT_TRUE(p == std::vector<std::string>({"new-pin", "old-pin"}) ||
                      p == std::vector<std::string>({"old-pin"}));
          break;
        }
        case kUnpin: {
          const std::vector<std::string>& p = pins[victim];
          EXPECT_TRUE(p.empty() || p == std::vector<std::string>({"old-pin"}));
          break;
        }
      }
      // Writers go on: the first one repairs after the dead one.
      ASSERT_FALSE(local.claimer->Claim("after", "survivor", 1h));
      ASSERT_FALSE(local.revoker->Revoke("bystander", "other"));
      std::vector<std::string> problems;
      EXPECT_FALSE(local.store->Fsck(&problems));
      EXPECT_TRUE(problems.empty()) << problems.front();
      ShmStats stats;
      ASSERT_FALSE(local.store->GetStats(&stats));
      EXPECT_GE(stats.recoveries, 1u);
      EXPECT_NE(DumpState(*local.store, false), before);  // The survivor's writes show.
    }
  }
}

// A writer that dies inside the slot of a held lease (its seqlock left odd)
// must not make a waiter believe the lease is free: the waiter repairs, sees
// the lease held, and sleeps until it really ends.
TEST(DeadProcesses, S27_AWaiterDoesNotReturnWhileTheLeaseIsHeldAfterAWriterDiedInItsSlot) {
  for (const char* point : {"seqlock-opened", "mid-slot-copy", "before-seqlock-close"}) {
    SCOPED_TRACE(point);
    ScopedSegmentName seg(std::string("-") + point);
    Local local(TestOptions(seg.name()));
    ASSERT_TRUE(local.store);
    ASSERT_FALSE(local.claimer->Claim("victim", "holder", 1h));
    ChildProcess child([&] {
      setenv("SHMLEASE_CRASH_AT", point, 1);
      Local mine(TestOptions(seg.name()));
      if (mine.pinner) mine.pinner->Pin("victim", "entity");
      return 3;  // The crash point was not reached.
    });
    std::optional<int> status = child.Wait();
    ASSERT_TRUE(status && WIFSIGNALED(*status)) << DescribeStatus(status);
    const Key victim{"ns", "model", "victim"};
    auto victim_free = [&] {
      LeaseMap leases;
      return !local.store->Leases(&leases) && leases.count(victim) == 0;
    };
    {
      BackgroundWait wait(*local.claimer, "victim", victim_free);
      ASSERT_TRUE(wait.Started());
      ASSERT_FALSE(local.revoker->Revoke("victim", "holder"));
      auto result = wait.Result();
      ASSERT_TRUE(result);
      EXPECT_FALSE(result->first);
      EXPECT_TRUE(result->second) << "the wait returned while the lease was held";
    }
  }
}

// ------------------------------------------------------------ S28: one clock for all processes

TEST(AcrossProcesses, S28_ExpiriesFromAnotherProcessAreOnThisProcessesMonotonicClock) {
  ScopedSegmentName seg;
  ShmStoreOptions real = TestOptions(seg.name(), /*fake_clock=*/false);
  Local local(real);
  ASSERT_TRUE(local.store);
  RemoteAgent other(seg.name());
  RemoteAgent::Reply reply;
  ASSERT_FALSE(other.Claim("lease", "other", 1h, &reply));
  const std::int64_t expiry = local.InfoOf("lease")->expiry.time_since_epoch().count();
  const std::int64_t hour = std::chrono::nanoseconds(1h).count();
  // The other process read its t0 between these two readings of its own clock.
  EXPECT_LE(reply.before + hour, expiry);
  EXPECT_LE(expiry, reply.after + hour);
  EXPECT_LE(reply.after, MonotonicNowNs());
  EXPECT_TRUE(ExitedZero(other.Finish()));
}

// ------------------------------------------------------------ S19: waits across processes

class WaitAcrossProcesses : public ::testing::TestWithParam<bool> {
 protected:
  bool fake_clock() const { return GetParam(); }
};

TEST_P(WaitAcrossProcesses, S19_AWaiterInAnotherProcessWakesOnRevoke) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name(), fake_clock()));
  ASSERT_TRUE(local.store);
  ASSERT_FALSE(local.claimer->Claim("lease", "holder", 1h));
  RemoteAgent waiter(seg.name());
  ASSERT_TRUE(waiter.StartWait("lease"));
  // And the holder's watch on its own holding (ShmStore::WaitUntilLost).
  RemoteAgent watcher(seg.name());
  ASSERT_TRUE(watcher.StartWaitLost("lease", local.InfoOf("lease")->epoch));
  ASSERT_FALSE(local.claimer->Claim("lease", "holder", 2h));  // An extension ends neither.
  const std::int64_t revoke_started = MonotonicNowNs();
  ASSERT_FALSE(local.revoker->Revoke("lease", "holder"));
  for (RemoteAgent* agent : {&waiter, &watcher}) {
    RemoteAgent::Reply reply;
    EXPECT_FALSE(agent->WaitResult(&reply));
    EXPECT_GE(reply.after, revoke_started) << "the wait returned before the revoke";
    EXPECT_TRUE(ExitedZero(agent->Finish()));
  }
}

// The watcher does not run between a revoke and the same holder's new
// claim (stopped meanwhile): when it looks again, the lease is held, by the
// same holder, but not by the holding it watches.
TEST_P(WaitAcrossProcesses, AHoldersWatchEndsWhenItsHolderClaimsAgainUnseen) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name(), fake_clock()));
  ASSERT_TRUE(local.store);
  ASSERT_FALSE(local.claimer->Claim("lease", "holder", 1h));
  RemoteAgent watcher(seg.name());
  ASSERT_TRUE(watcher.StartWaitLost("lease", local.InfoOf("lease")->epoch));
  ASSERT_TRUE(watcher.Stop());
  ASSERT_FALSE(local.revoker->Revoke("lease", "holder"));
  ASSERT_FALSE(local.claimer->Claim("lease", "holder", 1h));
  watcher.Continue();
  RemoteAgent::Reply reply;
  EXPECT_FALSE(watcher.WaitResult(&reply));  // A lost reply (30 s, no answer) is an error.
  EXPECT_TRUE(ExitedZero(watcher.Finish()));
}

TEST_P(WaitAcrossProcesses, S19_AWaiterInAnotherProcessWakesWhenThePinOfAnExpiredLeaseGoes) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name(), fake_clock()));
  ASSERT_TRUE(local.store);
  if (fake_clock()) {
    ASSERT_FALSE(local.claimer->Claim("lease", "holder", 10s));
    ASSERT_FALSE(local.pinner->Pin("lease", "entity"));
    ASSERT_FALSE(local.store->AdvanceFakeClock(1h));
  } else {
    // Pinned first (S21), so a 1 ns claim is held although its time is up at once.
    ASSERT_FALSE(local.pinner->Pin("lease", "entity"));
    ASSERT_FALSE(local.claimer->Claim("lease", "holder", 1ns));
    while (local.store->Now() <= local.InfoOf("lease")->expiry) {
    }
  }
  ASSERT_TRUE(local.InfoOf("lease"));
  RemoteAgent waiter(seg.name());
  ASSERT_TRUE(waiter.StartWait("lease"));
  const std::int64_t unpin_started = MonotonicNowNs();
  ASSERT_FALSE(local.pinner->Unpin("lease", "entity"));
  RemoteAgent::Reply reply;
  EXPECT_FALSE(waiter.WaitResult(&reply));
  EXPECT_GE(reply.after, unpin_started) << "the wait returned while the lease was pinned";
  EXPECT_TRUE(ExitedZero(waiter.Finish()));
}

TEST_P(WaitAcrossProcesses, S19_AStopTokenCancelsAWaitOnALeaseHeldInAnotherProcess) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name(), fake_clock()));
  ASSERT_TRUE(local.store);
  RemoteAgent holder(seg.name());
  ASSERT_FALSE(holder.Claim("lease", "holder", 1h));
  ASSERT_FALSE(holder.Pin("lease", "entity"));  // No deadline: only the stop ends the waits.
  // A waiter in this process, stopped from this (another) thread once started.
  {
    BackgroundWait wait(*local.claimer, "lease");
    ASSERT_TRUE(wait.Started());
    wait.RequestStop();
    auto result = wait.Result();
    ASSERT_TRUE(result) << "the stop did not end the wait";
    EXPECT_EQ(result->first, ErrWaitCancelled);
  }
  // A waiter in a third process, stopped by a second thread of that process.
  RemoteAgent waiter(seg.name());
  EXPECT_EQ(waiter.WaitThenStop("lease"), ErrWaitCancelled);
  EXPECT_FALSE(holder.Check("lease", "holder"));
  EXPECT_TRUE(ExitedZero(waiter.Finish()));
  EXPECT_TRUE(ExitedZero(holder.Finish()));
}

INSTANTIATE_TEST_SUITE_P(Clocks, WaitAcrossProcesses, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "FakeClock" : "RealClock";
                         });

TEST(WaitAcrossProcessesRealClock, S19_AWaiterInAnotherProcessWakesAtExpiryWithNoWriter) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(local.store);
  ASSERT_FALSE(local.claimer->Claim("lease", "holder", 200ms));
  const std::int64_t expiry = local.InfoOf("lease")->expiry.time_since_epoch().count();
  RemoteAgent waiter(seg.name());
  ASSERT_TRUE(waiter.StartWait("lease"));
  RemoteAgent::Reply reply;
  EXPECT_FALSE(waiter.WaitResult(&reply));
  EXPECT_GE(reply.after, expiry) << "the wait returned before the expiry";
  EXPECT_TRUE(ExitedZero(waiter.Finish()));
}

TEST(WaitAcrossProcessesFakeClock, S19_AWaiterInAnotherProcessWakesWhenTheFakeClockPassesExpiry) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name()));
  ASSERT_TRUE(local.store);
  ASSERT_FALSE(local.claimer->Claim("lease", "holder", 10s));
  RemoteAgent waiter(seg.name());
  ASSERT_TRUE(waiter.StartWait("lease"));
  ASSERT_FALSE(local.store->AdvanceFakeClock(9s));
  const std::int64_t last_move = MonotonicNowNs();
  ASSERT_FALSE(local.store->AdvanceFakeClock(1s));
  RemoteAgent::Reply reply;
  EXPECT_FALSE(waiter.WaitResult(&reply));
  EXPECT_GE(reply.after, last_move) << "the wait returned before the expiry";
  EXPECT_TRUE(ExitedZero(waiter.Finish()));
}

// ------------------------------------------------------------ S20: a pin holds for every process

TEST(PinsAcrossProcesses, S20_APinTakenInOneProcessKeepsTheLeaseAliveForEveryOtherProcess) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name()));
  ASSERT_TRUE(local.store);
  RemoteAgent holder(seg.name()), pinner(seg.name()), rival(seg.name());
  ASSERT_FALSE(holder.Claim("lease", "holder", 10s));
  ASSERT_FALSE(pinner.Pin("lease", "pinner"));
  ASSERT_FALSE(local.store->AdvanceFakeClock(1h));
  for (RemoteAgent* agent : {&holder, &pinner, &rival}) {
    EXPECT_FALSE(agent->Check("lease", "holder"));
    EXPECT_EQ(agent->HolderOf("lease"), "holder");
  }
  EXPECT_FALSE(local.checker->Token("lease", "holder").Check());
  EXPECT_EQ(rival.Claim("lease", "rival", 10s), ErrClaimDenied);
  EXPECT_EQ(local.claimer->Claim("lease", "local", 10s), ErrClaimDenied);
  ASSERT_FALSE(pinner.Unpin("lease", "pinner"));
  EXPECT_EQ(holder.Check("lease", "holder"), ErrNotHeld);
  ASSERT_FALSE(rival.Claim("lease", "rival", 10s));
  EXPECT_EQ(holder.HolderOf("lease"), "rival");
  for (RemoteAgent* agent : {&holder, &pinner, &rival}) EXPECT_TRUE(ExitedZero(agent->Finish()));
}

TEST(PinsAcrossProcesses, S20_APinKeepsARealClockLeaseAliveForEveryOtherProcess) {
  ScopedSegmentName seg;
  Local local(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(local.store);
  RemoteAgent holder(seg.name()), pinner(seg.name()), rival(seg.name());
  ASSERT_FALSE(pinner.Pin("lease", "pinner"));
  ASSERT_FALSE(holder.Claim("lease", "holder", 1ns));  // Its time is up at once...
  const Clock::time_point expiry = local.InfoOf("lease")->expiry;
  while (local.store->Now() <= expiry) {
  }
  EXPECT_FALSE(rival.Check("lease", "holder"));  // ...but the pin holds it.
  EXPECT_EQ(rival.HolderOf("lease"), "holder");
  EXPECT_EQ(rival.Claim("lease", "rival", 10s), ErrClaimDenied);
  ASSERT_FALSE(pinner.Unpin("lease", "pinner"));
  EXPECT_EQ(rival.Check("lease", "holder"), ErrNotHeld);
  ASSERT_FALSE(rival.Claim("lease", "rival", 10s));
  for (RemoteAgent* agent : {&holder, &pinner, &rival}) EXPECT_TRUE(ExitedZero(agent->Finish()));
}

}  // namespace
}  // namespace shmlease
