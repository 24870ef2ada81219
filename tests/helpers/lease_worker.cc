// A process that opens (or creates) a lease segment and performs a list of
// operations on it, for the crash tests: they run it with SHMLEASE_CRASH_AT
// so that it dies at a named point, or with SHMLEASE_CRASH_HOW=stop so that it
// stops there.
//
//   lease_worker [options] SEGMENT [OP ARGS...]...
//
// Options (before SEGMENT):
//   --capacity=N         capacity when this process creates the segment (16)
//   --fake-clock         create with a fake clock
//   --init-timeout-ms=N  ShmStoreOptions::init_timeout
//   --lock-timeout-ms=N  ShmStoreOptions::lock_timeout
//   --barrier-fd=N       read this descriptor until end of file before opening,
//                        so that a test can start many workers at once
// Operations, on keys (kSingularControllerNamespace, "crash-model", LEASE):
//   claim LEASE HOLDER MS    ClaimOrExtendLease for MS milliseconds
//   hold LEASE HOLDER MS1 MS2  Holding::Claim for MS1, then on the same Holding for MS2
//   revoke LEASE HOLDER
//   pin LEASE ENTITY
//   unpin LEASE ENTITY
//   wait LEASE               WaitUntilFree; prints "waiting LEASE" once in place
//   fork-child               forks a child that only waits, with every descriptor
//                            the fork leaves it, until killed; prints "child PID"
//   check LEASE HOLDER       Token::Check twice (the store answers the first
//                            and arms the token, the second is answered
//                            inline); prints "check A B", each "held" or
//                            "not-held"
//   expiry LEASE             prints "expiry HOLDER MS1 MS2": the time left
//                            against ShmStore::Now() and against
//                            steady_clock::now(), in ms; "expiry none" if free
//
// Each finished step prints one line to stdout, in one write(): "ok open",
// "ok claim", ... or "fail <step> <errc value> <message>". Exit status: 0 when
// every step succeeded, 1 when one failed (the rest are skipped), 2 for bad usage.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "shmlease/shmlease.h"

namespace {

using shmlease::Key;

void Say(const std::string& line) {
  std::string out = line + "\n";
  // One write per line: the test reads whatever made it out before a crash.
  ssize_t ignored = write(STDOUT_FILENO, out.data(), out.size());
  (void)ignored;
}

int Fail(const std::string& step, std::error_code ec, const std::string& detail = "") {
  Say("fail " + step + " " + std::to_string(ec.value()) + " " + ec.message() +
      (detail.empty() ? "" : ": " + detail));
  return 1;
}

int Usage(const char* why) {
  std::fprintf(stderr, "lease_worker: %s\n", why);
  return 2;
}

bool ParseLong(std::string_view s, long* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool Option(std::string_view arg, std::string_view name, long* value) {
  if (!arg.starts_with(name)) return false;
  return ParseLong(arg.substr(name.size()), value);
}

Key LeaseKey(const std::string& lease) {
  return Key{std::string(shmlease::kSingularControllerNamespace), "crash-model", lease};
}

void WaitBarrier(int fd) {
  char buf[64];
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r == 0 || (r < 0 && errno != EINTR)) break;
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  shmlease::ShmStoreOptions options;
  options.capacity = 16;
  int arg = 1;
  for (; arg < argc && std::string_view(argv[arg]).starts_with("--"); ++arg) {
    std::string_view a = argv[arg];
    long v = 0;
    if (a == "--fake-clock") {
      options.fake_clock = true;
    } else if (Option(a, "--capacity=", &v)) {
      options.capacity = static_cast<std::size_t>(v);
    } else if (Option(a, "--init-timeout-ms=", &v)) {
      options.init_timeout = std::chrono::milliseconds(v);
    } else if (Option(a, "--lock-timeout-ms=", &v)) {
      options.lock_timeout = std::chrono::milliseconds(v);
    } else if (Option(a, "--barrier-fd=", &v)) {
      WaitBarrier(static_cast<int>(v));
    } else {
      return Usage("unknown option");
    }
  }
  if (arg >= argc) return Usage("no segment given");
  options.name = argv[arg++];

  std::error_code ec;
  std::string detail;
  auto store = shmlease::ShmStore::OpenOrCreate(options, ec, &detail);
  if (!store) return Fail("open", ec, detail);
  Say("ok open");

  std::vector<std::string> args(argv + arg, argv + argc);
  for (std::size_t i = 0; i < args.size();) {
    const std::string op = args[i++];
    auto take = [&](std::size_t n) { return i + n <= args.size(); };
    if (op == "claim" && take(3)) {
      long ms = 0;
      if (!ParseLong(args[i + 2], &ms)) return Usage("bad duration");
      ec = store->ClaimOrExtendLease(LeaseKey(args[i]),
                                     shmlease::Request{args[i + 1], std::chrono::milliseconds(ms)});
      i += 3;
    } else if (op == "hold" && take(4)) {
      // Two claims through one Holding: the second finds the holding the
      // first one recorded (slot and epoch), without the names.
      long ms1 = 0, ms2 = 0;
      if (!ParseLong(args[i + 2], &ms1) || !ParseLong(args[i + 3], &ms2)) {
        return Usage("bad duration");
      }
      shmlease::Holding holding(store, LeaseKey(args[i]), args[i + 1]);
      ec = holding.Claim(std::chrono::milliseconds(ms1));
      if (!ec) ec = holding.Claim(std::chrono::milliseconds(ms2));
      i += 4;
    } else if (op == "revoke" && take(2)) {
      ec = store->RevokeLease(LeaseKey(args[i]), args[i + 1]);
      i += 2;
    } else if (op == "pin" && take(2)) {
      ec = store->PinLease(LeaseKey(args[i]), args[i + 1]);
      i += 2;
    } else if (op == "unpin" && take(2)) {
      ec = store->UnpinLease(LeaseKey(args[i]), args[i + 1]);
      i += 2;
    } else if (op == "fork-child") {
      // Reported only once the child runs: until then it still shares the
      // parent's descriptors (its fork handler closes the seat's first thing).
      int started[2];
      if (pipe2(started, O_CLOEXEC) != 0)
        return Fail(op, std::error_code(errno, std::system_category()));
      std::fflush(nullptr);
      const pid_t child = fork();
      if (child < 0) return Fail(op, std::error_code(errno, std::system_category()));
      if (child == 0) {
        (void)!write(started[1], "s", 1);
        for (;;) pause();
      }
      close(started[1]);
      char c;
      if (read(started[0], &c, 1) != 1)
        return Fail(op, std::error_code(EIO, std::system_category()));
      close(started[0]);
      Say("child " + std::to_string(child));
    } else if (op == "wait" && take(1)) {
      const std::string lease = args[i];
      ec = store->WaitUntilFree(LeaseKey(lease), {}, [&] { Say("waiting " + lease); });
      i += 1;
    } else if (op == "check" && take(2)) {
      shmlease::Manager manager(store);
      auto checker = manager.Checker(shmlease::kSingularControllerNamespace, "crash-model", ec);
      if (!checker) return Fail(op, ec);
      const shmlease::Token token = checker->Token(args[i], args[i + 1]);
      const std::error_code first = token.Check();
      const std::error_code second = token.Check();
      for (const std::error_code& c : {first, second}) {
        if (c && c != shmlease::Errc::not_held) return Fail(op, c);
      }
      Say(std::string("check ") + (first ? "not-held" : "held") + " " +
          (second ? "not-held" : "held"));
      ec.clear();
      i += 2;
    } else if (op == "expiry" && take(1)) {
      shmlease::LeaseMap leases;
      const Key keys[] = {LeaseKey(args[i])};
      ec = store->Leases(&leases, keys);
      if (!ec) {
        using std::chrono::duration_cast;
        using std::chrono::milliseconds;
        if (leases.empty()) {
          Say("expiry none");
        } else {
          const shmlease::Info& info = leases.begin()->second;
          Say("expiry " + info.holder + " " +
              std::to_string(duration_cast<milliseconds>(info.expiry - store->Now()).count()) +
              " " +
              std::to_string(
                  duration_cast<milliseconds>(info.expiry - std::chrono::steady_clock::now())
                      .count()));
        }
      }
      i += 1;
    } else {
      return Usage("unknown operation or missing arguments");
    }
    if (ec) return Fail(op, ec);
    Say("ok " + op);
  }
  return 0;
}
