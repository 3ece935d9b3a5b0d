// libFuzzer target for the GGUF reader: parses arbitrary bytes with File::from_memory and, when
// that succeeds, touches every metadata value and every tensor (first and last data byte, and a
// dequantize + dot of the first row of supported types) so the sanitizers see any read that
// validation let through. Also linked into the gcc-built replay test (gguf_fuzz_replay).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "gguf/gguf.h"
#include "quant/quant.h"

namespace {

// Results are folded into this so the reads cannot be optimised away.
volatile size_t g_sink;

void touch_value(const latent::gguf::Value& v, size_t& sink) {
  sink += v.to_display_string(4).size();
  try { sink += v.as_uint(); } catch (const latent::gguf::Error&) {}
  try { sink += static_cast<size_t>(v.as_int()); } catch (const latent::gguf::Error&) {}
  try { sink += static_cast<size_t>(v.as_float() != 0); } catch (const latent::gguf::Error&) {}
  try { sink += v.as_bool(); } catch (const latent::gguf::Error&) {}
  try { sink += v.as_string().size(); } catch (const latent::gguf::Error&) {}
  if (!v.is_array()) return;
  try {
    for (auto s : v.as_string_array()) sink += s.empty() ? 0 : static_cast<unsigned char>(s.back());
  } catch (const latent::gguf::Error&) {}
  try { sink += v.as_int_array().size(); } catch (const latent::gguf::Error&) {}
  try { sink += v.as_float_array().size(); } catch (const latent::gguf::Error&) {}
  try {
    for (const auto& item : v.array_items()) touch_value(item, sink);
  } catch (const latent::gguf::Error&) {}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Real files are mapped page-aligned; libFuzzer's buffer has no alignment, so copy into
  // heap words (16-byte aligned), more than any tensor type needs.
  std::vector<uint64_t> owned(size / 8 + 1);
  if (size) std::memcpy(owned.data(), data, size);
  size_t sink = 0;
  try {
    auto f = latent::gguf::File::from_memory({reinterpret_cast<const uint8_t*>(owned.data()), size});
    for (const auto& [key, value] : f.metadata()) {
      sink += key.size();
      touch_value(value, sink);
      if (f.find(key) != &value) __builtin_trap();
    }
    for (const auto& t : f.tensors()) {
      if (f.find_tensor(t.name) != &t) __builtin_trap();
      sink += t.data[0] + t.data[t.n_bytes - 1];
      sink += static_cast<size_t>(t.n_elements()) + t.row_bytes();
      const int64_t n = t.ne[0];
      if (latent::quant::is_supported(t.type) && t.type != latent::gguf::TensorType::Q8_1 &&
          t.type != latent::gguf::TensorType::Q8_K && n <= (int64_t(1) << 16)) {
        std::vector<float> row(static_cast<size_t>(n));
        latent::quant::dequantize_row(t.type, t.data, row.data(), n);
        std::vector<uint8_t> act(latent::quant::activation_row_bytes(t.type, n));
        latent::quant::quantize_activations(t.type, row.data(), act.data(), n);
        float out[2];
        latent::quant::vec_dot_rows(t.type, n, t.data, t.row_bytes(), t.n_rows() >= 2 ? 2 : 1, act.data(), out);
        sink += static_cast<size_t>(out[0] == out[0]);
      }
    }
  } catch (const latent::gguf::Error&) {
  }
  g_sink = sink;
  return 0;
}
