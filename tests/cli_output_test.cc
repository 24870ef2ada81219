// How the shmlease command ends and prints: exit codes for every error, and
// aligned text columns.
#include <gtest/gtest.h>

#include <sstream>

#include "report.h"
#include "shmlease/errors.h"
#include "text_table.h"

namespace shmlease::cli {
namespace {

// Suites are named cli_* so that `ctest -R cli` selects the command's tests.
TEST(cli_ExitCode, SuccessIsZero) { EXPECT_EQ(ExitCodeFor({}), kExitOk); }

TEST(cli_ExitCode, TheLeaseSayingNoIsOne) {
  for (Errc e : {Errc::claim_denied, Errc::not_held, Errc::wait_cancelled, Errc::invalid,
                 Errc::held, Errc::aborted, Errc::too_many_pins}) {
    EXPECT_EQ(ExitCodeFor(e), kExitNo) << make_error_code(e).message();
  }
}

TEST(cli_ExitCode, BadInputIsTwo) {
  for (Errc e : {Errc::invalid_name, Errc::name_too_long, Errc::invalid_duration,
                 Errc::invalid_capacity, Errc::invalid_segment_name}) {
    EXPECT_EQ(ExitCodeFor(e), kExitUsage) << make_error_code(e).message();
  }
  EXPECT_EQ(ExitCodeFor(std::make_error_code(std::errc::invalid_argument)), kExitUsage);
  EXPECT_EQ(ExitCodeFor(std::make_error_code(std::errc::result_out_of_range)), kExitUsage);
}

TEST(cli_ExitCode, SegmentProblemsAreThree) {
  for (Errc e :
       {Errc::segment_not_found, Errc::corrupt_segment, Errc::incompatible_segment,
        Errc::permission_denied, Errc::foreign_owner, Errc::segment_busy, Errc::io_error,
        Errc::no_space, Errc::read_only, Errc::timeout, Errc::table_full, Errc::not_a_segment,
        Errc::unsafe_segment_path, Errc::segment_replaced, Errc::epochs_exhausted}) {
    EXPECT_EQ(ExitCodeFor(e), kExitSegment) << make_error_code(e).message();
  }
  EXPECT_EQ(ExitCodeFor(std::make_error_code(std::errc::io_error)), kExitSegment);
}

TEST(cli_TextTable, AlignsColumnsWithoutTrailingBlanks) {
  TextTable table({"NAME", "HOLDER", "EPOCH"});
  table.AddRow({"a", "a-much-longer-holder", "1"});
  table.AddRow({"longer-name", "-", "12345"});
  EXPECT_EQ(table.Render(),
            "NAME         HOLDER                EPOCH\n"
            "a            a-much-longer-holder  1\n"
            "longer-name  -                     12345\n");
}

TEST(cli_TextTable, PadsShortRowsAndPrintsAHeaderAlone) {
  TextTable empty({"A", "B"});
  EXPECT_EQ(empty.Render(), "A  B\n");
  TextTable table({"A", "B", "C"});
  table.AddRow({"x"});
  EXPECT_EQ(table.Render(), "A  B  C\nx\n");
}

TEST(cli_Printable, EscapesControlAndNonAsciiBytes) {
  EXPECT_EQ(Printable("db-1_x"), "db-1_x");
  EXPECT_EQ(Printable("a\x1b[31mb"), "a\\x1b[31mb");
  EXPECT_EQ(Printable("one\ntwo\tthree\rfour"), "one\\ntwo\\tthree\\rfour");
  EXPECT_EQ(Printable(std::string_view("n\0ul", 4)), "n\\x00ul");
  EXPECT_EQ(Printable("\x7f\x80\x9b\xff"), "\\x7f\\x80\\x9b\\xff");
  EXPECT_EQ(Printable("caf\xc3\xa9"), "caf\\xc3\\xa9");  // Every byte outside ASCII.
  // A backslash is escaped too, so that a name that reads "\x1b" is told apart.
  EXPECT_EQ(Printable("a\\x1b"), "a\\\\x1b");
}

TEST(cli_Printable, SanitizedLeavesBackslashesAndIsIdempotentOnPrintable) {
  EXPECT_EQ(Sanitized("a\\b\x1b\n"), "a\\b\\x1b\\n");
  for (std::string_view text : {"plain", "a\x1b[2Jb", "x\\y\n\xff", "\\x1b"}) {
    const std::string once = Printable(text);
    EXPECT_EQ(Sanitized(once), once) << once;
    for (char c : once) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << int(static_cast<unsigned char>(c));
    }
  }
}

}  // namespace
}  // namespace shmlease::cli
