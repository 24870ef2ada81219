#include "redis_lease.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <cstring>

namespace bench {

namespace {

// Extends only while `holder` still holds the key, and never shortens it, as
// shmlease's extension does. One round trip: Redis runs the script atomically.
constexpr const char* kExtendScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then "
    "    redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "  return 1 "
    "else return 0 end";
constexpr const char* kRevokeScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
    "else return 0 end";

}  // namespace

std::unique_ptr<RedisLease> RedisLease::Connect(int port, std::string* error) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (c == nullptr || c->err) {
    if (error) *error = c ? c->errstr : "cannot allocate a redis context";
    if (c) redisFree(c);
    return nullptr;
  }
  return std::unique_ptr<RedisLease>(new RedisLease(c));
}

int RedisLease::PortFromEnv() {
  const char* p = std::getenv("SHMLEASE_BENCH_REDIS_PORT");
  return p ? std::atoi(p) : 0;
}

RedisLease::~RedisLease() { redisFree(c_); }

long long RedisLease::Integer(void* r) {
  auto* reply = static_cast<redisReply*>(r);
  long long v = (reply && reply->type == REDIS_REPLY_INTEGER) ? reply->integer : -1;
  if (reply) freeReplyObject(reply);
  return v;
}

bool RedisLease::Claim(const std::string& key, const std::string& holder, long long ms) {
  auto* reply = static_cast<redisReply*>(redisCommand(
      c_, "SET %b %b NX PX %lld", key.data(), key.size(), holder.data(), holder.size(), ms));
  bool ok = reply && reply->type == REDIS_REPLY_STATUS && std::strcmp(reply->str, "OK") == 0;
  if (reply) freeReplyObject(reply);
  return ok;
}

bool RedisLease::Extend(const std::string& key, const std::string& holder, long long ms) {
  return Integer(redisCommand(c_, "EVAL %s 1 %b %b %lld", kExtendScript, key.data(), key.size(),
                              holder.data(), holder.size(), ms)) == 1;
}

bool RedisLease::Revoke(const std::string& key, const std::string& holder) {
  return Integer(redisCommand(c_, "EVAL %s 1 %b %b", kRevokeScript, key.data(), key.size(),
                              holder.data(), holder.size())) == 1;
}

bool RedisLease::Check(const std::string& key, const std::string& holder) {
  auto* reply = static_cast<redisReply*>(redisCommand(c_, "GET %b", key.data(), key.size()));
  bool ok = reply && reply->type == REDIS_REPLY_STRING &&
            std::string_view(reply->str, reply->len) == holder;
  if (reply) freeReplyObject(reply);
  return ok;
}

void RedisLease::Delete(const std::string& key) {
  Integer(redisCommand(c_, "DEL %b", key.data(), key.size()));
}

}  // namespace bench
