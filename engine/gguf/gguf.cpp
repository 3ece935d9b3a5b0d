#include "gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <algorithm>

namespace latent::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxDims = 4;

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
    case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
      return true;
    default:
      return false;
  }
}

bool is_signed_type(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}

// Size of a fixed-size value; 0 for STRING and ARRAY.
size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    default: return 0;
  }
}

bool known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::FLOAT64); }

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Reads one packed element of a numeric type into the three scalar slots of a Value.
void decode_scalar(ValueType t, const uint8_t* p, uint64_t& u, int64_t& i, double& f) {
  switch (t) {
    case ValueType::UINT8: u = load<uint8_t>(p); i = static_cast<int64_t>(u); f = double(u); break;
    case ValueType::BOOL: u = load<uint8_t>(p); i = static_cast<int64_t>(u); f = double(u); break;
    case ValueType::UINT16: u = load<uint16_t>(p); i = static_cast<int64_t>(u); f = double(u); break;
    case ValueType::UINT32: u = load<uint32_t>(p); i = static_cast<int64_t>(u); f = double(u); break;
    case ValueType::UINT64: u = load<uint64_t>(p); i = static_cast<int64_t>(u); f = double(u); break;
    case ValueType::INT8: i = load<int8_t>(p); u = static_cast<uint64_t>(i); f = double(i); break;
    case ValueType::INT16: i = load<int16_t>(p); u = static_cast<uint64_t>(i); f = double(i); break;
    case ValueType::INT32: i = load<int32_t>(p); u = static_cast<uint64_t>(i); f = double(i); break;
    case ValueType::INT64: i = load<int64_t>(p); u = static_cast<uint64_t>(i); f = double(i); break;
    case ValueType::FLOAT32: f = load<float>(p); break;
    case ValueType::FLOAT64: f = load<double>(p); break;
    default: break;
  }
}

std::string quoted(std::string_view s, size_t max_chars = 60) {
  std::string out = "\"";
  size_t n = 0;
  for (char c : s) {
    if (n++ == max_chars) {
      out += "...";
      break;
    }
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// Shortest decimal that reads back as the same value at the stored width (1e-06, not
// 9.99999997e-07, for a FLOAT32 1e-6).
std::string format_number(double v, bool is_float32) {
  char buf[64];
  for (int prec = 6; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    const double back = std::strtod(buf, nullptr);
    if (is_float32 ? static_cast<float>(back) == static_cast<float>(v) : back == v) break;
  }
  return buf;
}

}  // namespace

namespace detail {

// Bounds-checked sequential reader over the header. Every read names what it was reading so a
// truncated file says which key or tensor was cut off.
class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size) : base_(base), size_(size) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  const uint8_t* take(uint64_t n, const std::string& what) {
    if (n > remaining())
      throw Error(what + ": truncated (needs " + std::to_string(n) + " bytes at offset " +
                  std::to_string(pos_) + ", file has " + std::to_string(remaining()) + " left)");
    const uint8_t* p = base_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  template <typename T>
  T read(const std::string& what) {
    return load<T>(take(sizeof(T), what));
  }
  std::string_view read_string(const std::string& what) {
    uint64_t len = read<uint64_t>(what + " (string length)");
    if (len > remaining())
      throw Error(what + ": string length " + std::to_string(len) + " exceeds the " +
                  std::to_string(remaining()) + " bytes left in the file");
    const uint8_t* p = take(len, what);
    return {reinterpret_cast<const char*>(p), static_cast<size_t>(len)};
  }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace detail

namespace {

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw Error(what + ": size overflows 64 bits");
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ValueType / Value

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "UINT8";
    case ValueType::INT8: return "INT8";
    case ValueType::UINT16: return "UINT16";
    case ValueType::INT16: return "INT16";
    case ValueType::UINT32: return "UINT32";
    case ValueType::INT32: return "INT32";
    case ValueType::FLOAT32: return "FLOAT32";
    case ValueType::BOOL: return "BOOL";
    case ValueType::STRING: return "STRING";
    case ValueType::ARRAY: return "ARRAY";
    case ValueType::UINT64: return "UINT64";
    case ValueType::INT64: return "INT64";
    case ValueType::FLOAT64: return "FLOAT64";
  }
  return "unknown";
}

bool Value::is_integer() const { return is_integer_type(type_); }

namespace {

[[noreturn]] void type_error(const std::string& key, ValueType have, std::string_view want) {
  throw Error("key '" + key + "': value is " + std::string(value_type_name(have)) + ", expected " +
              std::string(want));
}

}  // namespace

uint64_t Value::as_uint() const {
  if (type_ == ValueType::BOOL || (is_integer() && !is_signed_type(type_))) return u_;
  if (is_signed_type(type_)) {
    if (i_ < 0) throw Error("key '" + key_ + "': value " + std::to_string(i_) + " is negative, expected unsigned");
    return static_cast<uint64_t>(i_);
  }
  type_error(key_, type_, "an unsigned integer");
}

int64_t Value::as_int() const {
  if (is_signed_type(type_)) return i_;
  if (type_ == ValueType::BOOL || is_integer()) {
    if (u_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw Error("key '" + key_ + "': value " + std::to_string(u_) + " does not fit in int64");
    return static_cast<int64_t>(u_);
  }
  type_error(key_, type_, "an integer");
}

double Value::as_float() const {
  if (type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64) return f_;
  if (is_signed_type(type_)) return static_cast<double>(i_);
  if (is_integer()) return static_cast<double>(u_);
  type_error(key_, type_, "a number");
}

bool Value::as_bool() const {
  if (type_ == ValueType::BOOL) return u_ != 0;
  if (is_integer() && (is_signed_type(type_) ? (i_ == 0 || i_ == 1) : u_ <= 1))
    return is_signed_type(type_) ? i_ != 0 : u_ != 0;
  type_error(key_, type_, "a bool");
}

namespace {

// The error of an array accessor called on a value of another kind.
Error array_mismatch(const std::string& key, ValueType type, ValueType array_type, std::string_view expected) {
  return Error("key '" + key + "': expected an array of " + std::string(expected) + ", have " +
               (type == ValueType::ARRAY ? "an array of " + std::string(value_type_name(array_type))
                                         : std::string(value_type_name(type))));
}

}  // namespace

std::string_view Value::as_string() const {
  if (type_ != ValueType::STRING) type_error(key_, type_, "a string");
  return s_;
}

std::vector<std::string_view> Value::as_string_array() const {
  if (type_ != ValueType::ARRAY || array_type_ != ValueType::STRING)
    throw array_mismatch(key_, type_, array_type_, "strings");
  return *strings_;
}

std::vector<int64_t> Value::as_int_array() const {
  if (type_ != ValueType::ARRAY || !(is_integer_type(array_type_) || array_type_ == ValueType::BOOL))
    throw array_mismatch(key_, type_, array_type_, "integers");
  std::vector<int64_t> out(array_size_);
  size_t es = scalar_size(array_type_);
  for (uint64_t k = 0; k < array_size_; ++k) {
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    decode_scalar(array_type_, array_data_ + k * es, u, i, f);
    if (array_type_ == ValueType::UINT64 && u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw Error("key '" + key_ + "': item " + std::to_string(k) + " (" + std::to_string(u) +
                  ") does not fit in int64");
    out[k] = is_signed_type(array_type_) ? i : static_cast<int64_t>(u);
  }
  return out;
}

std::vector<double> Value::as_float_array() const {
  if (type_ != ValueType::ARRAY || !(is_integer_type(array_type_) || array_type_ == ValueType::FLOAT32 ||
                                     array_type_ == ValueType::FLOAT64))
    throw array_mismatch(key_, type_, array_type_, "numbers");
  std::vector<double> out(array_size_);
  size_t es = scalar_size(array_type_);
  for (uint64_t k = 0; k < array_size_; ++k) {
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    decode_scalar(array_type_, array_data_ + k * es, u, i, f);
    out[k] = f;
  }
  return out;
}

const std::vector<Value>& Value::array_items() const {
  if (type_ != ValueType::ARRAY || array_type_ != ValueType::ARRAY)
    throw array_mismatch(key_, type_, array_type_, "arrays");
  return *items_;
}

std::string Value::to_display_string(size_t max_items) const {
  switch (type_) {
    case ValueType::STRING: return quoted(s_);
    case ValueType::BOOL: return u_ ? "true" : "false";
    case ValueType::FLOAT32: case ValueType::FLOAT64: return format_number(f_, type_ == ValueType::FLOAT32);
    case ValueType::ARRAY: break;
    default: return is_signed_type(type_) ? std::to_string(i_) : std::to_string(u_);
  }
  std::string out = "[";
  uint64_t shown = std::min<uint64_t>(array_size_, max_items);
  size_t es = scalar_size(array_type_);
  for (uint64_t k = 0; k < shown; ++k) {
    if (k) out += ", ";
    if (array_type_ == ValueType::STRING) {
      out += quoted((*strings_)[k], 24);
    } else if (array_type_ == ValueType::ARRAY) {
      out += (*items_)[k].to_display_string(std::max<size_t>(1, max_items / 2));
    } else {
      Value v;
      v.type_ = array_type_;
      decode_scalar(array_type_, array_data_ + k * es, v.u_, v.i_, v.f_);
      out += v.to_display_string();
    }
  }
  if (shown < array_size_) out += ", ...";
  out += "]";
  if (shown < array_size_)
    out += " (" + std::to_string(array_size_) + " " + std::string(value_type_name(array_type_)) + ")";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shapes

uint64_t tensor_bytes(TensorType type, std::span<const int64_t> ne, std::string_view what) {
  std::string w(what);
  auto tr = type_traits(static_cast<uint32_t>(type));
  if (!tr) throw Error(w + ": unknown ggml type " + std::to_string(static_cast<uint32_t>(type)));
  if (ne.empty() || ne.size() > kMaxDims)
    throw Error(w + ": " + std::to_string(ne.size()) + " dimensions (must be 1.." + std::to_string(kMaxDims) + ")");
  int64_t n = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] <= 0) throw Error(w + ": dimension ne[" + std::to_string(d) + "] = " + std::to_string(ne[d]) + " is not positive");
    if (__builtin_mul_overflow(n, ne[d], &n)) throw Error(w + ": element count overflows int64");
  }
  if (ne[0] % tr->block_elements != 0)
    throw Error(w + ": ne[0] = " + std::to_string(ne[0]) + " is not a multiple of the " +
                std::string(tr->name) + " block size " + std::to_string(tr->block_elements));
  uint64_t bytes = checked_mul(static_cast<uint64_t>(n / tr->block_elements), tr->block_bytes, w);
  if (bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) throw Error(w + ": byte size overflows int64");
  return bytes;
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // validated at open: no overflow
  return ne.empty() ? 0 : n;
}

size_t TensorInfo::row_bytes() const { return ne.empty() ? 0 : gguf::row_bytes(type, ne[0]); }

// ---------------------------------------------------------------------------------------------
// File

// Value's fields are private; this is the one parser allowed to fill them (a friend of Value).
class ValueAccess {
 public:
  static void parse(detail::Cursor& c, ValueType t, Value& v, const std::string& key, int depth);
};

File::File(File&& o) noexcept { *this = std::move(o); }

File& File::operator=(File&& o) noexcept {
  if (this == &o) return *this;
  guard_.reset();
  if (mapping_) munmap(mapping_, mapping_size_);
  guard_ = std::move(o.guard_);
  identity_ = o.identity_;
  path_ = std::move(o.path_);
  version_ = o.version_;
  alignment_ = o.alignment_;
  base_ = o.base_;
  size_ = o.size_;
  mapping_ = o.mapping_;
  mapping_size_ = o.mapping_size_;
  kv_ = std::move(o.kv_);
  tensors_ = std::move(o.tensors_);
  kv_index_ = std::move(o.kv_index_);
  tensor_index_ = std::move(o.tensor_index_);
  o.mapping_ = nullptr;
  o.mapping_size_ = 0;
  o.base_ = nullptr;
  o.size_ = 0;
  return *this;
}

File::~File() {
  guard_.reset();
  if (mapping_) munmap(mapping_, mapping_size_);
}

File File::open(const std::filesystem::path& path) {
  File f;
  f.path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path.string() + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Error(path.string() + ": cannot stat: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path.string() + ": not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    throw Error(path.string() + ": file is empty (expected a GGUF model)");
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);
  if (m == MAP_FAILED) throw Error(path.string() + ": mmap failed: " + std::strerror(e));
  f.mapping_ = m;
  f.mapping_size_ = size;
  f.guard_ = std::make_unique<MappingGuard>(m, size);
  f.identity_ = {uint64_t(st.st_dev), uint64_t(st.st_ino), uint64_t(st.st_size),
                 int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  f.base_ = static_cast<const uint8_t*>(m);
  f.size_ = size;
  try {
    f.parse();
  } catch (const Error& err) {
    throw Error(path.string() + ": " + err.what());
  }
  return f;
}

std::optional<std::string> File::changed_on_disk() const {
  if (!mapping_) return std::nullopt;
  const std::string file = path_.string();
  if (guard_ && guard_->faulted())
    return file + " shrank while in use (parts of the model read as zeros); it must be loaded again";
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return file + " is gone (" + std::strerror(errno) + ")";
  if (uint64_t(st.st_dev) != identity_.device || uint64_t(st.st_ino) != identity_.inode)
    return file + " was replaced by another file";
  if (uint64_t(st.st_size) != identity_.size)
    return file + " changed size (" + std::to_string(identity_.size) + " -> " + std::to_string(st.st_size) + " bytes)";
  if (int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec != identity_.mtime_ns)
    return file + " was modified";
  return std::nullopt;
}

File File::from_memory(std::span<const uint8_t> bytes) {
  File f;
  f.base_ = bytes.data();
  f.size_ = bytes.size();
  try {
    f.parse();
  } catch (const Error& err) {
    throw Error(std::string("<memory>: ") + err.what());
  }
  return f;
}

void ValueAccess::parse(detail::Cursor& c, ValueType t, Value& v, const std::string& key, int depth) {
  const std::string what = "key '" + key + "'";
  v.type_ = t;
  v.key_ = key;
  if (t == ValueType::STRING) {
    v.s_ = c.read_string(what);
    return;
  }
  if (t != ValueType::ARRAY) {
    const uint8_t* p = c.take(scalar_size(t), what);
    decode_scalar(t, p, v.u_, v.i_, v.f_);
    if (t == ValueType::BOOL && v.u_ > 1)
      throw Error(what + ": bool value " + std::to_string(v.u_) + " is neither 0 nor 1");
    return;
  }
  if (depth >= kMaxArrayDepth)
    throw Error(what + ": arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
  uint32_t et = c.read<uint32_t>(what + " (array element type)");
  if (!known_value_type(et)) throw Error(what + ": unknown array element type " + std::to_string(et));
  uint64_t n = c.read<uint64_t>(what + " (array length)");
  v.array_type_ = static_cast<ValueType>(et);
  v.array_size_ = n;
  auto count_error = [&](size_t min_item) {
    return Error(what + ": array of " + std::to_string(n) + " " + std::string(value_type_name(v.array_type_)) +
                 " needs at least " + std::to_string(min_item) + " bytes each, only " +
                 std::to_string(c.remaining()) + " bytes left in the file");
  };
  if (v.array_type_ == ValueType::STRING) {
    if (n > c.remaining() / 8) throw count_error(8);
    auto strings = std::make_shared<std::vector<std::string_view>>();
    strings->reserve(static_cast<size_t>(n));
    for (uint64_t k = 0; k < n; ++k) strings->push_back(c.read_string("key '" + key + "[" + std::to_string(k) + "]'"));
    v.strings_ = std::move(strings);
  } else if (v.array_type_ == ValueType::ARRAY) {
    if (n > c.remaining() / 12) throw count_error(12);
    auto items = std::make_shared<std::vector<Value>>(static_cast<size_t>(n));
    for (uint64_t k = 0; k < n; ++k) {
      Value& item = (*items)[k];
      std::string item_key = key + "[" + std::to_string(k) + "]";
      // Nested items are arrays themselves: the element type ARRAY means "each item is an array".
      parse(c, ValueType::ARRAY, item, item_key, depth + 1);
    }
    v.items_ = std::move(items);
  } else {
    size_t es = scalar_size(v.array_type_);
    if (n > c.remaining() / es) throw count_error(es);
    v.array_data_ = c.take(n * es, what);
    if (v.array_type_ == ValueType::BOOL)
      for (uint64_t k = 0; k < n; ++k)
        if (v.array_data_[k] > 1)
          throw Error("key '" + key + "[" + std::to_string(k) + "]': bool value " + std::to_string(v.array_data_[k]) +
                      " is neither 0 nor 1");
  }
}

void File::parse() {
  detail::Cursor c(base_, size_);
  uint32_t magic = c.read<uint32_t>("header (magic)");
  if (magic != kMagic) {
    char got[5] = {};
    std::memcpy(got, &magic, 4);
    for (char& ch : got)
      if (ch && (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e)) ch = '?';
    throw Error(std::string("not a GGUF file (magic is \"") + got + "\", expected \"GGUF\")");
  }
  version_ = c.read<uint32_t>("header (version)");
  if (version_ == 1) throw Error("GGUF version 1 is not supported (re-convert the model with a current llama.cpp)");
  if (version_ != 2 && version_ != 3) {
    if ((version_ & 0xffff) == 0 && (__builtin_bswap32(version_) == 2 || __builtin_bswap32(version_) == 3))
      throw Error("big-endian GGUF files are not supported");
    throw Error("unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  }
  uint64_t n_tensors = c.read<uint64_t>("header (tensor count)");
  uint64_t n_kv = c.read<uint64_t>("header (metadata count)");
  // Smallest possible entries bound the counts before anything is reserved.
  constexpr uint64_t kMinKv = 8 + 4 + 1, kMinTensor = 8 + 4 + 8 + 4 + 8;
  if (n_kv > c.remaining() / kMinKv)
    throw Error("metadata count " + std::to_string(n_kv) + " cannot fit in the " + std::to_string(c.remaining()) +
                " bytes left in the file");
  if (n_tensors > c.remaining() / kMinTensor)
    throw Error("tensor count " + std::to_string(n_tensors) + " cannot fit in the " + std::to_string(c.remaining()) +
                " bytes left in the file");

  kv_.reserve(static_cast<size_t>(n_kv));
  kv_index_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string idx = "metadata entry " + std::to_string(k);
    std::string_view key = c.read_string(idx + " (key)");
    std::string what = "key '" + std::string(key) + "'";
    if (key.empty()) throw Error(idx + ": empty key");
    if (kv_index_.count(key)) throw Error(what + ": duplicate key");
    uint32_t t = c.read<uint32_t>(what + " (value type)");
    if (!known_value_type(t)) throw Error(what + ": unknown value type " + std::to_string(t));
    Value v;
    ValueAccess::parse(c, static_cast<ValueType>(t), v, std::string(key), 0);
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(std::string(key), std::move(v));
  }

  if (const Value* a = find("general.alignment")) {
    if (!a->is_integer()) throw Error("key 'general.alignment': value is " + std::string(value_type_name(a->type())) + ", expected an integer");
    uint64_t al = a->as_uint();
    if (al == 0 || (al & (al - 1)) != 0 || al > (uint64_t(1) << 30))
      throw Error("key 'general.alignment': " + std::to_string(al) + " is not a power of two in 1..2^30");
    alignment_ = static_cast<size_t>(al);
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  tensor_index_.reserve(static_cast<size_t>(n_tensors));
  std::vector<std::string_view> names;
  for (uint64_t k = 0; k < n_tensors; ++k) {
    std::string idx = "tensor " + std::to_string(k);
    std::string_view name = c.read_string(idx + " (name)");
    if (name.empty()) throw Error(idx + ": empty tensor name");
    std::string what = "tensor '" + std::string(name) + "'";
    if (tensor_index_.count(name)) throw Error(what + ": duplicate tensor name");
    uint32_t n_dims = c.read<uint32_t>(what + " (dimension count)");
    if (n_dims < 1 || n_dims > kMaxDims)
      throw Error(what + ": " + std::to_string(n_dims) + " dimensions (must be 1.." + std::to_string(kMaxDims) + ")");
    TensorInfo ti;
    ti.name = std::string(name);
    ti.ne.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = c.read<uint64_t>(what + " (ne[" + std::to_string(d) + "])");
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw Error(what + ": dimension ne[" + std::to_string(d) + "] = " + std::to_string(ne) + " is out of range");
      ti.ne[d] = static_cast<int64_t>(ne);
    }
    uint32_t type = c.read<uint32_t>(what + " (type)");
    auto tr = type_traits(type);
    if (!tr) throw Error(what + ": unknown ggml tensor type " + std::to_string(type));
    ti.type = static_cast<TensorType>(type);
    ti.n_bytes = tensor_bytes(ti.type, ti.ne, what);
    ti.offset = c.read<uint64_t>(what + " (offset)");
    if (ti.offset % alignment_ != 0)
      throw Error(what + ": data offset " + std::to_string(ti.offset) + " is not a multiple of the alignment " +
                  std::to_string(alignment_));
    tensor_index_.emplace(name, tensors_.size());
    tensors_.push_back(std::move(ti));
  }

  if (tensors_.empty()) return;  // a metadata-only file (e.g. a vocabulary) needs no data section
  size_t header_end = c.pos();
  size_t data_start = (header_end + alignment_ - 1) / alignment_ * alignment_;
  if (data_start < header_end || data_start > size_)
    throw Error("data section would start at offset " + std::to_string(data_start) + ", past the end of the " +
                std::to_string(size_) + "-byte file (truncated?)");
  uint64_t data_size = size_ - data_start;
  for (auto& ti : tensors_) {
    if (ti.offset > data_size || ti.n_bytes > data_size - ti.offset)
      throw Error("tensor '" + ti.name + "': data [" + std::to_string(ti.offset) + ", +" + std::to_string(ti.n_bytes) +
                  ") lies outside the " + std::to_string(data_size) + "-byte data section (file truncated?)");
    ti.data = base_ + data_start + ti.offset;
    // Kernels read block fields (fp16 scales, f32 values) in place; the largest power of two
    // (up to 8) dividing the block size is the alignment that makes those reads aligned.
    // Files with the default 32-byte alignment always satisfy it.
    auto tr = type_traits(static_cast<uint32_t>(ti.type));
    const size_t unit = std::min<size_t>(8, tr->block_bytes & (~tr->block_bytes + 1));
    if (reinterpret_cast<uintptr_t>(ti.data) % unit != 0)
      throw Error("tensor '" + ti.name + "': data at file offset " + std::to_string(data_start + ti.offset) +
                  " is not aligned to the " + std::to_string(unit) + " bytes its " + std::string(tr->name) +
                  " blocks need (general.alignment = " + std::to_string(alignment_) + ")");
  }
}

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

namespace {

std::string file_label(const std::filesystem::path& p) { return p.empty() ? "<memory>" : p.string(); }

template <typename F>
auto with_path(const std::filesystem::path& p, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(file_label(p) + ": " + e.what());
  }
}

}  // namespace

std::optional<uint64_t> File::get_uint(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  return with_path(path_, [&] { return v->as_uint(); });
}

std::optional<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  return with_path(path_, [&] { return v->as_float(); });
}

std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  return with_path(path_, [&] { return v->as_bool(); });
}

std::optional<std::string_view> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  return with_path(path_, [&] { return v->as_string(); });
}

namespace {

[[noreturn]] void missing_key(const std::filesystem::path& p, std::string_view key) {
  throw Error(file_label(p) + ": missing required key '" + std::string(key) + "'");
}

}  // namespace

uint64_t File::require_uint(std::string_view key) const {
  auto v = get_uint(key);
  if (!v) missing_key(path_, key);
  return *v;
}

double File::require_float(std::string_view key) const {
  auto v = get_float(key);
  if (!v) missing_key(path_, key);
  return *v;
}

std::string_view File::require_string(std::string_view key) const {
  auto v = get_string(key);
  if (!v) missing_key(path_, key);
  return *v;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::require_tensor(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (!t)
    throw Error(file_label(path_) + ": missing required tensor '" + std::string(name) +
                "' (is this a deepseek2 model converted by a current llama.cpp?)");
  return *t;
}

}  // namespace latent::gguf
