// Aligned plain-text columns, as `dump`, `pinned` and `stat` print them.
#ifndef SHMLEASE_TOOLS_TEXT_TABLE_H_
#define SHMLEASE_TOOLS_TEXT_TABLE_H_

#include <string>
#include <vector>

namespace shmlease::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);

  // A row with fewer cells than the header is padded with empty cells.
  void AddRow(std::vector<std::string> cells);

  // Every column as wide as its widest cell, two spaces apart; the last
  // column is not padded, so lines carry no trailing blanks. Names are
  // ASCII-only in shmlease, so a byte is a column.
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header.
};

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_TEXT_TABLE_H_
