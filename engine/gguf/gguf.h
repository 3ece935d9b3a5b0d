// GGUF: the model file format of llama.cpp/ggml, read memory-mapped and validated before use.
//
// File layout (all little-endian; spec: ggml's docs/gguf.md):
//   magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
//   n_kv x { string key | u32 value_type | value }      string = u64 length + bytes (no NUL)
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to general.alignment (default 32), then the tensor data section; each tensor's
//   offset is relative to the start of that section and aligned.
// ne[0] is the contiguous (fastest-varying) dimension: a tensor with ne {a, b, c} is the
// row-major array [c][b][a], and a "row" is ne[0] elements.
//
// Every count, length, dimension, type and offset is checked before it is used; a malformed or
// truncated file raises gguf::Error naming the key or tensor and the reason.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf/mapping_guard.h"
#include "gguf/tensor_type.h"

namespace latent::gguf {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view value_type_name(ValueType t);

// One metadata value. Scalars are held decoded; arrays keep a view into the mapped file
// (strings of an array are string_views into the mapping: zero-copy for 100k-token vocabularies).
class Value {
 public:
  ValueType type() const { return type_; }
  bool is_integer() const;  // any of the 8 integer types
  bool is_array() const { return type_ == ValueType::ARRAY; }

  // Scalar accessors; each throws Error when the value's type does not convert losslessly.
  uint64_t as_uint() const;   // unsigned or non-negative signed integer, or bool
  int64_t as_int() const;     // integer within int64 range, or bool
  double as_float() const;    // FLOAT32/FLOAT64 or any integer
  bool as_bool() const;
  std::string_view as_string() const;

  // Array accessors.
  ValueType array_type() const { return array_type_; }
  uint64_t array_size() const { return array_size_; }
  std::vector<std::string_view> as_string_array() const;  // ARRAY of STRING
  std::vector<int64_t> as_int_array() const;              // ARRAY of any integer type
  std::vector<double> as_float_array() const;             // ARRAY of FLOAT32/FLOAT64/integers
  // ARRAY of ARRAY (nested arrays, validated at open; depth is limited to kMaxArrayDepth).
  const std::vector<Value>& array_items() const;
  // The key this value was read under (or "<key>[i]" for items of nested arrays).
  const std::string& key() const { return key_; }

  std::string to_display_string(size_t max_items = 8) const;  // for `latent inspect`

 private:
  friend class File;
  friend class ValueAccess;
  ValueType type_ = ValueType::UINT8;
  uint64_t u_ = 0;
  int64_t i_ = 0;
  double f_ = 0;
  std::string_view s_;
  ValueType array_type_ = ValueType::UINT8;
  uint64_t array_size_ = 0;
  const uint8_t* array_data_ = nullptr;               // numeric arrays: packed elements
  std::shared_ptr<std::vector<std::string_view>> strings_;  // string arrays, decoded at open
  std::shared_ptr<std::vector<Value>> items_;               // arrays of arrays, decoded at open
  std::string key_;  // for error messages
};

// Nested arrays deeper than this are rejected (bounds the reader's recursion).
inline constexpr int kMaxArrayDepth = 8;

// Exact data size of a tensor; Error (naming `what`) when a dimension count outside 1..4, a
// non-positive dimension, ne[0] not a multiple of the block size, an unknown type, or an
// element count/byte size overflowing int64 makes the shape invalid.
uint64_t tensor_bytes(TensorType type, std::span<const int64_t> ne, std::string_view what = "tensor");

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<int64_t> ne;   // ne[0] contiguous; 1..4 dims
  uint64_t offset = 0;       // relative to the data section
  uint64_t n_bytes = 0;      // exact size of the data
  const uint8_t* data = nullptr;  // into the mapping; valid while the File lives

  int64_t n_elements() const;
  int64_t n_rows() const { return ne.empty() ? 0 : n_elements() / ne[0]; }
  size_t row_bytes() const;  // bytes of one ne[0] row
};

class File {
 public:
  // Maps and validates the file. Throws Error("<path>: <reason>").
  static File open(const std::filesystem::path& path);
  // Validates a buffer that the caller keeps alive (fuzzing, tests). Throws Error. Tensor data
  // must be aligned for in-place use (2 to 8 bytes depending on the type, checked): a buffer
  // from the heap (16-byte aligned) or a mapping satisfies that whenever general.alignment >= 8,
  // which includes the default of 32.
  static File from_memory(std::span<const uint8_t> bytes);

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  uint32_t version() const { return version_; }
  const std::filesystem::path& path() const { return path_; }
  size_t alignment() const { return alignment_; }
  std::span<const uint8_t> bytes() const { return {base_, size_}; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;

  // Typed getters: nullopt when the key is absent; Error when present with an unusable type.
  std::optional<uint64_t> get_uint(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string_view> get_string(std::string_view key) const;
  // Required variants: Error("missing required key '<key>'") when absent.
  uint64_t require_uint(std::string_view key) const;
  double require_float(std::string_view key) const;
  std::string_view require_string(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  const TensorInfo& require_tensor(std::string_view name) const;  // Error naming the tensor

  // Why the mapped file can no longer be trusted, or nullopt while it is as opened: it was
  // deleted, replaced, resized or modified on disk, or a read of it faulted because it shrank
  // (mapping_guard.h; the mapping then reads zeros where the file is gone). One stat() call.
  // A File from memory never changes.
  std::optional<std::string> changed_on_disk() const;

 private:
  File() = default;
  void parse();

  std::filesystem::path path_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // munmap on destruction when owned
  size_t mapping_size_ = 0;
  std::unique_ptr<MappingGuard> guard_;  // released before the munmap
  struct Identity {
    uint64_t device = 0, inode = 0, size = 0;
    int64_t mtime_ns = 0;
  } identity_;  // of the mapped file when it was opened
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<TensorInfo> tensors_;
  // Names are views into the mapping, which outlives both maps.
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Writes GGUF v3 files (test models, `latent make-model`). Tensors are written in the order added.
class Writer {
 public:
  void set_alignment(uint32_t alignment);  // also writes general.alignment when not 32
  void add_uint32(std::string key, uint32_t v);
  void add_int32(std::string key, int32_t v);
  void add_uint64(std::string key, uint64_t v);
  void add_float32(std::string key, float v);
  void add_bool(std::string key, bool v);
  void add_string(std::string key, std::string v);
  void add_string_array(std::string key, std::vector<std::string> v);
  void add_int32_array(std::string key, std::vector<int32_t> v);
  void add_float32_array(std::string key, std::vector<float> v);
  // Copies a metadata value from another file verbatim (e.g. a tokenizer's keys).
  void add_value(std::string key, const Value& v);
  // data must hold exactly tensor_bytes(type, ne) bytes.
  void add_tensor(std::string name, TensorType type, std::vector<int64_t> ne, std::vector<uint8_t> data);
  // Writes atomically (temporary file + rename). Throws Error.
  void write(const std::filesystem::path& path) const;

 private:
  struct Kv;
  // Appends a key (Error on an empty or duplicate key) and returns its payload to fill.
  std::vector<uint8_t>& new_kv(std::string key, ValueType type);
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
  };
  std::vector<std::shared_ptr<Kv>> kv_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace latent::gguf
