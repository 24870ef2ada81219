#include "duration.h"

#include <cstdint>
#include <cstdio>
#include <limits>

#include "shmlease/errors.h"

namespace shmlease::cli {

namespace {

constexpr std::string_view kExpected =
    "expected a positive number with a unit (ns, us, ms, s, m, h), e.g. 250ms, 10s or 1m30s";

struct Unit {
  std::string_view suffix;
  std::int64_t ns;
};

// Largest first: the order in which the terms of a duration must come.
constexpr Unit kUnits[] = {
    {"h", 3'600'000'000'000}, {"m", 60'000'000'000}, {"s", 1'000'000'000},
    {"ms", 1'000'000},        {"us", 1'000},         {"ns", 1},
};
constexpr std::size_t kUnitCount = sizeof kUnits / sizeof kUnits[0];

// 100 years of 365 days: longer than any lease needs, and far from where a
// monotonic clock plus the duration could overflow (about 292 years).
constexpr std::int64_t kMaxNs = std::chrono::nanoseconds(kMaxDuration).count();

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::error_code Fail(std::error_code ec, std::string* why, std::string_view text) {
  if (why != nullptr) *why = std::string(text);
  return ec;
}

// The index in kUnits of the unit at the start of `text`; kUnitCount if none.
// Two-letter units first, so that "ms" is not read as "m" followed by garbage.
std::size_t UnitAt(std::string_view text) {
  for (std::size_t u = kUnitCount; u-- > 0;) {
    if (text.substr(0, kUnits[u].suffix.size()) == kUnits[u].suffix) return u;
  }
  return kUnitCount;
}

}  // namespace

std::error_code ParseDuration(std::string_view text, std::chrono::nanoseconds* out,
                              std::string* why) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  const auto too_large = std::make_error_code(std::errc::result_out_of_range);
  if (text.empty()) return Fail(invalid, why, kExpected);
  if (text.front() == '-') {
    return Fail(Errc::invalid_duration, why, "must be positive, not negative");
  }
  if (text.front() == '+') {
    return Fail(invalid, why, std::string("takes no sign; ") + std::string(kExpected));
  }
  // unsigned __int128 holds any partial sum exactly; only the total must fit.
  __extension__ typedef unsigned __int128 Wide;
  constexpr Wide kMax = static_cast<Wide>(kMaxNs);
  const std::string kTooLarge = "is too large: at most 100 years (876000h)";
  const bool bare_integer = text.find_first_not_of("0123456789") == std::string_view::npos;
  Wide total = 0;
  // A positive value that comes to no whole nanosecond ("0.9ns") is not zero.
  bool nonzero_digit = false;
  std::size_t i = 0;
  std::size_t next_unit = 0;  // Units come largest first, each at most once.
  while (i < text.size()) {
    Wide whole = 0;
    std::size_t digits = 0;
    for (; i < text.size() && IsDigit(text[i]); ++i, ++digits) {
      nonzero_digit |= text[i] != '0';
      whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
      if (whole > kMax) return Fail(too_large, why, kTooLarge);
    }
    if (digits == 0) return Fail(invalid, why, kExpected);  // ".5s", "s", "1s.5s".
    // Digits past the 18th cannot change a nanosecond count of any unit here.
    Wide fraction = 0;
    Wide scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      std::size_t fraction_digits = 0;
      for (; i < text.size() && IsDigit(text[i]); ++i, ++fraction_digits) {
        nonzero_digit |= text[i] != '0';
        if (scale < static_cast<Wide>(1'000'000'000'000'000'000ULL)) {
          fraction = fraction * 10 + static_cast<unsigned>(text[i] - '0');
          scale *= 10;
        }
      }
      if (fraction_digits == 0) return Fail(invalid, why, kExpected);  // "1.s".
    }
    std::int64_t unit_ns = 1'000'000'000;  // A bare integer means seconds.
    if (!bare_integer) {
      const std::size_t unit = UnitAt(text.substr(i));
      if (unit == kUnitCount) return Fail(invalid, why, kExpected);
      if (unit < next_unit) {
        return Fail(invalid, why,
                    "each unit may appear once, largest first (h, m, s, ms, us, ns), e.g. 1h30m; " +
                        std::string(kExpected));
      }
      next_unit = unit + 1;
      unit_ns = kUnits[unit].ns;
      i += kUnits[unit].suffix.size();
    } else {
      i = text.size();
    }
    total += whole * static_cast<Wide>(unit_ns) + fraction * static_cast<Wide>(unit_ns) / scale;
    if (total > kMax) return Fail(too_large, why, kTooLarge);
  }
  if (total == 0 && nonzero_digit) {
    return Fail(Errc::invalid_duration, why,
                "is shorter than 1ns, the finest duration a lease can have");
  }
  if (total == 0) return Fail(Errc::invalid_duration, why, "must be positive, not zero");
  *out = std::chrono::nanoseconds(static_cast<std::int64_t>(total));
  return {};
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  std::string sign;
  // Work on the magnitude as unsigned so that nanoseconds::min() has one too.
  std::uint64_t ns = static_cast<std::uint64_t>(d.count());
  if (d.count() < 0) {
    sign = "-";
    ns = ~ns + 1;
  }
  char buf[64];
  if (ns < 1'000) {
    std::snprintf(buf, sizeof buf, "%lluns", static_cast<unsigned long long>(ns));
  } else if (ns < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%lluus", static_cast<unsigned long long>(ns / 1'000));
  } else if (ns < 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%llums", static_cast<unsigned long long>(ns / 1'000'000));
  } else if (ns < 60'000'000'000) {
    // Tenths, truncated: "time left" must never read as more than there is.
    const std::uint64_t tenths = ns / 100'000'000;
    std::snprintf(buf, sizeof buf, "%llu.%llus", static_cast<unsigned long long>(tenths / 10),
                  static_cast<unsigned long long>(tenths % 10));
  } else {
    const std::uint64_t s = ns / 1'000'000'000;
    const std::uint64_t h = s / 3600, m = s / 60 % 60, sec = s % 60;
    if (h > 0) {
      std::snprintf(buf, sizeof buf, "%lluh%llum%llus", static_cast<unsigned long long>(h),
                    static_cast<unsigned long long>(m), static_cast<unsigned long long>(sec));
    } else {
      std::snprintf(buf, sizeof buf, "%llum%llus", static_cast<unsigned long long>(m),
                    static_cast<unsigned long long>(sec));
    }
  }
  return sign + buf;
}

}  // namespace shmlease::cli
