// Durations as the shmlease command reads and prints them.
#include "duration.h"

#include <gtest/gtest.h>

#include "shmlease/errors.h"

namespace shmlease::cli {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds Parsed(std::string_view text) {
  std::chrono::nanoseconds d{-1};
  std::string why;
  std::error_code ec = ParseDuration(text, &d, &why);
  EXPECT_FALSE(ec) << text << ": " << why;
  return d;
}

std::error_code Refused(std::string_view text, std::string* why = nullptr) {
  std::chrono::nanoseconds d{42};
  std::error_code ec = ParseDuration(text, &d, why);
  EXPECT_EQ(d, 42ns) << text << " changed the output although it was refused";
  return ec;
}

// Suites are named cli_* so that `ctest -R cli` selects the command's tests.
TEST(cli_Duration, ParsesEveryUnit) {
  EXPECT_EQ(Parsed("7ns"), 7ns);
  EXPECT_EQ(Parsed("5us"), 5us);
  EXPECT_EQ(Parsed("250ms"), 250ms);
  EXPECT_EQ(Parsed("10s"), 10s);
  EXPECT_EQ(Parsed("3m"), 3min);
  EXPECT_EQ(Parsed("2h"), 2h);
}

TEST(cli_Duration, ParsesSumsAndFractions) {
  EXPECT_EQ(Parsed("1m30s"), 90s);
  EXPECT_EQ(Parsed("1h2m3s4ms"), 1h + 2min + 3s + 4ms);
  EXPECT_EQ(Parsed("1.5s"), 1500ms);
  EXPECT_EQ(Parsed("0.25ms"), 250us);
  EXPECT_EQ(Parsed("1.000000001s"), 1s + 1ns);
}

TEST(cli_Duration, BareIntegerMeansSeconds) {
  EXPECT_EQ(Parsed("3"), 3s);
  EXPECT_EQ(Parsed("86400"), 24h);
}

TEST(cli_Duration, RefusesZeroAndNegative) {
  std::string why;
  EXPECT_EQ(Refused("0", &why), Errc::invalid_duration);
  EXPECT_NE(why.find("zero"), std::string::npos) << why;
  EXPECT_EQ(Refused("0s"), Errc::invalid_duration);
  EXPECT_EQ(Refused("0s0ms"), Errc::invalid_duration);
  EXPECT_EQ(Refused("-1s", &why), Errc::invalid_duration);
  EXPECT_NE(why.find("negative"), std::string::npos) << why;
  EXPECT_EQ(Refused("-5"), Errc::invalid_duration);
}

// A positive value below the resolution is not "zero", nor "not positive".
TEST(cli_Duration, RefusesAPositiveValueBelowOneNanosecondAsSuch) {
  for (std::string_view text : {"0.9ns", "0.5ns", "0.0001us", "0.0000000001s"}) {
    std::string why;
    EXPECT_EQ(Refused(text, &why), Errc::invalid_duration) << text;
    EXPECT_NE(why.find("shorter than 1ns"), std::string::npos) << text << ": " << why;
    EXPECT_EQ(why.find("positive"), std::string::npos) << text << ": " << why;
  }
  std::string why;
  EXPECT_EQ(Refused("0.0ns", &why), Errc::invalid_duration);
  EXPECT_NE(why.find("zero"), std::string::npos) << why;
  EXPECT_EQ(Parsed("1.9ns"), 1ns);
}

TEST(cli_Duration, RefusesGarbage) {
  for (std::string_view text : {"", "s", "abc", "10x", "1.5", "10 s", " 10s", "1m30", "1..5s", "ms",
                                "1mss", "1e3s", "0x10s", "1S"}) {
    std::string why;
    EXPECT_EQ(Refused(text, &why), std::errc::invalid_argument) << "'" << text << "'";
    EXPECT_NE(why.find("unit"), std::string::npos) << why;
  }
}

TEST(cli_Duration, RefusesSignsAndBareFractionPoints) {
  for (std::string_view text : {"+1s", "+1", "+0.5s", ".5s", "1.s", "1.", "1h.5m", "1.5.s"}) {
    std::string why;
    EXPECT_EQ(Refused(text, &why), std::errc::invalid_argument) << "'" << text << "'";
    EXPECT_NE(why.find("unit"), std::string::npos) << why;
  }
  EXPECT_EQ(Parsed("0.5s"), 500ms);
  EXPECT_EQ(Parsed("1h0.5m"), 1h + 30s);
}

TEST(cli_Duration, EachUnitOnceLargestFirst) {
  for (std::string_view text :
       {"1h1h", "30m1h", "1s1m", "5ms5ms", "1ns1us", "1s1h", "1m30s30s", "1m1s1ms1ms"}) {
    std::string why;
    EXPECT_EQ(Refused(text, &why), std::errc::invalid_argument) << "'" << text << "'";
    EXPECT_NE(why.find("largest first"), std::string::npos) << why;
  }
  EXPECT_EQ(Parsed("1h30m"), 90min);
  EXPECT_EQ(Parsed("1h1s"), 1h + 1s);
  EXPECT_EQ(Parsed("1h1m1s1ms1us1ns"), 1h + 1min + 1s + 1ms + 1us + 1ns);
}

TEST(cli_Duration, RefusesMoreThanAHundredYears) {
  // No clock can hold these: a monotonic clock plus ~292 years overflows.
  for (std::string_view text :
       {"9223372036854775807ns", "9223372036854775808ns", "2562047h", "876000h1ns", "876001h",
        "3000000h", "99999999999999999999999", "3153600000000000001ns", "5000000000000000000ns",
        "1000000000000000000000000000000000000000000h"}) {
    std::string why;
    EXPECT_EQ(Refused(text, &why), std::errc::result_out_of_range) << "'" << text << "'";
    EXPECT_NE(why.find("100 years"), std::string::npos) << why;
  }
  EXPECT_EQ(Parsed("876000h"), kMaxDuration);
  EXPECT_EQ(Parsed("3153600000000000000ns"), kMaxDuration);
  EXPECT_EQ(Parsed("3153600000"), kMaxDuration);  // Bare seconds.
  EXPECT_EQ(Refused("3153600001"), std::errc::result_out_of_range);
}

TEST(cli_Duration, FormatsForPeople) {
  EXPECT_EQ(FormatDuration(7ns), "7ns");
  EXPECT_EQ(FormatDuration(1500ns), "1us");
  EXPECT_EQ(FormatDuration(250ms), "250ms");
  EXPECT_EQ(FormatDuration(4299ms), "4.2s");  // Truncated: time left is never overstated.
  EXPECT_EQ(FormatDuration(90s), "1m30s");
  EXPECT_EQ(FormatDuration(2h + 3s), "2h0m3s");
  EXPECT_EQ(FormatDuration(-1300ms), "-1.3s");
  EXPECT_EQ(FormatDuration(0ns), "0ns");
  EXPECT_EQ(FormatDuration(std::chrono::nanoseconds::min()), "-2562047h47m16s");
}

TEST(cli_Duration, FormattedWholeValuesParseBack) {
  for (std::chrono::nanoseconds d :
       {std::chrono::nanoseconds(7ns), std::chrono::nanoseconds(250ms),
        std::chrono::nanoseconds(90s), std::chrono::nanoseconds(26h + 1min + 1s)}) {
    EXPECT_EQ(Parsed(FormatDuration(d)), d) << FormatDuration(d);
  }
}

}  // namespace
}  // namespace shmlease::cli
