// Malformed GGUF input: each defect is built byte by byte here (independently of gguf::Writer)
// and must give a gguf::Error whose message names the offending key or tensor, never a crash
// or an out-of-bounds read (the suite also runs under the fuzz build's sanitizers).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "gguf/gguf.h"

using namespace latent;

namespace {

struct Bytes {
  std::vector<uint8_t> b;
  Bytes& raw(const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
    return *this;
  }
  Bytes& u8(uint8_t v) { return raw(&v, 1); }
  Bytes& u32(uint32_t v) { return raw(&v, 4); }
  Bytes& u64(uint64_t v) { return raw(&v, 8); }
  Bytes& str(std::string_view s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    raw("GGUF", 4);
    u32(version);
    u64(n_tensors);
    return u64(n_kv);
  }
  Bytes& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
  Bytes& tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (auto d : ne) u64(d);
    return u32(type).u64(offset);
  }
  Bytes& pad_to(size_t alignment) {
    while (b.size() % alignment) b.push_back(0);
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

// Asserts that parsing fails with gguf::Error mentioning every one of `needles`.
void expect_error(const Bytes& bytes, std::initializer_list<std::string_view> needles) {
  try {
    auto f = gguf::File::from_memory(bytes.b);
    ADD_FAILURE() << "expected gguf::Error, file parsed with " << f.metadata().size() << " keys";
  } catch (const gguf::Error& e) {
    std::string msg = e.what();
    for (auto n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg << "\nmissing: " << n;
  }
}

constexpr uint64_t kHuge = uint64_t(1) << 63;
constexpr uint32_t kF32 = 0, kQ8_0 = 8, kQ4_K = 12;
constexpr uint32_t kString = 8, kArray = 9;

}  // namespace

TEST(gguf_malformed, valid_hand_built_file_parses) {
  Bytes b;
  b.header(1, 1).kv_u32("k", 5).tensor("t", {8}, kF32, 0).pad_to(32).zeros(32);
  auto f = gguf::File::from_memory(b.b);
  EXPECT_EQ(f.require_uint("k"), 5u);
  EXPECT_EQ(f.require_tensor("t").n_bytes, 32u);
}

TEST(gguf_malformed, truncation_at_every_offset) {
  // A writer-made file with every kind of header item; every strict prefix that cuts into the
  // header or tensor data must be rejected.
  gguf::Writer w;
  w.add_string("general.architecture", "deepseek2");
  w.add_uint32("a.u32", 3);
  w.add_string_array("a.strs", {"one", "two", "three"});
  w.add_float32_array("a.floats", {1, 2, 3});
  w.add_tensor("first", gguf::TensorType::Q8_0, {32, 2}, std::vector<uint8_t>(68, 7));
  w.add_tensor("last", gguf::TensorType::F32, {8}, std::vector<uint8_t>(32, 9));  // no tail padding
  auto path = std::filesystem::temp_directory_path() / ("latent_trunc_" + std::to_string(::getpid()) + ".gguf");
  w.write(path);
  std::vector<uint8_t> full;
  {
    auto f = gguf::File::open(path);
    full.assign(f.bytes().begin(), f.bytes().end());
    const auto& last = f.require_tensor("last");
    ASSERT_EQ(static_cast<size_t>(last.data + last.n_bytes - f.bytes().data()), full.size());
  }
  std::filesystem::remove(path);
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(gguf::File::from_memory(prefix), gguf::Error) << "prefix of " << n << " bytes";
  }
  EXPECT_NO_THROW(gguf::File::from_memory(full));
}

TEST(gguf_malformed, header) {
  expect_error(Bytes{}.raw("GGML", 4).u32(3).u64(0).u64(0), {"not a GGUF file", "GGML"});
  expect_error(Bytes{}.header(0, 0, 1), {"version 1"});
  expect_error(Bytes{}.header(0, 0, 4), {"unsupported GGUF version 4"});
  expect_error(Bytes{}.header(0, 0, 0x03000000), {"big-endian"});
  expect_error(Bytes{}.header(0, kHuge), {"metadata count"});
  expect_error(Bytes{}.header(kHuge, 0), {"tensor count"});
  expect_error(Bytes{}.header(0, 0xffffffffffffffffull), {"metadata count"});
}

TEST(gguf_malformed, metadata_values) {
  // Absurd string and key lengths.
  expect_error(Bytes{}.header(0, 1).u64(kHuge).zeros(16), {"metadata entry 0", "string length"});
  expect_error(Bytes{}.header(0, 1).str("k.s").u32(kString).u64(kHuge), {"'k.s'", "string length"});
  expect_error(Bytes{}.header(0, 1).str("k.s").u32(kString).u64(1000).raw("abc", 3), {"'k.s'", "1000"});
  // Unknown value types.
  expect_error(Bytes{}.header(0, 1).str("k.t").u32(13).u64(0), {"'k.t'", "unknown value type 13"});
  expect_error(Bytes{}.header(0, 1).str("k.t").u32(0xffffffff), {"'k.t'", "unknown value type"});
  expect_error(Bytes{}.header(0, 1).str("k.a").u32(kArray).u32(42).u64(0), {"'k.a'", "unknown array element type 42"});
  // Absurd array lengths for every element type (fixed-size, string and nested).
  for (uint32_t et = 0; et <= 12; ++et) {
    SCOPED_TRACE(et);
    expect_error(Bytes{}.header(0, 1).str("k.arr").u32(kArray).u32(et).u64(kHuge).zeros(64), {"'k.arr'"});
    expect_error(Bytes{}.header(0, 1).str("k.arr").u32(kArray).u32(et).u64(~uint64_t(0)), {"'k.arr'"});
  }
  // A string inside an array overrunning the file.
  expect_error(Bytes{}.header(0, 1).str("k.v").u32(kArray).u32(kString).u64(2).str("ok").u64(kHuge),
               {"'k.v[1]'", "string length"});
  // Bools other than 0/1.
  expect_error(Bytes{}.header(0, 1).str("k.b").u32(7).u8(2), {"'k.b'", "bool"});
  expect_error(Bytes{}.header(0, 1).str("k.b").u32(kArray).u32(7).u64(2).u8(1).u8(9), {"'k.b[1]'", "bool"});
  // Nested arrays: fine when well-formed, bounded in depth, and validated inside.
  {
    Bytes ok;
    ok.header(0, 1).str("k.n").u32(kArray).u32(kArray).u64(2);
    ok.u32(4).u64(2).u32(1).u32(2);
    ok.u32(kString).u64(1).str("x");
    auto f = gguf::File::from_memory(ok.b);
    const auto& items = f.find("k.n")->array_items();
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].as_int_array(), (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(items[1].as_string_array(), (std::vector<std::string_view>{"x"}));
  }
  {
    Bytes deep;
    deep.header(0, 1).str("k.deep").u32(kArray);
    for (int i = 0; i < 20; ++i) deep.u32(kArray).u64(1);
    deep.u32(4).u64(0);
    expect_error(deep, {"'k.deep[0]", "nested deeper"});
  }
  expect_error(Bytes{}.header(0, 1).str("k.n").u32(kArray).u32(kArray).u64(1).u32(4).u64(kHuge), {"'k.n[0]'"});
  // Duplicate and empty keys.
  expect_error(Bytes{}.header(0, 2).kv_u32("dup", 1).kv_u32("dup", 2), {"'dup'", "duplicate key"});
  expect_error(Bytes{}.header(0, 1).kv_u32("", 1), {"metadata entry 0", "empty key"});
}

TEST(gguf_malformed, alignment) {
  for (uint32_t bad : {0u, 3u, 48u, 0x80000000u}) {
    SCOPED_TRACE(bad);
    expect_error(Bytes{}.header(0, 1).kv_u32("general.alignment", bad), {"general.alignment", "power of two"});
  }
  expect_error(Bytes{}.header(0, 1).str("general.alignment").u32(kString).str("32"), {"general.alignment", "STRING"});
  // A valid non-default alignment governs offsets and the start of the data section.
  Bytes ok;
  ok.header(1, 1).kv_u32("general.alignment", 64).tensor("t", {8}, kF32, 0).pad_to(64).zeros(32);
  auto f = gguf::File::from_memory(ok.b);
  EXPECT_EQ(f.alignment(), 64u);
  Bytes mis;
  mis.header(1, 1).kv_u32("general.alignment", 64).tensor("t", {8}, kF32, 32).pad_to(64).zeros(128);
  expect_error(mis, {"'t'", "not a multiple of the alignment 64"});
}

TEST(gguf_malformed, tensor_infos) {
  auto one = [](std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data) {
    Bytes b;
    b.header(1, 0).tensor(name, ne, type, offset).pad_to(32).zeros(data);
    return b;
  };
  expect_error(Bytes{}.header(1, 0).u64(kHuge).zeros(64), {"tensor 0", "string length"});
  expect_error(Bytes{}.header(1, 0).str("").zeros(64), {"tensor 0", "empty tensor name"});
  expect_error(one("t.dims0", {}, kF32, 0, 32), {"'t.dims0'", "0 dimensions"});
  expect_error(one("t.dims5", {1, 1, 1, 1, 1}, kF32, 0, 32), {"'t.dims5'", "5 dimensions"});
  expect_error(one("t.zero", {4, 0}, kF32, 0, 32), {"'t.zero'", "ne[1]"});
  expect_error(one("t.neg", {~uint64_t(0)}, kF32, 0, 32), {"'t.neg'", "ne[0]"});
  expect_error(one("t.overflow", {uint64_t(1) << 32, uint64_t(1) << 32}, kF32, 0, 32), {"'t.overflow'", "overflows"});
  expect_error(one("t.bytes", {uint64_t(1) << 61, 2}, kF32, 0, 32), {"'t.bytes'", "overflows"});
  expect_error(one("t.block", {33}, kQ8_0, 0, 64), {"'t.block'", "not a multiple of the Q8_0 block size 32"});
  expect_error(one("t.kblock", {128}, kQ4_K, 0, 256), {"'t.kblock'", "Q4_K block size 256"});
  for (uint32_t bad : {4u, 5u, 31u, 40u, 1000u}) {
    SCOPED_TRACE(bad);
    expect_error(one("t.type", {32}, bad, 0, 256), {"'t.type'", "unknown ggml tensor type"});
  }
  expect_error(one("t.misaligned", {8}, kF32, 4, 64), {"'t.misaligned'", "alignment"});
  expect_error(one("t.outside", {8}, kF32, 32, 32), {"'t.outside'", "outside"});
  expect_error(one("t.wrap", {8}, kF32, ~uint64_t(0) - 31, 32), {"'t.wrap'", "outside"});
  expect_error(one("t.short", {8}, kF32, 0, 31), {"'t.short'", "outside"});
  // Header ends exactly at the file end with tensors declared: no data section at all.
  expect_error(Bytes{}.header(1, 0).tensor("t.nodata", {8}, kF32, 0), {"'t.nodata'"});
  // With general.alignment 1 an offset can leave F32 data misaligned for in-place use.
  {
    auto build = [](uint64_t offset) {
      Bytes b;
      b.header(1, 1).kv_u32("general.alignment", 1).tensor("t.odd", {8}, kF32, offset).zeros(64);
      return b;
    };
    const size_t header_end = build(0).b.size() - 64;
    const uint64_t offset = (4 - header_end % 4) % 4 + 1;  // data address = 1 mod 4
    expect_error(build(offset), {"'t.odd'", "not aligned to the 4 bytes"});
    EXPECT_NO_THROW(gguf::File::from_memory(build(offset + 3).b));
  }
  // Duplicate tensor names.
  Bytes dup;
  dup.header(2, 0).tensor("same", {8}, kF32, 0).tensor("same", {8}, kF32, 32).pad_to(32).zeros(64);
  expect_error(dup, {"'same'", "duplicate tensor name"});
}

TEST(gguf_malformed, typed_getters_name_the_key) {
  Bytes b;
  b.header(0, 3).kv_u32("n", 7).str("s").u32(kString).str("text").str("neg").u32(5).u32(static_cast<uint32_t>(-3));
  auto f = gguf::File::from_memory(b.b);
  EXPECT_EQ(f.get_uint("n"), 7u);
  EXPECT_EQ(f.get_float("n"), 7.0);
  EXPECT_EQ(f.get_uint("absent"), std::nullopt);
  for (auto [key, call] : std::vector<std::pair<std::string, std::function<void()>>>{
           {"s", [&] { f.get_uint("s"); }},
           {"n", [&] { f.get_string("n"); }},
           {"neg", [&] { f.get_uint("neg"); }},
           {"s", [&] { f.find("s")->as_string_array(); }},
           {"absent", [&] { f.require_string("absent"); }},
       }) {
    try {
      call();
      ADD_FAILURE() << "no error for " << key;
    } catch (const gguf::Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + key + "'"), std::string::npos) << e.what();
    }
  }
}
