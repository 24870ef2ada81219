#include "report.h"

#include <cstdio>
#include <string>

#include "shmlease/errors.h"

namespace shmlease::cli {

namespace {

std::string Escape(std::string_view text, bool escape_backslash) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\' && escape_backslash) {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

std::string Printable(std::string_view text) { return Escape(text, true); }

std::string Sanitized(std::string_view text) { return Escape(text, false); }

int ExitCodeFor(std::error_code ec) {
  if (!ec) return kExitOk;
  if (ec.category() != lease_category()) {
    // Errors of the system or the standard library: our own argument checks
    // report std::errc::invalid_argument; anything else is about the segment.
    return ec == std::errc::invalid_argument || ec == std::errc::result_out_of_range ? kExitUsage
                                                                                     : kExitSegment;
  }
  switch (static_cast<Errc>(ec.value())) {
    case Errc::claim_denied:
    case Errc::not_held:
    case Errc::wait_cancelled:
    case Errc::invalid:  // The store's "invalid operation": this holder does not hold it.
    case Errc::held:
    case Errc::aborted:
    case Errc::too_many_pins:  // The lease refuses another pinning entity.
      return kExitNo;
    case Errc::invalid_name:
    case Errc::name_too_long:
    case Errc::invalid_duration:
    case Errc::invalid_capacity:
    case Errc::invalid_segment_name:
      return kExitUsage;
    case Errc::timeout:     // The writers' lock stayed taken: a stuck process holds the segment.
    case Errc::table_full:  // Only a bigger segment helps.
    case Errc::segment_not_found:
    case Errc::corrupt_segment:
    case Errc::incompatible_segment:
    case Errc::permission_denied:
    case Errc::foreign_owner:
    case Errc::segment_busy:
    case Errc::io_error:
    case Errc::no_space:
    case Errc::read_only:
    case Errc::too_many_writers:
    case Errc::not_a_segment:
    case Errc::unsafe_segment_path:
    case Errc::segment_replaced:
    case Errc::epochs_exhausted:
    case Errc::clock_offset_unknown:  // Refused to open: this process's clock cannot be placed.
    case Errc::segment_truncated:
      return kExitSegment;
  }
  return kExitSegment;
}

int Report(std::string_view what, std::error_code ec) {
  std::string line = "shmlease: ";
  line += what;
  if (ec) {
    line += ": ";
    line += ec.message();
  }
  line = Sanitized(line) + '\n';
  std::fputs(line.c_str(), stderr);
  return ec ? ExitCodeFor(ec) : kExitNo;
}

int ReportSegment(std::string_view what, std::error_code ec, std::string_view detail) {
  // The library's sentence says what happened to which file; the error's own
  // message, in parentheses, is the category a script can grep for.
  std::string line = "shmlease: ";
  line += what;
  if (!detail.empty()) {
    line += ": ";
    line += detail;
  }
  if (ec) {
    line += " (";
    line += ec.message();
    line += ")";
  }
  line = Sanitized(line) + '\n';
  std::fputs(line.c_str(), stderr);
  return ec ? ExitCodeFor(ec) : kExitSegment;
}

int ReportBadName(std::string_view flag, std::string_view value, std::error_code ec) {
  std::string text(flag);
  text += " '";
  text += Printable(value);
  text += "'";
  return Report(text, ec);
}

}  // namespace shmlease::cli
