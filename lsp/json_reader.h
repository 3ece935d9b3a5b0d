// Reading protocol structs out of JSON with errors that name the field's path
// ("params.textDocument.position.line: expected an unsigned integer, got string"), which
// nlohmann's own from_json cannot do. Each protocol struct has a read_value() overload built
// from JsonReader's required()/optional() calls; parse<T>() is the entry point.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace latent::lsp {

using Json = nlohmann::json;

// A protocol value that does not match its schema; what() starts with the field's path.
struct ProtocolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string json_type_name(const Json& j);
[[noreturn]] void throw_type_error(const std::string& path, std::string_view expected, const Json& got);

void read_value(const Json& j, const std::string& path, std::string& out);
void read_value(const Json& j, const std::string& path, bool& out);
void read_value(const Json& j, const std::string& path, int64_t& out);
void read_value(const Json& j, const std::string& path, int32_t& out);
void read_value(const Json& j, const std::string& path, uint32_t& out);
void read_value(const Json& j, const std::string& path, double& out);
void read_value(const Json& j, const std::string& path, Json& out);

template <class T>
void read_value(const Json& j, const std::string& path, std::vector<T>& out) {
  if (!j.is_array()) throw_type_error(path, "array", j);
  out.clear();
  out.resize(j.size());
  for (size_t i = 0; i < j.size(); ++i) read_value(j[i], path + "[" + std::to_string(i) + "]", out[i]);
}

template <class T>
void read_value(const Json& j, const std::string& path, std::optional<T>& out) {
  if (j.is_null()) {
    out.reset();
    return;
  }
  T v{};
  read_value(j, path, v);
  out = std::move(v);
}

class JsonReader {
 public:
  // Throws ProtocolError unless j is an object.
  JsonReader(const Json& j, std::string path);

  template <class T>
  void required(const char* key, T& out) const {
    auto it = j_.find(key);
    if (it == j_.end()) throw ProtocolError(child(key) + ": required field is missing");
    read_value(*it, child(key), out);
  }
  // Absent or null leaves `out` as it was (its default).
  template <class T>
  void optional(const char* key, T& out) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return;
    read_value(*it, child(key), out);
  }
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const Json& json() const { return j_; }
  std::string child(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const Json& j_;
  std::string path_;
};

// Reads T from j; ProtocolError names the path below `root`.
template <class T>
T parse(const Json& j, const std::string& root = "params") {
  T out{};
  read_value(j, root, out);
  return out;
}

}  // namespace latent::lsp
