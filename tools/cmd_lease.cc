// claim, extend, revoke, check: one lease, one holder.
#include <cstdio>
#include <optional>
#include <string>

#include "cli_options.h"
#include "command.h"
#include "duration.h"
#include "lease_text.h"
#include "report.h"
#include "shmlease/shmlease.h"

namespace shmlease::cli {

namespace {

struct LeaseArgs {
  std::string lease;
  std::string holder;
  std::chrono::nanoseconds duration{};

  Key KeyIn(const GlobalOptions& options) const { return Key{options.ns, options.model, lease}; }
};

void SayHeld(const GlobalOptions& options, const Key& key, const LeaseArgs& args, const char* verb,
             std::uint64_t epoch) {
  if (!options.verbose) return;
  std::printf("%s %s as '%s' for %s (epoch %llu)\n", verb, LeaseName(key).c_str(),
              Printable(args.holder).c_str(), FormatDuration(args.duration).c_str(),
              static_cast<unsigned long long>(epoch));
}

// The lease's current holding, when someone holds it.
std::optional<Info> CurrentHolding(const ShmStore& store, const Key& key) {
  LeaseMap leases;
  const Key keys[] = {key};
  if (store.Leases(&leases, keys) || leases.empty()) return std::nullopt;
  return leases.begin()->second;
}

// For -v, after an extension of `before`: an extension never shortens a
// lease, so one for less than was left changed nothing, and saying
// "extended ... for 10.0s" of it would be wrong about when it runs out.
void SayExtended(const GlobalOptions& options, const ShmStore& store, const Key& key,
                 const LeaseArgs& args, const std::optional<Info>& before) {
  if (!options.verbose) return;
  const std::optional<Info> after = CurrentHolding(store, key);
  const std::uint64_t epoch = after && after->holder == args.holder ? after->epoch : 0;
  if (!before || !after || after->holder != args.holder || after->epoch != before->epoch ||
      after->expiry != before->expiry) {
    SayHeld(options, key, args, "extended", epoch);
    return;
  }
  std::printf("kept %s as '%s': its expiry in %s is later than %s from now (epoch %llu)\n",
              LeaseName(key).c_str(), Printable(args.holder).c_str(),
              FormatDuration(after->expiry - store.Now()).c_str(),
              FormatDuration(args.duration).c_str(), static_cast<unsigned long long>(epoch));
}

int RunClaim(const GlobalOptions& options, const LeaseArgs& args) {
  OpenedSegment opened = OpenSegment(options, Access::kCreate);
  if (!opened.store) return ReportOpenFailure(options, opened);
  const Key key = args.KeyIn(options);
  // Only for -v: whether this holder held it already, so the claim was an extension.
  std::optional<Info> before;
  if (options.verbose) before = CurrentHolding(*opened.store, key);
  Info current;
  std::error_code ec =
      opened.store->ClaimOrExtendLease(key, Request{args.holder, args.duration}, &current);
  if (ec == Errc::claim_denied) {
    return Report("claim denied: " + LeaseName(key) + " is " +
                  DescribeHolding(current, opened.store->Now()));
  }
  if (ec) return Report("cannot claim " + LeaseName(key), ec);
  if (options.verbose) {
    const std::uint64_t epoch = HoldingEpoch(*opened.store, key, args.holder);
    // The same holder with the same fencing epoch: the holding went on, extended.
    if (before && before->holder == args.holder && before->epoch == epoch) {
      SayExtended(options, *opened.store, key, args, before);
    } else {
      SayHeld(options, key, args, "claimed", epoch);
    }
  }
  return kExitOk;
}

int RunExtend(const GlobalOptions& options, const LeaseArgs& args) {
  OpenedSegment opened = OpenSegment(options, Access::kCreate);
  if (!opened.store) return ReportOpenFailure(options, opened);
  const Key key = args.KeyIn(options);
  // Only for -v: whether the extension moved the expiry at all.
  std::optional<Info> before;
  if (options.verbose) before = CurrentHolding(*opened.store, key);
  std::error_code ec = opened.store->ExtendLease(key, Request{args.holder, args.duration});
  if (ec == Errc::invalid) {
    return Report("'" + Printable(args.holder) + "' does not hold " + LeaseName(key) + ": it is " +
                  DescribeCurrent(*opened.store, key));
  }
  if (ec) return Report("cannot extend " + LeaseName(key), ec);
  SayExtended(options, *opened.store, key, args, before);
  return kExitOk;
}

int RunRevoke(const GlobalOptions& options, const LeaseArgs& args) {
  const Key key = args.KeyIn(options);
  // Revoking never needs a segment to exist: without one, nobody holds anything.
  OpenedSegment opened = OpenSegment(options, Access::kWrite);
  if (opened.ec == Errc::segment_not_found) {
    return Report("'" + Printable(args.holder) + "' does not hold " + LeaseName(key) +
                  ": there is no segment '" + options.segment + "'");
  }
  if (!opened.store) return ReportOpenFailure(options, opened);
  std::error_code ec = opened.store->RevokeLease(key, args.holder);
  if (ec == Errc::invalid) {
    return Report("'" + Printable(args.holder) + "' does not hold " + LeaseName(key) + ": it is " +
                  DescribeCurrent(*opened.store, key));
  }
  if (ec) return Report("cannot revoke " + LeaseName(key), ec);
  if (options.verbose) {
    std::printf("revoked %s from '%s'\n", LeaseName(key).c_str(), Printable(args.holder).c_str());
  }
  return kExitOk;
}

int RunCheck(const GlobalOptions& options, const LeaseArgs& args) {
  OpenedSegment opened = OpenSegment(options, Access::kRead);
  if (!opened.store) return ReportOpenFailure(options, opened);
  const Key key = args.KeyIn(options);
  Manager manager(opened.store);
  std::error_code ec;
  auto checker = manager.Checker(options.ns, options.model, ec);
  if (!checker) return Report("cannot check " + LeaseName(key), ec);
  ec = checker->Token(args.lease, args.holder).Check();
  if (ec && ec != Errc::not_held) return Report("cannot check " + LeaseName(key), ec);
  if (options.verbose) {
    std::printf("'%s' %s %s: it is %s\n", Printable(args.holder).c_str(),
                ec ? "does not hold" : "holds", LeaseName(key).c_str(),
                DescribeCurrent(*opened.store, key).c_str());
  }
  return ec ? kExitNo : kExitOk;
}

CLI::App* AddLeaseSubcommand(CLI::App& app, const char* name, const char* help, LeaseArgs* args,
                             bool with_duration) {
  CLI::App* sub = app.add_subcommand(name, help);
  sub->add_option("LEASE", args->lease, "The lease's name")->required()->check(NameValidator());
  sub->add_option("--holder", args->holder, "Who holds (or would hold) the lease")
      ->required()
      ->check(NameValidator());
  if (with_duration) {
    AddDurationOption(sub, "--for", &args->duration,
                      "How long from now the holder keeps the lease, e.g. 30s or 1m30s")
        ->required();
  }
  return sub;
}

}  // namespace

void AddLeaseCommands(CLI::App& app, const GlobalOptions& options, Commands& commands) {
  struct Spec {
    const char* name;
    const char* help;
    bool with_duration;
    int (*run)(const GlobalOptions&, const LeaseArgs&);
  };
  static constexpr Spec kSpecs[] = {
      {"claim",
       "Claim LEASE for HOLDER, or extend it if HOLDER holds it; exit 1 if another holder has it",
       true, RunClaim},
      {"extend", "Extend LEASE for HOLDER; exit 1 if HOLDER does not hold it", true, RunExtend},
      {"revoke", "Give LEASE up; exit 1 if HOLDER does not hold it", false, RunRevoke},
      {"check", "Exit 0 if HOLDER holds LEASE now, 1 if not; silent unless --verbose", false,
       RunCheck},
  };
  for (const Spec& spec : kSpecs) {
    auto args = std::make_shared<LeaseArgs>();
    CLI::App* sub = AddLeaseSubcommand(app, spec.name, spec.help, args.get(), spec.with_duration);
    commands.Add(sub, [&options, args, run = spec.run] { return run(options, *args); });
  }
}

}  // namespace shmlease::cli
