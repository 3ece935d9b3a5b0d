// Hugging Face tokenizer.json (+ tokenizer_config.json, config.json) -> Vocab, deciding token
// types and special ids as llama.cpp's convert_hf_to_gguf.py (get_vocab_base,
// does_token_look_special) and gguf-py's SpecialVocab do.
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"

namespace latent::tokenizer {
namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open for reading");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path.string() + ": not valid JSON: " + e.what());
  }
}

// convert_hf_to_gguf.py: added tokens that ought to be control tokens even when not marked special.
bool looks_special(const std::string& t) {
  const auto starts = [&](std::string_view p) { return t.rfind(p, 0) == 0; };
  const auto ends = [&](std::string_view s) {
    return t.size() >= s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0;
  };
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (starts("<|") && ends("|>")) return true;
  if (starts("<｜") && ends("｜>")) return true;
  if (starts("<unused") && ends(">")) return true;
  return false;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

// Regex text as written in tokenizer.json may escape CR/LF (\r, \n) where llama.cpp's copy has
// the characters themselves; both mean the same to a regex engine.
std::string normalize_regex(std::string r) {
  return replace_all(replace_all(std::move(r), "\\r", "\r"), "\\n", "\n");
}

std::string pre_from_tokenizer_json(const json& pre, const std::string& source) {
  std::vector<std::string> regexes;
  const auto collect = [&](const json& node) {
    const std::string type = node.value("type", "");
    if (type == "Split") {
      // llama.cpp keeps both the matches and the text between them: "Isolated", not inverted.
      const std::string behavior = node.value("behavior", "Isolated");
      if (behavior != "Isolated" || node.value("invert", false)) {
        regexes.push_back("<Split " + behavior + (node.value("invert", false) ? " inverted" : "") + ">");
        return;
      }
      const json& pattern = node.at("pattern");
      if (pattern.contains("Regex")) regexes.push_back(normalize_regex(pattern["Regex"].get<std::string>()));
      else if (pattern.contains("String")) regexes.push_back(pattern["String"].get<std::string>());
    } else if (type == "ByteLevel") {
      // Without its own regex ByteLevel only maps bytes to characters; it splits nothing.
      if (node.value("use_regex", true)) regexes.push_back("<ByteLevel with the GPT-2 regex>");
    } else {
      regexes.push_back("<" + type + ">");
    }
  };
  if (pre.is_null()) throw Error(source + ": no pre_tokenizer; only DeepSeek's byte-level BPE is supported");
  if (pre.value("type", "") == "Sequence") {
    for (const auto& p : pre.at("pretokenizers")) collect(p);
  } else {
    collect(pre);
  }
  for (const auto& name : PreTokenizer::supported_names()) {
    auto expected = PreTokenizer::regexes(name);
    for (auto& r : expected) r = normalize_regex(r);
    if (expected == regexes) return name;
  }
  std::string shown;
  for (const auto& r : regexes) shown += (shown.empty() ? "" : ", ") + ("'" + r + "'");
  std::string names;
  for (const auto& n : PreTokenizer::supported_names()) names += (names.empty() ? "" : ", ") + n;
  throw Error(source + ": pre-tokenizer splits [" + shown + "] match none of the supported ones (" + names + ")");
}

std::string token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content")) return j["content"].get<std::string>();
  return {};
}

}  // namespace

Vocab load_hf_tokenizer_json(const std::filesystem::path& path) {
  const std::string source = path.string();
  const json tok = read_json(path);
  Vocab v;
  try {
    const json& model = tok.at("model");
    if (model.value("type", "BPE") != "BPE") {
      throw Error(source + ": model type '" + model.value("type", "") + "' is not BPE");
    }
    v.model = "gpt2";
    v.pre = pre_from_tokenizer_json(tok.value("pre_tokenizer", json()), source);

    std::map<int64_t, std::string> by_id;
    for (const auto& [text, id] : model.at("vocab").items()) by_id[id.get<int64_t>()] = text;
    struct Added {
      std::string content;
      bool special;
    };
    std::map<int64_t, Added> added;
    if (tok.contains("added_tokens")) {
      for (const auto& a : tok["added_tokens"])
        added[a.at("id").get<int64_t>()] = {a.at("content").get<std::string>(), a.value("special", false)};
    }
    int64_t size = 0;
    if (!by_id.empty()) size = std::max(size, by_id.rbegin()->first + 1);
    if (!added.empty()) size = std::max(size, added.rbegin()->first + 1);
    const auto dir = path.parent_path();
    json config;
    if (std::filesystem::exists(dir / "config.json")) config = read_json(dir / "config.json");
    if (config.contains("vocab_size") && config["vocab_size"].is_number_integer())
      size = std::max<int64_t>(size, config["vocab_size"].get<int64_t>());
    if (size <= 0 || (!by_id.empty() && by_id.begin()->first < 0)) throw Error(source + ": empty or invalid model.vocab");

    v.tokens.resize(size);
    v.types.resize(size);
    for (int64_t i = 0; i < size; ++i) {
      if (auto a = added.find(i); a != added.end()) {
        if (a->second.special || looks_special(a->second.content)) {
          v.tokens[i] = a->second.content;
          v.types[i] = TokenType::control;
        } else {
          v.tokens[i] = replace_all(a->second.content, "▁", " ");
          v.types[i] = TokenType::user_defined;
        }
      } else if (auto t = by_id.find(i); t != by_id.end()) {
        v.tokens[i] = t->second;
        v.types[i] = TokenType::normal;
      } else {
        v.tokens[i] = "[PAD" + std::to_string(i) + "]";
        v.types[i] = TokenType::unused;
      }
    }

    for (const auto& m : model.at("merges")) {
      if (m.is_string()) {
        v.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2) {
        // gguf-py joins pairs with a space, spelling spaces inside a part as U+0120.
        std::string joined;
        for (int k = 0; k < 2; ++k) {
          if (k) joined += ' ';
          joined += replace_all(m[k].get<std::string>(), " ", "Ġ");
        }
        v.merges.push_back(std::move(joined));
      } else {
        throw Error(source + ": model.merges entry " + m.dump() + " is neither \"a b\" nor [\"a\", \"b\"]");
      }
    }

    json tcfg;
    if (std::filesystem::exists(dir / "tokenizer_config.json")) tcfg = read_json(dir / "tokenizer_config.json");
    const auto find = [&](const std::string& text) -> int32_t {
      if (text.empty()) return kNoToken;
      for (const auto& [id, a] : added)
        if (a.content == text) return static_cast<int32_t>(id);
      for (int64_t i = 0; i < size; ++i)
        if (v.tokens[i] == text) return static_cast<int32_t>(i);
      return kNoToken;
    };
    const auto special_id = [&](const char* name) -> int32_t {
      if (tcfg.is_object() && tcfg.contains(std::string(name) + "_token")) {
        const int32_t id = find(token_content(tcfg[std::string(name) + "_token"]));
        if (id != kNoToken) return id;
      }
      const std::string key = std::string(name) + "_token_id";
      if (config.is_object() && config.contains(key) && config[key].is_number_integer()) {
        const int64_t id = config[key].get<int64_t>();
        if (id >= 0 && id < size) return static_cast<int32_t>(id);
      }
      return kNoToken;
    };
    v.bos_id = special_id("bos");
    v.eos_id = special_id("eos");
    v.unk_id = special_id("unk");
    v.pad_id = special_id("pad");
    if (tcfg.is_object()) {
      if (tcfg.contains("add_bos_token") && tcfg["add_bos_token"].is_boolean()) v.add_bos = tcfg["add_bos_token"].get<bool>();
      if (tcfg.contains("add_eos_token") && tcfg["add_eos_token"].is_boolean()) v.add_eos = tcfg["add_eos_token"].get<bool>();
      if (tcfg.contains("chat_template")) {
        const json& t = tcfg["chat_template"];
        if (t.is_string()) {
          v.chat_template = t.get<std::string>();
        } else if (t.is_array()) {
          for (const auto& e : t)
            if (e.value("name", "") == "default") v.chat_template = e.value("template", "");
        }
      }
    }
    if (v.chat_template.empty() && std::filesystem::exists(dir / "chat_template.jinja")) {
      std::ifstream in(dir / "chat_template.jinja", std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      v.chat_template = ss.str();
    }
  } catch (const json::exception& e) {
    throw Error(source + ": unexpected tokenizer.json layout: " + e.what());
  }
  validate_vocab(v, source);
  return v;
}

}  // namespace latent::tokenizer
