// Uses only the installed public headers: claim, check, deny, revoke, wait,
// through the Manager, on a segment named by argv[1]. Exits 0 when every
// answer is the contract's.
#include <shmlease/shmlease.h>

#include <cstdio>
#include <stop_token>

using namespace std::chrono_literals;

namespace {

int Fail(const char* what, std::error_code ec) {
  std::fprintf(stderr, "consumer: %s: %s\n", what, ec.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::error_code ec;
  std::string why;
  auto store = shmlease::ShmStore::OpenOrCreate({.name = argv[1], .capacity = 64}, ec, &why);
  if (!store) return Fail(why.c_str(), ec);
  shmlease::Manager leases(store);
  auto claimer = leases.Claimer(shmlease::kSingularControllerNamespace, "local", ec);
  auto checker = leases.Checker(shmlease::kSingularControllerNamespace, "local", ec);
  auto revoker = leases.Revoker(shmlease::kSingularControllerNamespace, "local", ec);
  if (ec) return Fail("manager", ec);
  if (auto err = claimer->Claim("job", "me", 10s)) return Fail("claim", err);
  if (auto err = checker->Token("job", "me").Check()) return Fail("check", err);
  if (claimer->Claim("job", "you", 10s) != shmlease::ErrClaimDenied) return Fail("deny", {});
  if (!shmlease::IsNotHeld(revoker->Revoke("job", "you"))) return Fail("revoke by other", {});
  if (auto err = revoker->Revoke("job", "me")) return Fail("revoke", err);
  if (auto err = claimer->WaitUntilExpired("job", std::stop_token{})) return Fail("wait", err);
  if (shmlease::ValidateString("a.b") == std::error_code{}) return Fail("validate", {});
  shmlease::ShmStore::Destroy(argv[1]);
  std::puts("consumer: ok");
  return 0;
}
