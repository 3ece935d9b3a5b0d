#include "lsp/json_reader.h"

#include <cmath>
#include <limits>

namespace latent::lsp {

std::string json_type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "object";
    case Json::value_t::array: return "array";
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "number";
    default: return "unsupported value";
  }
}

void throw_type_error(const std::string& path, std::string_view expected, const Json& got) {
  std::string where = path.empty() ? "value" : path;
  throw ProtocolError(where + ": expected " + std::string(expected) + ", got " + json_type_name(got));
}

void read_value(const Json& j, const std::string& path, std::string& out) {
  if (!j.is_string()) throw_type_error(path, "string", j);
  out = j.get_ref<const std::string&>();
}

void read_value(const Json& j, const std::string& path, bool& out) {
  if (!j.is_boolean()) throw_type_error(path, "boolean", j);
  out = j.get<bool>();
}

namespace {

// JSON numbers with an integral value (clients may send 3.0) within [lo, hi].
int64_t read_integer(const Json& j, const std::string& path, int64_t lo, int64_t hi, std::string_view what) {
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) throw ProtocolError(path + ": " + std::to_string(u) + " is out of range for " + std::string(what));
    return static_cast<int64_t>(u);
  }
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v < lo || v > hi) throw ProtocolError(path + ": " + std::to_string(v) + " is out of range for " + std::string(what));
    return v;
  }
  if (j.is_number_float()) {
    double d = j.get<double>();
    if (std::isfinite(d) && std::floor(d) == d && d >= static_cast<double>(lo) && d <= static_cast<double>(hi))
      return static_cast<int64_t>(d);
  }
  throw_type_error(path, what, j);
}

}  // namespace

void read_value(const Json& j, const std::string& path, int64_t& out) {
  out = read_integer(j, path, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), "an integer");
}

void read_value(const Json& j, const std::string& path, int32_t& out) {
  out = static_cast<int32_t>(read_integer(j, path, std::numeric_limits<int32_t>::min(),
                                          std::numeric_limits<int32_t>::max(), "a 32-bit integer"));
}

void read_value(const Json& j, const std::string& path, uint32_t& out) {
  out = static_cast<uint32_t>(read_integer(j, path, 0, std::numeric_limits<uint32_t>::max(), "an unsigned integer"));
}

void read_value(const Json& j, const std::string& path, double& out) {
  if (!j.is_number()) throw_type_error(path, "number", j);
  out = j.get<double>();
}

void read_value(const Json& j, const std::string&, Json& out) { out = j; }

JsonReader::JsonReader(const Json& j, std::string path) : j_(j), path_(std::move(path)) {
  if (!j.is_object()) throw_type_error(path_, "object", j);
}

}  // namespace latent::lsp
