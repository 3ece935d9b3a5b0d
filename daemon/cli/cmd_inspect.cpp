// `latent inspect FILE.gguf [--json]`: what a GGUF file holds, readable like llama.cpp's
// gguf-dump: architecture and its hyperparameters, a tokenizer summary, the remaining metadata,
// a tensor table and totals per type. Only the header is read (the file is mapped, tensor data
// is never touched), so it is instant even for multi-hundred-GB models.
#include <cstdio>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/bench_util.h"
#include "cli/command.h"
#include "gguf/gguf.h"

namespace latent::cli {
namespace {

using gguf::Value;
using gguf::ValueType;

// llama.cpp's token types (llama_token_type / gguf tokenizer.ggml.token_type).
constexpr int64_t kTokenNormal = 1, kTokenControl = 3, kTokenUserDefined = 4;

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  return format_fixed(b, u == 0 ? 0 : 2) + " " + units[u];
}

std::string shape_string(const std::vector<int64_t>& ne) {
  std::string s = "{";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "}";
}

nlohmann::json value_json(const Value& v) {
  switch (v.type()) {
    case ValueType::STRING: return std::string(v.as_string());
    case ValueType::BOOL: return v.as_bool();
    // The display form is the shortest decimal of the stored width (1e-06 for a float32 1e-6).
    case ValueType::FLOAT32: case ValueType::FLOAT64: return std::stod(v.to_display_string());
    case ValueType::ARRAY: break;
    default: return v.type() == ValueType::UINT64 ? nlohmann::json(v.as_uint()) : nlohmann::json(v.as_int());
  }
  // Small arrays in full; large ones (vocabularies, merges) as type and length.
  if (v.array_size() <= 16 && v.array_type() != ValueType::ARRAY) {
    if (v.array_type() == ValueType::STRING) {
      nlohmann::json a = nlohmann::json::array();
      for (auto s : v.as_string_array()) a.push_back(std::string(s));
      return a;
    }
    if (v.array_type() == ValueType::FLOAT32 || v.array_type() == ValueType::FLOAT64) return v.as_float_array();
    if (v.array_type() != ValueType::UINT64) return v.as_int_array();
  }
  return {{"array_type", std::string(gguf::value_type_name(v.array_type()))}, {"length", v.array_size()}};
}

struct TokenizerSummary {
  std::string model, pre;
  uint64_t vocab = 0, merges = 0, special = 0, control = 0, user_defined = 0;
  std::optional<uint64_t> bos, eos, pad;
  std::string bos_text, eos_text;
  bool chat_template = false;
  size_t chat_template_chars = 0;
};

TokenizerSummary summarize_tokenizer(const gguf::File& f) {
  TokenizerSummary t;
  t.model = std::string(f.get_string("tokenizer.ggml.model").value_or(""));
  t.pre = std::string(f.get_string("tokenizer.ggml.pre").value_or(""));
  std::vector<std::string_view> tokens;
  if (const Value* v = f.find("tokenizer.ggml.tokens")) tokens = v->as_string_array();
  t.vocab = tokens.size();
  if (const Value* v = f.find("tokenizer.ggml.merges")) t.merges = v->array_size();
  if (const Value* v = f.find("tokenizer.ggml.token_type")) {
    for (int64_t type : v->as_int_array()) {
      t.special += type != kTokenNormal;
      t.control += type == kTokenControl;
      t.user_defined += type == kTokenUserDefined;
    }
  }
  t.bos = f.get_uint("tokenizer.ggml.bos_token_id");
  t.eos = f.get_uint("tokenizer.ggml.eos_token_id");
  t.pad = f.get_uint("tokenizer.ggml.padding_token_id");
  if (t.bos && *t.bos < tokens.size()) t.bos_text = std::string(tokens[*t.bos]);
  if (t.eos && *t.eos < tokens.size()) t.eos_text = std::string(tokens[*t.eos]);
  if (auto tmpl = f.get_string("tokenizer.chat_template")) {
    t.chat_template = true;
    t.chat_template_chars = tmpl->size();
  }
  return t;
}

// llama.cpp's llama_ftype numbering of general.file_type (the preset llama-quantize applied).
const char* file_type_name(int64_t ft) {
  switch (ft) {
    case 0: return "all F32";
    case 1: return "mostly F16";
    case 2: return "mostly Q4_0";
    case 3: return "mostly Q4_1";
    case 7: return "mostly Q8_0";
    case 8: return "mostly Q5_0";
    case 9: return "mostly Q5_1";
    case 10: return "mostly Q2_K";
    case 11: return "mostly Q3_K_S";
    case 12: return "mostly Q3_K_M";
    case 13: return "mostly Q3_K_L";
    case 14: return "mostly Q4_K_S";
    case 15: return "mostly Q4_K_M";
    case 16: return "mostly Q5_K_S";
    case 17: return "mostly Q5_K_M";
    case 18: return "mostly Q6_K";
    case 32: return "mostly BF16";
    default: return nullptr;
  }
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Tokenizer keys summarised above instead of dumped.
bool is_summarised_tokenizer_key(std::string_view k) {
  return k == "tokenizer.ggml.tokens" || k == "tokenizer.ggml.merges" || k == "tokenizer.ggml.token_type" ||
         k == "tokenizer.ggml.scores" || k == "tokenizer.chat_template";
}

int run_inspect(const ParsedArgs& args) {
  if (args.positional().size() != 1) throw UsageError("give exactly one GGUF file");
  const std::string path = args.positional()[0];
  auto f = gguf::File::open(path);
  const std::string arch = std::string(f.get_string("general.architecture").value_or(""));
  const std::string arch_prefix = arch.empty() ? std::string("\x01") : arch + ".";
  const auto tok = summarize_tokenizer(f);

  struct TypeTotal {
    uint64_t tensors = 0, elements = 0, bytes = 0;
  };
  std::map<std::string, TypeTotal> by_type;
  uint64_t total_elements = 0, total_bytes = 0;
  for (const auto& t : f.tensors()) {
    auto& tt = by_type[std::string(gguf::type_name(t.type))];
    ++tt.tensors;
    tt.elements += static_cast<uint64_t>(t.n_elements());
    tt.bytes += t.n_bytes;
    total_elements += static_cast<uint64_t>(t.n_elements());
    total_bytes += t.n_bytes;
  }

  if (args.has("json")) {
    nlohmann::json j;
    j["file"] = path;
    j["version"] = f.version();
    j["alignment"] = f.alignment();
    j["size_bytes"] = f.bytes().size();
    j["architecture"] = arch;
    nlohmann::json hp = nlohmann::json::object(), meta = nlohmann::json::object();
    for (const auto& [k, v] : f.metadata()) {
      if (starts_with(k, arch_prefix)) hp[k.substr(arch_prefix.size())] = value_json(v);
      else if (!is_summarised_tokenizer_key(k)) meta[k] = value_json(v);
    }
    j["hyperparameters"] = hp;
    j["tokenizer"] = {{"model", tok.model},     {"pre", tok.pre},           {"vocab_size", tok.vocab},
                      {"merges", tok.merges},   {"special_tokens", tok.special},
                      {"control_tokens", tok.control}, {"user_defined_tokens", tok.user_defined},
                      {"has_chat_template", tok.chat_template}};
    if (tok.bos) j["tokenizer"]["bos_token_id"] = *tok.bos;
    if (tok.eos) j["tokenizer"]["eos_token_id"] = *tok.eos;
    if (tok.pad) j["tokenizer"]["padding_token_id"] = *tok.pad;
    j["metadata"] = meta;
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : f.tensors())
      tensors.push_back({{"name", t.name}, {"type", std::string(gguf::type_name(t.type))}, {"ne", t.ne},
                         {"bytes", t.n_bytes}, {"offset", t.offset}});
    j["tensors"] = tensors;
    nlohmann::json bt = nlohmann::json::object();
    for (const auto& [name, tt] : by_type) bt[name] = {{"tensors", tt.tensors}, {"elements", tt.elements}, {"bytes", tt.bytes}};
    j["totals"] = {{"tensors", f.tensors().size()}, {"elements", total_elements}, {"bytes", total_bytes}, {"by_type", bt}};
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }

  std::printf("%s: GGUF v%u, %s, alignment %zu, %zu metadata keys, %zu tensors\n", path.c_str(), f.version(),
              human_bytes(static_cast<double>(f.bytes().size())).c_str(), f.alignment(), f.metadata().size(),
              f.tensors().size());
  std::printf("architecture: %s", arch.empty() ? "(none)" : arch.c_str());
  if (auto name = f.get_string("general.name")) std::printf("   name: %.*s", static_cast<int>(name->size()), name->data());
  std::printf("\n");

  if (!arch.empty()) {
    std::printf("\nhyperparameters (%s.*):\n", arch.c_str());
    for (const auto& [k, v] : f.metadata())
      if (starts_with(k, arch_prefix))
        std::printf("  %-42s %s\n", k.substr(arch_prefix.size()).c_str(), v.to_display_string().c_str());
  }

  if (tok.vocab || !tok.model.empty()) {
    std::printf("\ntokenizer:\n");
    std::printf("  %-42s %s\n", "model", tok.model.c_str());
    std::printf("  %-42s %s\n", "pre-tokenizer", tok.pre.empty() ? "(default)" : tok.pre.c_str());
    std::printf("  %-42s %llu (merges %llu)\n", "vocabulary", static_cast<unsigned long long>(tok.vocab),
                static_cast<unsigned long long>(tok.merges));
    auto id_line = [](const char* label, const std::optional<uint64_t>& id, const std::string& text) {
      if (!id) return;
      std::string shown = text.empty() ? "" : "  '" + text + "'";
      std::printf("  %-42s %llu%s\n", label, static_cast<unsigned long long>(*id), shown.c_str());
    };
    id_line("bos token", tok.bos, tok.bos_text);
    id_line("eos token", tok.eos, tok.eos_text);
    id_line("padding token", tok.pad, "");
    std::printf("  %-42s %llu (control %llu, user-defined %llu)\n", "special tokens",
                static_cast<unsigned long long>(tok.special), static_cast<unsigned long long>(tok.control),
                static_cast<unsigned long long>(tok.user_defined));
    std::printf("  %-42s %s\n", "chat template",
                tok.chat_template ? ("yes (" + std::to_string(tok.chat_template_chars) + " chars)").c_str() : "no");
  }

  bool header = false;
  for (const auto& [k, v] : f.metadata()) {
    if (starts_with(k, arch_prefix) || is_summarised_tokenizer_key(k)) continue;
    if (!header) std::printf("\nother metadata:\n"), header = true;
    std::string shown = v.to_display_string();
    if (k == "general.file_type" && v.is_integer())
      if (const char* ft = file_type_name(v.as_int())) shown += std::string(" (") + ft + ")";
    std::printf("  %-42s %s\n", k.c_str(), shown.c_str());
  }

  if (!f.tensors().empty()) {
    std::printf("\ntensors:\n");
    Table table({"#", "name", "type", "shape", "elements", "bytes"});
    size_t i = 0;
    for (const auto& t : f.tensors())
      table.add({std::to_string(i++), t.name, std::string(gguf::type_name(t.type)), shape_string(t.ne),
                 std::to_string(t.n_elements()), std::to_string(t.n_bytes)});
    std::fputs(table.render().c_str(), stdout);

    std::printf("\ntotals:\n");
    Table totals({"type", "tensors", "elements", "bytes", "size", "bits/weight"});
    for (const auto& [name, tt] : by_type)
      totals.add({name, std::to_string(tt.tensors), std::to_string(tt.elements), std::to_string(tt.bytes),
                  human_bytes(static_cast<double>(tt.bytes)),
                  format_fixed(8.0 * static_cast<double>(tt.bytes) / static_cast<double>(tt.elements), 2)});
    totals.add({"all", std::to_string(f.tensors().size()), std::to_string(total_elements), std::to_string(total_bytes),
                human_bytes(static_cast<double>(total_bytes)),
                format_fixed(8.0 * static_cast<double>(total_bytes) / static_cast<double>(total_elements), 2)});
    std::fputs(totals.render().c_str(), stdout);
  }
  return 0;
}

}  // namespace

Command inspect_command() {
  Command c;
  c.name = "inspect";
  c.summary = "show a GGUF file's architecture, hyperparameters, tokenizer and tensors";
  c.synopsis = "FILE.gguf [--json]";
  c.details =
      "Reads only the header (validated: a malformed file is reported with the offending key or\n"
      "tensor). Token texts are shown as stored, e.g. 'Ġ' for a leading space in byte-level BPE.\n";
  c.options = {{"json", "", "print one JSON object instead of tables"}};
  c.run = run_inspect;
  return c;
}

}  // namespace latent::cli
