// gguf::Writer: serialises metadata and tensors as GGUF v3, then publishes the file atomically
// (write a temporary in the target's directory, fsync, rename) so a reader never sees a
// half-written model.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "gguf/gguf.h"

namespace latent::gguf {

struct Writer::Kv {
  std::string key;
  std::vector<uint8_t> payload;  // u32 value type + encoded value
};

namespace {

constexpr uint32_t kDefaultAlignment = 32;

void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
  size_t at = out.size();
  out.resize(at + n);
  if (n) std::memcpy(out.data() + at, p, n);
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  put_bytes(out, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  put_bytes(out, s.data(), s.size());
}

size_t fixed_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    default: return 0;
  }
}

// Encodes a scalar Value in its own type (lossless: the accessors return the stored value).
void put_scalar(std::vector<uint8_t>& out, const Value& v) {
  switch (v.type()) {
    case ValueType::UINT8: put<uint8_t>(out, static_cast<uint8_t>(v.as_uint())); break;
    case ValueType::BOOL: put<uint8_t>(out, v.as_bool() ? 1 : 0); break;
    case ValueType::UINT16: put<uint16_t>(out, static_cast<uint16_t>(v.as_uint())); break;
    case ValueType::UINT32: put<uint32_t>(out, static_cast<uint32_t>(v.as_uint())); break;
    case ValueType::UINT64: put<uint64_t>(out, v.as_uint()); break;
    case ValueType::INT8: put<int8_t>(out, static_cast<int8_t>(v.as_int())); break;
    case ValueType::INT16: put<int16_t>(out, static_cast<int16_t>(v.as_int())); break;
    case ValueType::INT32: put<int32_t>(out, static_cast<int32_t>(v.as_int())); break;
    case ValueType::INT64: put<int64_t>(out, v.as_int()); break;
    case ValueType::FLOAT32: put<float>(out, static_cast<float>(v.as_float())); break;
    case ValueType::FLOAT64: put<double>(out, v.as_float()); break;
    case ValueType::STRING: put_string(out, v.as_string()); break;
    case ValueType::ARRAY: break;
  }
}

// Encodes an ARRAY value's body (element type, count, items).
void put_array(std::vector<uint8_t>& out, const Value& v) {
  put<uint32_t>(out, static_cast<uint32_t>(v.array_type()));
  put<uint64_t>(out, v.array_size());
  ValueType et = v.array_type();
  if (et == ValueType::STRING) {
    for (auto s : v.as_string_array()) put_string(out, s);
  } else if (et == ValueType::ARRAY) {
    for (const auto& item : v.array_items()) put_array(out, item);
  } else if (et == ValueType::FLOAT32 || et == ValueType::FLOAT64) {
    for (double d : v.as_float_array()) {
      if (et == ValueType::FLOAT32) put<float>(out, static_cast<float>(d));
      else put<double>(out, d);
    }
  } else {
    // Integers and bools: re-encode each item in the element type (UINT64 beyond int64 is
    // rejected by as_int_array; such arrays do not occur in model files).
    size_t es = fixed_size(et);
    for (int64_t i : v.as_int_array()) {
      put_bytes(out, &i, es);  // little-endian: the low es bytes are the value in its own width
    }
  }
}

void write_all(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(path + ": write failed: " + std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

void Writer::set_alignment(uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 30))
    throw Error("gguf writer: alignment " + std::to_string(alignment) + " is not a power of two in 1..2^30");
  alignment_ = alignment;
}

std::vector<uint8_t>& Writer::new_kv(std::string key, ValueType type) {
  if (key.empty()) throw Error("gguf writer: empty metadata key");
  for (const auto& e : kv_)
    if (e->key == key) throw Error("gguf writer: duplicate metadata key '" + key + "'");
  auto kv = std::make_shared<Kv>();
  kv->key = std::move(key);
  put<uint32_t>(kv->payload, static_cast<uint32_t>(type));
  kv_.push_back(kv);
  return kv_.back()->payload;
}

// general.alignment is owned by set_alignment so the written key and the padding cannot disagree.
void Writer::add_uint32(std::string key, uint32_t v) {
  if (key == "general.alignment") return set_alignment(v);
  put<uint32_t>(new_kv(std::move(key), ValueType::UINT32), v);
}

void Writer::add_int32(std::string key, int32_t v) { put<int32_t>(new_kv(std::move(key), ValueType::INT32), v); }

void Writer::add_uint64(std::string key, uint64_t v) { put<uint64_t>(new_kv(std::move(key), ValueType::UINT64), v); }

void Writer::add_float32(std::string key, float v) { put<float>(new_kv(std::move(key), ValueType::FLOAT32), v); }

void Writer::add_bool(std::string key, bool v) { put<uint8_t>(new_kv(std::move(key), ValueType::BOOL), v ? 1 : 0); }

void Writer::add_string(std::string key, std::string v) { put_string(new_kv(std::move(key), ValueType::STRING), v); }

void Writer::add_string_array(std::string key, std::vector<std::string> v) {
  auto& p = new_kv(std::move(key), ValueType::ARRAY);
  put<uint32_t>(p, static_cast<uint32_t>(ValueType::STRING));
  put<uint64_t>(p, v.size());
  for (const auto& s : v) put_string(p, s);
}

void Writer::add_int32_array(std::string key, std::vector<int32_t> v) {
  auto& p = new_kv(std::move(key), ValueType::ARRAY);
  put<uint32_t>(p, static_cast<uint32_t>(ValueType::INT32));
  put<uint64_t>(p, v.size());
  for (int32_t x : v) put<int32_t>(p, x);
}

void Writer::add_float32_array(std::string key, std::vector<float> v) {
  auto& p = new_kv(std::move(key), ValueType::ARRAY);
  put<uint32_t>(p, static_cast<uint32_t>(ValueType::FLOAT32));
  put<uint64_t>(p, v.size());
  for (float x : v) put<float>(p, x);
}

void Writer::add_value(std::string key, const Value& v) {
  if (key == "general.alignment") {
    uint64_t a = v.as_uint();
    if (a > UINT32_MAX) throw Error("gguf writer: general.alignment " + std::to_string(a) + " does not fit in u32");
    return set_alignment(static_cast<uint32_t>(a));
  }
  auto& p = new_kv(std::move(key), v.type());
  if (v.is_array()) put_array(p, v);
  else put_scalar(p, v);
}

void Writer::add_tensor(std::string name, TensorType type, std::vector<int64_t> ne, std::vector<uint8_t> data) {
  if (name.empty()) throw Error("gguf writer: empty tensor name");
  for (const auto& t : tensors_)
    if (t.name == name) throw Error("gguf writer: duplicate tensor name '" + name + "'");
  uint64_t bytes = tensor_bytes(type, ne, "gguf writer: tensor '" + name + "'");
  if (bytes != data.size())
    throw Error("gguf writer: tensor '" + name + "': " + std::to_string(data.size()) + " bytes of data, its type " +
                std::string(type_name(type)) + " and shape need " + std::to_string(bytes));
  tensors_.push_back({std::move(name), type, std::move(ne), std::move(data)});
}

void Writer::write(const std::filesystem::path& path) const {
  const uint64_t al = alignment_;
  auto pad = [al](uint64_t n) { return (n + al - 1) / al * al; };

  std::vector<uint8_t> head;
  put<uint32_t>(head, 0x46554747);  // "GGUF"
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, kv_.size() + (alignment_ != kDefaultAlignment ? 1 : 0));
  if (alignment_ != kDefaultAlignment) {
    put_string(head, "general.alignment");
    put<uint32_t>(head, static_cast<uint32_t>(ValueType::UINT32));
    put<uint32_t>(head, alignment_);
  }
  for (const auto& kv : kv_) {
    put_string(head, kv->key);
    put_bytes(head, kv->payload.data(), kv->payload.size());
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(head, static_cast<uint64_t>(d));
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offset = pad(offset + t.data.size());
  }
  if (!tensors_.empty()) head.resize(pad(head.size()), 0);

  std::string target = path.string();
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(target + ": cannot create temporary file " + tmp.string() + ": " + std::strerror(errno));
  try {
    write_all(fd, head.data(), head.size(), target);
    std::vector<uint8_t> zeros(al, 0);
    for (const auto& t : tensors_) {
      write_all(fd, t.data.data(), t.data.size(), target);
      write_all(fd, zeros.data(), pad(t.data.size()) - t.data.size(), target);
    }
    if (::fsync(fd) != 0) throw Error(target + ": fsync failed: " + std::strerror(errno));
    if (::close(fd) != 0) {
      fd = -1;
      throw Error(target + ": close failed: " + std::strerror(errno));
    }
    fd = -1;
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw Error(target + ": cannot rename the temporary file into place: " + std::strerror(errno));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace latent::gguf
