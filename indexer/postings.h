// A file's references to one name, packed into one blob: the positions sorted by (line,
// column), each as varints (line delta from the previous position, column, kind code). One row
// per name and file instead of one per occurrence keeps the refs table and its index small.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace latent::indexer {

struct Position {
  uint32_t line = 0, column = 0;  // 1-based
  uint32_t kind = 0;              // reference_kind_code
  bool operator<(const Position& o) const { return line != o.line ? line < o.line : column < o.column; }
  bool operator==(const Position& o) const { return line == o.line && column == o.column; }
};

// Sorts and drops duplicate places (the first kind given for a place wins).
std::string pack_positions(std::vector<Position> positions);
// Throws std::runtime_error on a truncated or malformed blob.
std::vector<Position> unpack_positions(std::string_view blob);

}  // namespace latent::indexer
