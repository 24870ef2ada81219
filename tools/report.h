// How the shmlease command ends: its exit codes, and the one-line messages
// it writes to stderr before it exits with anything but success.
#ifndef SHMLEASE_TOOLS_REPORT_H_
#define SHMLEASE_TOOLS_REPORT_H_

#include <string>
#include <string_view>
#include <system_error>

namespace shmlease::cli {

enum ExitCode : int {
  kExitOk = 0,       // Success, or "yes".
  kExitNo = 1,       // The lease said no: claim denied, not held, wait timed out.
  kExitUsage = 2,    // Bad flags, names, durations, capacities: nothing was changed.
  kExitSegment = 3,  // The segment is missing, corrupt, incompatible, refused or stuck.
};

// The exit code for an error from shmlease or the system (kExitOk for none).
int ExitCodeFor(std::error_code ec);

// `text` safe to print on one terminal line: control characters, DEL and
// every byte outside ASCII are written as escapes ("\n", "\t", "\r",
// "\x1b", "\xff"), and a backslash as "\\" so that the escapes are
// unambiguous. Names are echoed through this wherever they are printed as text.
std::string Printable(std::string_view text);

// As Printable, but a backslash is left as it is, so that applying it to a
// line that already holds Printable names changes nothing: the last guard
// on every message line, whatever went into it.
std::string Sanitized(std::string_view text);

// Writes "shmlease: <what>" (Sanitized) to stderr, then ": <ec.message()>" when ec is set,
// and returns ExitCodeFor(ec) (or kExitNo when ec is empty, for plain "no"s).
int Report(std::string_view what, std::error_code ec = {});

// As Report, with the sentence the library gave about a segment (the
// `detail` of ShmStore::Open), which already names the segment and the cause.
int ReportSegment(std::string_view what, std::error_code ec, std::string_view detail);

// A name given on the command line that shmlease refuses: names the flag and why.
int ReportBadName(std::string_view flag, std::string_view value, std::error_code ec);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_REPORT_H_
