// See pretokenizer.h for what is reproduced and why.
#define PCRE2_CODE_UNIT_WIDTH 32
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <atomic>
#include <memory>

#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace latent::tokenizer {
namespace {

// The stand-in bytes of llama.cpp's collapsed text (unicode_regex_split: k_ucat_cpt), plus the
// whitespace stand-in U+000B.
enum Category : uint8_t {
  kUnset = 0,
  kWhitespace = 0x0B,
  kOther = 0xD0,
  kNumber = 0xD1,
  kLetter = 0xD2,
  kPunctuation = 0xD3,
  kMark = 0xD4,
  kSymbol = 0xD5,
};

std::string pcre2_message(int code) {
  PCRE2_UCHAR32 buf[256];
  const int n = pcre2_get_error_message(code, buf, 256);
  std::string out;
  for (int i = 0; i < n; ++i) utf8::append(out, buf[i] < 0x110000 ? buf[i] : '?');
  return out;
}

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
using CodePtr = std::unique_ptr<pcre2_code, CodeDeleter>;

struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
using MatchDataPtr = std::unique_ptr<pcre2_match_data, MatchDataDeleter>;

CodePtr compile(const std::u32string& pattern, uint32_t options, const std::string& shown,
                bool* jit = nullptr) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &error, &error_offset, nullptr);
  if (!code) {
    throw Error("pre-tokenizer regex '" + shown + "' does not compile at offset " +
                std::to_string(error_offset) + ": " + pcre2_message(error));
  }
  // JIT is an optimisation only; the interpreter gives the same results where it is missing.
  const bool compiled = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  if (jit) *jit = compiled;
  return CodePtr(code);
}

std::u32string to_u32(std::string_view s) {
  std::u32string out;
  for (size_t pos = 0; pos < s.size();) out.push_back(utf8::decode(s, pos));
  return out;
}

// The Unicode category of every code point, as the byte llama.cpp collapses it to. Computed with
// PCRE2's Unicode tables on first use of each code point and cached (relaxed atomics: racing
// threads compute and store the same value).
class CategoryTable {
 public:
  static constexpr uint32_t kCodePoints = 0x110000;

  static CategoryTable& instance() {
    static CategoryTable table;
    return table;
  }

  uint8_t get(uint32_t cp) {
    if (cp < 0x80) return static_cast<uint8_t>(cp);
    if (cp >= kCodePoints) return kOther;
    uint8_t c = table_[cp].load(std::memory_order_relaxed);
    if (c == kUnset) {
      c = compute(cp);
      table_[cp].store(c, std::memory_order_relaxed);
    }
    return c;
  }

 private:
  CategoryTable()
      : table_(std::make_unique<std::atomic<uint8_t>[]>(kCodePoints)),
        // Whitespace first: llama.cpp tests its whitespace set (Unicode White_Space) before
        // the general category.
        code_(compile(to_u32("^(?:(\\p{White_Space})|(\\p{N})|(\\p{L})|(\\p{P})|(\\p{M})|(\\p{S}))"),
                      PCRE2_UTF | PCRE2_UCP, "category lookup")) {}

  uint8_t compute(uint32_t cp) {
    // Surrogates are not valid UTF-32 subjects; their category (Cs) is "other" anyway.
    if (cp >= 0xD800 && cp <= 0xDFFF) return kOther;
    static thread_local MatchDataPtr md(pcre2_match_data_create(8, nullptr));
    const uint32_t subject[1] = {cp};
    const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject), 1, 0, 0,
                               md.get(), nullptr);
    if (rc < 2) return kOther;
    static constexpr uint8_t kByGroup[] = {kWhitespace, kNumber, kLetter, kPunctuation, kMark, kSymbol};
    return kByGroup[rc - 2];
  }

  // C++20 value-initialises the atomics: every entry starts as kUnset.
  std::unique_ptr<std::atomic<uint8_t>[]> table_;
  CodePtr code_;
};

// The regex sets of llama.cpp's llm_tokenizer_bpe for the DeepSeek pre-tokenizers (the same
// patterns as the models' tokenizer.json Split pre-tokenizers). "\r\n" here are the control
// characters themselves, as in llama.cpp. Non-ASCII characters are written as universal
// character names: deepseek-llm's letter class has range ends such as U+1F7D, U+1FBE, U+2126 and
// U+212A that Unicode normalisation (NFC) silently turns into other code points in copied text.
std::vector<std::string> regex_set(std::string_view pre) {
  if (pre == "deepseek-coder") {
    return {
        "[\r\n]",
        "\\s?\\p{L}+",
        "\\s?\\p{P}+",
        "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
        "\\p{N}",
    };
  }
  if (pre == "deepseek-llm") {
    return {
        "[\r\n]",
        "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+",
        "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
        "\\s+$",
        "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
        "\\p{N}+",
    };
  }
  if (pre == "deepseek-v3") {
    return {
        "\\p{N}{1,3}",
        "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    };
  }
  return {};
}

struct UnicodeClass {
  std::string_view name;
  uint8_t byte;
  std::string_view ascii;  // the class's ASCII members in std::regex class syntax
};

// llama.cpp's k_ucat_enum / k_ucat_map: what \p{X} becomes in a collapsed regex. '~' is in no
// class there, and we keep it that way.
constexpr UnicodeClass kClasses[] = {
    {"\\p{N}", kNumber, "0-9"},
    {"\\p{L}", kLetter, "A-Za-z"},
    {"\\p{P}", kPunctuation, "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"},
    {"\\p{M}", kMark, ""},
    {"\\p{S}", kSymbol, "\\$\\+<->\\^`\\|"},
    {"\\p{Lu}", kLetter, "A-Za-z"},
    {"\\p{Ll}", kLetter, "A-Za-z"},
    {"\\p{Lt}", kLetter, "A-Za-z"},
    {"\\p{Lm}", kLetter, "A-Za-z"},
    {"\\p{Lo}", kLetter, "A-Za-z"},
};

bool uses_categories(std::string_view regex) {
  for (const auto& c : kClasses)
    if (regex.find(c.name) != std::string_view::npos) return true;
  return false;
}

// Rewrites \p{X} as llama.cpp does: a class holding X's stand-in byte and its ASCII members
// (bracketed unless already inside a class).
std::u32string collapse_regex(std::string_view regex) {
  for (unsigned char ch : regex) {
    if (ch >= 0x80) {
      throw Error("pre-tokenizer regex '" + std::string(regex) +
                  "' mixes Unicode categories and non-ASCII characters, which llama.cpp rejects");
    }
  }
  std::u32string out;
  bool inside = false;
  for (size_t i = 0; i < regex.size(); ++i) {
    if (regex[i] == '[' && (i == 0 || regex[i - 1] != '\\')) {
      out.push_back('[');
      inside = true;
      continue;
    }
    if (inside && regex[i] == ']' && regex[i - 1] != '\\') {
      out.push_back(']');
      inside = false;
      continue;
    }
    if (regex[i] == '\\' && i + 3 < regex.size() && regex[i + 1] == 'p' && regex[i + 2] == '{') {
      const size_t close = regex.find('}', i + 3);
      if (close != std::string_view::npos && close <= i + 10) {
        const std::string_view name = regex.substr(i, close - i + 1);
        const UnicodeClass* cls = nullptr;
        for (const auto& c : kClasses)
          if (c.name == name) cls = &c;
        if (cls) {
          if (!inside) out.push_back('[');
          out.push_back(cls->byte);
          for (char ch : cls->ascii) out.push_back(static_cast<unsigned char>(ch));
          if (!inside) out.push_back(']');
          i = close;
          continue;
        }
      }
    }
    out.push_back(static_cast<unsigned char>(regex[i]));
  }
  return out;
}

struct CompiledRegex {
  CodePtr code;
  bool collapsed = false;
  bool jit = false;  // JIT-compiled: matched with pcre2_jit_match, which skips re-validation
};

}  // namespace

struct PreTokenizer::Impl {
  std::string name;
  std::vector<CompiledRegex> regexes;
  bool any_collapsed = false;
};

PreTokenizer::PreTokenizer(std::string_view pre) : impl_(std::make_unique<Impl>()) {
  const auto set = regex_set(pre);
  if (set.empty()) {
    std::string names;
    for (const auto& n : supported_names()) names += (names.empty() ? "" : ", ") + n;
    throw Error("unsupported pre-tokenizer '" + std::string(pre) + "' (tokenizer.ggml.pre); supported: " + names);
  }
  impl_->name = std::string(pre);
  for (const auto& rx : set) {
    CompiledRegex c;
    c.collapsed = uses_categories(rx);
    // Code units are code points (or category stand-ins), matched without UTF/UCP so that \s,
    // classes and ranges behave like std::regex on the same units. $ only at the very end, as
    // in ECMAScript.
    c.code = compile(c.collapsed ? collapse_regex(rx) : to_u32(rx), PCRE2_DOLLAR_ENDONLY, rx, &c.jit);
    impl_->any_collapsed |= c.collapsed;
    impl_->regexes.push_back(std::move(c));
  }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

const std::string& PreTokenizer::name() const { return impl_->name; }

std::vector<std::string> PreTokenizer::supported_names() {
  return {"deepseek-coder", "deepseek-llm", "deepseek-v3"};
}

std::vector<std::string> PreTokenizer::regexes(std::string_view pre) { return regex_set(pre); }

void PreTokenizer::split(std::string_view text, std::string& repaired,
                         std::vector<std::string_view>& pieces) const {
  pieces.clear();
  if (text.empty()) return;
  // Code points and the byte offset where each starts (of the re-encoded text when the input
  // held invalid UTF-8). Buffers are per thread and reused: this runs once per text fragment.
  thread_local std::u32string cps, collapsed, spaced;
  thread_local std::vector<uint32_t> byte_at, lengths, next;
  cps.clear();
  byte_at.clear();
  bool canonical = true;
  {
    uint32_t offset = 0;
    for (size_t pos = 0; pos < text.size();) {
      const size_t start = pos;
      const uint32_t cp = utf8::decode(text, pos);
      const size_t len = utf8::encoded_length(cp);
      if (len != pos - start || (cp == utf8::kReplacement && text.compare(start, 3, "\xEF\xBF\xBD") != 0))
        canonical = false;
      cps.push_back(cp);
      byte_at.push_back(offset);
      offset += static_cast<uint32_t>(len);
    }
    byte_at.push_back(offset);
  }
  if (!canonical) {
    repaired.clear();
    repaired.reserve(byte_at.back());
    for (uint32_t cp : cps) utf8::append(repaired, cp);
    text = repaired;
  }

  auto& categories = CategoryTable::instance();
  if (impl_->any_collapsed) {
    collapsed.resize(cps.size());
    for (size_t i = 0; i < cps.size(); ++i) collapsed[i] = categories.get(cps[i]);
  }
  spaced = cps;  // code points, non-ASCII whitespace as U+000B
  for (auto& cp : spaced)
    if (cp >= 0x80 && categories.get(cp) == kWhitespace) cp = kWhitespace;

  thread_local MatchDataPtr md(pcre2_match_data_create(1, nullptr));
  lengths.assign(1, static_cast<uint32_t>(cps.size()));
  for (const auto& rx : impl_->regexes) {
    const char32_t* subject = rx.collapsed ? collapsed.data() : spaced.data();
    next.clear();
    size_t start = 0;
    for (uint32_t len : lengths) {
      const auto* chunk = reinterpret_cast<PCRE2_SPTR>(subject + start);
      size_t pos = 0, prev_end = 0;
      while (pos < len) {
        const int rc = rx.jit ? pcre2_jit_match(rx.code.get(), chunk, len, pos, 0, md.get(), nullptr)
                              : pcre2_match(rx.code.get(), chunk, len, pos, 0, md.get(), nullptr);
        if (rc < 0) {
          if (rc != PCRE2_ERROR_NOMATCH) {
            throw Error("pre-tokenizer '" + impl_->name + "': regex match failed: " + pcre2_message(rc));
          }
          break;
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
        const size_t ms = ov[0], me = ov[1];
        if (ms > prev_end) next.push_back(static_cast<uint32_t>(ms - prev_end));
        if (me > ms) next.push_back(static_cast<uint32_t>(me - ms));
        prev_end = me;
        pos = me > ms ? me : me + 1;  // none of the sets can match empty; never loop on one
      }
      if (prev_end < len) next.push_back(static_cast<uint32_t>(len - prev_end));
      start += len;
    }
    lengths.swap(next);
  }

  pieces.reserve(lengths.size());
  size_t cp_pos = 0;
  for (uint32_t len : lengths) {
    const uint32_t b0 = byte_at[cp_pos], b1 = byte_at[cp_pos + len];
    pieces.push_back(text.substr(b0, b1 - b0));
    cp_pos += len;
  }

  // The buffers take ~20 bytes per code point; a daemon thread that once tokenized a huge file
  // should not keep that much memory for good.
  constexpr size_t kKeep = size_t(1) << 20;
  if (cps.capacity() > kKeep) {
    for (auto* b : {&cps, &collapsed, &spaced}) std::u32string().swap(*b);
    for (auto* b : {&byte_at, &lengths, &next}) std::vector<uint32_t>().swap(*b);
  }
}

std::vector<std::string> PreTokenizer::split(std::string_view text) const {
  std::string repaired;
  std::vector<std::string_view> views;
  split(text, repaired, views);
  return {views.begin(), views.end()};
}

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) utf8::append(out, utf8::decode(text, pos));
  return out;
}

}  // namespace latent::tokenizer
