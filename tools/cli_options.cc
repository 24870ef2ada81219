#include "cli_options.h"

#include "duration.h"
#include "shmlease/lease.h"

namespace shmlease::cli {

CLI::Validator NameValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (std::error_code ec = ValidateName(value)) {
          return "'" + value + "' is refused: " + ec.message();
        }
        return {};
      },
      "NAME");
}

CLI::Option* AddDurationOption(CLI::App* app, const std::string& flags,
                               std::chrono::nanoseconds* out, const std::string& help) {
  // The validator runs before the callback, so the callback only sees good text.
  return app
      ->add_option_function<std::string>(
          flags, [out](const std::string& text) { ParseDuration(text, out); }, help)
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            std::chrono::nanoseconds ignored;
            std::string why;
            if (ParseDuration(text, &ignored, &why)) {
              return "'" + text + "' is not a valid duration: " + why;
            }
            return {};
          },
          "DURATION"));
}

CLI::Option* AddModeOption(CLI::App* app, const std::string& flags, std::uint32_t* out,
                           const std::string& help) {
  return app
      ->add_option_function<std::string>(
          flags, [out](const std::string& text) { *out = std::stoul(text, nullptr, 8); }, help)
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (text.empty() || text.size() > 5 ||
                text.find_first_not_of("01234567") != std::string::npos ||
                std::stoul(text, nullptr, 8) > 07777) {
              return "'" + text + "' is not an octal permission mode such as 0600 or 0660";
            }
            return {};
          },
          "OCTAL"));
}

}  // namespace shmlease::cli
