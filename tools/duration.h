// Durations as people type them on a command line: "250ms", "10s", "1m30s", "2h".
#ifndef SHMLEASE_TOOLS_DURATION_H_
#define SHMLEASE_TOOLS_DURATION_H_

#include <chrono>
#include <string>
#include <string_view>
#include <system_error>

namespace shmlease::cli {

// Parses one or more <number><unit> terms (units ns, us, ms, s, m, h; the
// number may have a fraction with digits on both sides, "1.5s"), or a bare
// integer meaning seconds. Each unit may appear once, largest first ("1h30m",
// not "30m1h" or "1h1h"); no sign, no blanks. Only positive durations up to
// 100 years (kMaxDuration) are accepted: garbage gives
// std::errc::invalid_argument, zero or a minus sign Errc::invalid_duration,
// more than 100 years std::errc::result_out_of_range. On failure *out is
// unchanged and, when `why` is given, it says what is wrong in words.
// The longest duration ParseDuration accepts: 100 years of 365 days.
inline constexpr std::chrono::hours kMaxDuration{100 * 365 * 24};

std::error_code ParseDuration(std::string_view text, std::chrono::nanoseconds* out,
                              std::string* why = nullptr);

// A short human form, the inverse of ParseDuration up to rounding: "250ms",
// "4.2s", "1h2m3s", "-1.3s". Sub-second values keep millisecond precision.
std::string FormatDuration(std::chrono::nanoseconds d);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_DURATION_H_
