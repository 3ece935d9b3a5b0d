#include "indexer/postings.h"

#include <algorithm>
#include <stdexcept>

namespace latent::indexer {

namespace {

void put_varint(std::string& out, uint32_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

uint32_t get_varint(std::string_view blob, size_t& i) {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (i >= blob.size()) throw std::runtime_error("a packed reference list is truncated");
    auto b = static_cast<unsigned char>(blob[i++]);
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  throw std::runtime_error("a packed reference list holds an overlong number");
}

}  // namespace

std::string pack_positions(std::vector<Position> positions) {
  std::stable_sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  std::string out;
  uint32_t line = 0;
  for (const Position& p : positions) {
    put_varint(out, p.line - line);
    put_varint(out, p.column);
    put_varint(out, p.kind);
    line = p.line;
  }
  return out;
}

std::vector<Position> unpack_positions(std::string_view blob) {
  std::vector<Position> out;
  uint32_t line = 0;
  size_t i = 0;
  while (i < blob.size()) {
    Position p;
    line += get_varint(blob, i);
    p.line = line;
    p.column = get_varint(blob, i);
    p.kind = get_varint(blob, i);
    out.push_back(p);
  }
  return out;
}

}  // namespace latent::indexer
