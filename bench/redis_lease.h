// A lease in Redis, the way a user would build one without shmlease:
// `SET key holder NX PX ms` to claim, a Lua compare-and-extend to extend, a Lua
// compare-and-delete to revoke, and `GET` to check. Compiled only when hiredis
// is found (see bench/CMakeLists.txt).
#ifndef SHMLEASE_BENCH_REDIS_LEASE_H_
#define SHMLEASE_BENCH_REDIS_LEASE_H_

#include <memory>
#include <string>
#include <string_view>

struct redisContext;

namespace bench {

class RedisLease {
 public:
  // Connects to 127.0.0.1:`port`; nullptr and *error set on failure.
  static std::unique_ptr<RedisLease> Connect(int port, std::string* error);
  // The port from $SHMLEASE_BENCH_REDIS_PORT, or 0 when unset (Redis not started).
  static int PortFromEnv();
  ~RedisLease();
  RedisLease(const RedisLease&) = delete;
  RedisLease& operator=(const RedisLease&) = delete;

  // SET key holder NX PX ms: true when `holder` got the lease.
  bool Claim(const std::string& key, const std::string& holder, long long ms);
  // If `holder` holds `key`, sets its TTL to at least `ms` (never shortens): true.
  bool Extend(const std::string& key, const std::string& holder, long long ms);
  // If `holder` holds `key`, deletes it: true.
  bool Revoke(const std::string& key, const std::string& holder);
  // GET key == holder.
  bool Check(const std::string& key, const std::string& holder);
  // DEL key (set-up and clean-up only).
  void Delete(const std::string& key);

 private:
  explicit RedisLease(redisContext* c) : c_(c) {}
  long long Integer(void* reply);
  redisContext* c_;
};

}  // namespace bench

#endif  // SHMLEASE_BENCH_REDIS_LEASE_H_
