// Vocab <-> GGUF tokenizer metadata, with the keys and value types of llama.cpp
// (llama-vocab.cpp reads them; gguf-py's GGUFWriter.add_token_list/add_token_types/
// add_token_merges/SpecialVocab write them).
#include "gguf/gguf.h"
#include "tokenizer/vocab.h"

namespace latent::tokenizer {
namespace {

constexpr const char* kModel = "tokenizer.ggml.model";
constexpr const char* kPre = "tokenizer.ggml.pre";
constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kTypes = "tokenizer.ggml.token_type";
constexpr const char* kMerges = "tokenizer.ggml.merges";
constexpr const char* kBos = "tokenizer.ggml.bos_token_id";
constexpr const char* kEos = "tokenizer.ggml.eos_token_id";
constexpr const char* kEot = "tokenizer.ggml.eot_token_id";
constexpr const char* kUnk = "tokenizer.ggml.unknown_token_id";
constexpr const char* kPad = "tokenizer.ggml.padding_token_id";
constexpr const char* kAddBos = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddEos = "tokenizer.ggml.add_eos_token";
constexpr const char* kChatTemplate = "tokenizer.chat_template";

}  // namespace

Vocab load_gguf_vocab(const gguf::File& file) {
  const std::string source = file.path().empty() ? std::string("GGUF buffer") : file.path().string();
  Vocab v;
  try {
    const auto model = file.get_string(kModel);
    if (!model) {
      throw Error(source + ": no tokenizer in this file (missing " + std::string(kModel) +
                  "); use a model converted with its vocabulary");
    }
    v.model = std::string(*model);
    if (auto pre = file.get_string(kPre)) v.pre = std::string(*pre);

    const gguf::Value* tokens = file.find(kTokens);
    if (!tokens) throw Error(source + ": missing required key '" + std::string(kTokens) + "'");
    for (auto t : tokens->as_string_array()) v.tokens.emplace_back(t);

    if (const gguf::Value* types = file.find(kTypes)) {
      const auto raw = types->as_int_array();
      if (raw.size() < v.tokens.size()) {
        throw Error(source + ": " + kTypes + " has " + std::to_string(raw.size()) + " entries for " +
                    std::to_string(v.tokens.size()) + " tokens");
      }
      v.types.reserve(v.tokens.size());
      for (size_t i = 0; i < v.tokens.size(); ++i) {
        const int64_t t = raw[i];
        // Unknown values are "undefined" in llama.cpp too.
        v.types.push_back(t >= 0 && t <= 6 ? static_cast<TokenType>(t) : TokenType::undefined);
      }
    } else {
      v.types.assign(v.tokens.size(), TokenType::normal);
    }

    const gguf::Value* merges = file.find(kMerges);
    if (!merges) {
      throw Error(source + ": missing required key '" + std::string(kMerges) +
                  "' (a gpt2 tokenizer needs its BPE merges)");
    }
    for (auto m : merges->as_string_array()) v.merges.emplace_back(m);

    const auto n = static_cast<uint64_t>(v.tokens.size());
    // An id outside the vocabulary is ignored, as llama.cpp does ("bad special token").
    const auto id = [&](const char* key) -> int32_t {
      const auto value = file.get_uint(key);
      return value && *value < n ? static_cast<int32_t>(*value) : kNoToken;
    };
    v.bos_id = id(kBos);
    v.eos_id = id(kEos);
    v.eot_id = id(kEot);
    v.unk_id = id(kUnk);
    v.pad_id = id(kPad);
    v.add_bos = file.get_bool(kAddBos).value_or(false);
    v.add_eos = file.get_bool(kAddEos).value_or(false);
    if (auto t = file.get_string(kChatTemplate)) v.chat_template = std::string(*t);
  } catch (const gguf::Error& e) {
    throw Error(source + ": tokenizer metadata: " + e.what());
  }
  validate_vocab(v, source);
  return v;
}

void write_gguf_vocab(gguf::Writer& w, const Vocab& v) {
  validate_vocab(v, "write_gguf_vocab");
  w.add_string(kModel, v.model);
  w.add_string(kPre, v.pre);
  w.add_string_array(kTokens, v.tokens);
  std::vector<int32_t> types;
  types.reserve(v.types.size());
  for (auto t : v.types) types.push_back(static_cast<int32_t>(t));
  w.add_int32_array(kTypes, std::move(types));
  w.add_string_array(kMerges, v.merges);
  const std::pair<const char*, int32_t> ids[] = {
      {kBos, v.bos_id}, {kEos, v.eos_id}, {kUnk, v.unk_id}, {kPad, v.pad_id}, {kEot, v.eot_id}};
  for (const auto& [key, id] : ids)
    if (id != kNoToken) w.add_uint32(key, static_cast<uint32_t>(id));
  w.add_bool(kAddBos, v.add_bos);
  w.add_bool(kAddEos, v.add_eos);
  if (!v.chat_template.empty()) w.add_string(kChatTemplate, v.chat_template);
}

}  // namespace latent::tokenizer
