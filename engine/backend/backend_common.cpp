#include <fstream>

#include "backend/backend.h"

namespace latent::backend {

Tensor Tensor::view(std::array<int64_t, 4> ne_, std::array<size_t, 4> nb_, size_t offset,
                    const char* name_) const {
  Tensor t;
  t.type = type;
  t.ne = ne_;
  t.nb = nb_;
  t.data = static_cast<char*>(data) + offset;
  t.name = name_;
  return t;
}

bool Tensor::is_contiguous() const {
  size_t expect = nb[0] * size_t(ne[0] / gguf::type_traits(uint32_t(type))->block_elements);
  for (int i = 1; i < 4; ++i) {
    if (ne[i] > 1 && nb[i] != expect) return false;
    expect *= size_t(ne[i]);
  }
  return true;
}

Tensor make_tensor(TensorType type, std::array<int64_t, 4> ne, void* data, const char* name) {
  Tensor t;
  t.type = type;
  t.ne = ne;
  auto traits = gguf::type_traits(uint32_t(type));
  t.nb[0] = traits->block_bytes;
  t.nb[1] = gguf::row_bytes(type, ne[0]);
  t.nb[2] = t.nb[1] * size_t(ne[1]);
  t.nb[3] = t.nb[2] * size_t(ne[2]);
  t.data = data;
  t.name = name;
  return t;
}

std::string_view op_name(Op op) {
  switch (op) {
    case Op::GetRows: return "get_rows";
    case Op::RmsNorm: return "rms_norm";
    case Op::MulMat: return "mul_mat";
    case Op::MulMatId: return "mul_mat_id";
    case Op::Rope: return "rope";
    case Op::Add: return "add";
    case Op::SwiGlu: return "swiglu";
    case Op::Copy: return "copy";
    case Op::MoeRoute: return "moe_route";
    case Op::MoeCombine: return "moe_combine";
    case Op::StoreLatent: return "store_latent";
    case Op::LoadLatent: return "load_latent";
    case Op::AttentionLatent: return "attention_latent";
    case Op::Attention: return "attention";
    case Op::Argmax: return "argmax";
  }
  return "?";
}

uint64_t host_memory_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return uint64_t(2) << 30;
}

}  // namespace latent::backend
