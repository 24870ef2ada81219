// JSON as the shmlease command prints it.
#ifndef SHMLEASE_TOOLS_JSON_TEXT_H_
#define SHMLEASE_TOOLS_JSON_TEXT_H_

#include <nlohmann/json.hpp>
#include <string>

namespace shmlease::cli {

// `value` serialised (indent -1: one line). Names may hold any byte but the
// few shmlease forbids, and a damaged segment anything at all, while JSON
// text must be UTF-8: invalid sequences become U+FFFD instead of throwing,
// so the output is always valid JSON.
inline std::string JsonText(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_JSON_TEXT_H_
