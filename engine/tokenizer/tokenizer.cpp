// See tokenizer.h. References: llama.cpp src/llama-vocab.cpp (llm_tokenizer_bpe_session,
// tokenizer_st_partition, token_to_piece, the special-token detection in load()).
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <unordered_map>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace latent::tokenizer {
namespace {

// Token attributes as llama.cpp keeps them (a token can gain `control` on top of its type).
enum Attr : uint8_t {
  kAttrUndefined = 0,
  kAttrNormal = 1 << 0,
  kAttrUnknown = 1 << 1,
  kAttrControl = 1 << 2,
  kAttrUserDefined = 1 << 3,
  kAttrUnused = 1 << 4,
  kAttrByte = 1 << 5,
};

uint8_t attr_of(TokenType t) {
  switch (t) {
    case TokenType::normal: return kAttrNormal;
    case TokenType::unknown: return kAttrUnknown;
    case TokenType::control: return kAttrControl;
    case TokenType::user_defined: return kAttrUserDefined;
    case TokenType::unused: return kAttrUnused;
    case TokenType::byte: return kAttrByte;
    default: return kAttrUndefined;
  }
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes
// for U+0100.. in byte order.
struct ByteEncoding {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 0x144> from_cp{};  // -1: not a byte character
  ByteEncoding() {
    from_cp.fill(-1);
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : 256 + n++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteEncoding& byte_encoding() {
  static const ByteEncoding e;
  return e;
}

// Names llama.cpp recognises (llama_vocab::impl::load); each found token also becomes control.
constexpr std::string_view kEotNames[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
constexpr std::string_view kFimPreNames[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                             "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                                             "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSufNames[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                             "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                                             "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMidNames[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                             "<｜fim▁end｜>", "<MID>", "▁<MID>",
                                             "<|code_middle|>", "<|middle|>"};
constexpr std::string_view kFimPadNames[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
constexpr std::string_view kFimRepNames[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepNames[] = {"<|file_sep|>"};
constexpr std::string_view kEogNames[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~["};

// Merge table: (left symbol, right symbol) -> (rank, merged symbol), open addressing.
class MergeTable {
 public:
  struct Entry {
    uint64_t key = kEmpty;
    int32_t rank = 0;
    int32_t result = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Entry{});
    mask_ = cap - 1;
  }
  // Keeps the first insertion of a pair (llama.cpp's bpe_ranks.emplace).
  void insert(int32_t left, int32_t right, int32_t rank, int32_t result) {
    const uint64_t key = make_key(left, right);
    for (size_t i = hash(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return;
      if (slots_[i].key == kEmpty) {
        slots_[i] = {key, rank, result};
        return;
      }
    }
  }
  const Entry* find(int32_t left, int32_t right) const {
    const uint64_t key = make_key(left, right);
    for (size_t i = hash(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i];
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static uint64_t make_key(int32_t l, int32_t r) {
    return (uint64_t(uint32_t(l)) << 32) | uint32_t(r);
  }
  size_t hash(uint64_t key) const { return size_t((key * 0x9E3779B97F4A7C15ull) >> 17) & mask_; }
  std::vector<Entry> slots_;
  size_t mask_ = 0;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// BPE results of recent words. Source code repeats its identifiers, keywords and indentation,
// so most words are found here. One cache per thread and tokenizer (no locking); a tokenizer is
// identified by a process-unique serial number, never by its address, which could be reused.
class WordCache {
 public:
  static constexpr size_t kMaxWords = size_t(1) << 16;
  static constexpr size_t kMaxWordBytes = 48;

  const int32_t* find(std::string_view word, size_t& n) const {
    auto it = index_.find(word);
    if (it == index_.end()) return nullptr;
    n = it->second.second;
    return ids_.data() + it->second.first;
  }
  void insert(std::string_view word, const int32_t* ids, size_t n) {
    if (index_.size() >= kMaxWords) {
      index_.clear();
      ids_.clear();
    }
    index_.emplace(std::string(word), std::make_pair(uint32_t(ids_.size()), uint32_t(n)));
    ids_.insert(ids_.end(), ids, ids + n);
  }

 private:
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StringHash, std::equal_to<>> index_;
  std::vector<int32_t> ids_;
};

std::atomic<uint64_t> g_next_serial{1};

WordCache& word_cache(uint64_t serial) {
  thread_local std::unordered_map<uint64_t, WordCache> caches;
  thread_local uint64_t last_serial = 0;
  thread_local WordCache* last = nullptr;
  if (serial != last_serial) {
    if (!caches.count(serial) && caches.size() >= 4) {
      // Bounded per thread: drop the cache of the oldest tokenizer (likely destroyed by now).
      caches.erase(std::min_element(caches.begin(), caches.end(),
                                    [](const auto& a, const auto& b) { return a.first < b.first; }));
    }
    last = &caches[serial];
    last_serial = serial;
  }
  return *last;
}

}  // namespace

struct Tokenizer::Impl {
  Vocab vocab;
  PreTokenizer pre;
  std::vector<uint8_t> attrs;
  std::unordered_map<std::string, int32_t> text_to_id;  // vocabulary texts
  // BPE symbols: ids below n_vocab are tokens; above are strings that merges produce or consume
  // but the vocabulary lacks (emitted byte by byte at the end, as llama.cpp does).
  std::vector<std::string> symbol_text;
  std::array<int32_t, 256> byte_symbol{};
  MergeTable merges;
  std::vector<std::string> pieces;  // decoded bytes of each token (special tokens rendered)

  // Special tokens, longest first, and a trie over their texts for finding them in text.
  std::vector<int32_t> specials;
  std::vector<int32_t> special_rank;  // by token id: position in `specials`, or -1
  std::unordered_map<uint64_t, int32_t> trie_child;  // (node << 8 | byte) -> node
  std::vector<int32_t> trie_token;                   // node -> token id or -1
  std::array<bool, 256> special_first_byte{};

  int32_t eot = kNoToken, fim_pre = kNoToken, fim_suf = kNoToken, fim_mid = kNoToken;
  std::vector<int32_t> eog;

  const uint64_t serial = g_next_serial.fetch_add(1);

  explicit Impl(Vocab v) : vocab(std::move(v)), pre(vocab.pre) {}

  int32_t n_vocab() const { return static_cast<int32_t>(vocab.tokens.size()); }

  int32_t intern(const std::string& text, std::unordered_map<std::string, int32_t>& extra) {
    if (auto it = text_to_id.find(text); it != text_to_id.end()) return it->second;
    if (auto it = extra.find(text); it != extra.end()) return it->second;
    const int32_t id = static_cast<int32_t>(symbol_text.size());
    symbol_text.push_back(text);
    extra.emplace(text, id);
    return id;
  }

  void build() {
    const int32_t n = n_vocab();
    attrs.resize(n);
    symbol_text.reserve(n + 1024);
    text_to_id.reserve(n * 2);
    for (int32_t i = 0; i < n; ++i) {
      std::string text = vocab.tokens[i];
      // llama.cpp renames empty tokens so that they can never match.
      if (text.empty()) text = "[EMPTY_" + std::to_string(i) + "]";
      if (!text_to_id.emplace(text, i).second) {
        throw Error("duplicate token in vocabulary: '" + text + "' has ids " +
                    std::to_string(text_to_id[text]) + " and " + std::to_string(i));
      }
      symbol_text.push_back(std::move(text));
      attrs[i] = attr_of(vocab.types[i]);
    }

    std::unordered_map<std::string, int32_t> extra;
    const auto& enc = byte_encoding();
    for (int b = 0; b < 256; ++b) {
      std::string s;
      utf8::append(s, enc.to_cp[b]);
      byte_symbol[b] = intern(s, extra);
    }
    merges.reserve(vocab.merges.size());
    for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
      const std::string& m = vocab.merges[rank];
      const size_t space = m.find(' ', 1);
      if (space == std::string::npos) continue;  // llama.cpp keeps it as ("", ""), which never matches
      const std::string left = m.substr(0, space), right = m.substr(space + 1);
      const int32_t l = intern(left, extra), r = intern(right, extra);
      const int32_t result = intern(left + right, extra);
      merges.insert(l, r, static_cast<int32_t>(rank), result);
    }

    detect_special_ids();

    pieces.resize(n);
    for (int32_t i = 0; i < n; ++i) pieces[i] = render(i);

    special_rank.assign(n, -1);
    for (int32_t i = 0; i < n; ++i)
      if (attrs[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) specials.push_back(i);
    // Longest first like llama.cpp; equal lengths by id so the order is deterministic.
    std::stable_sort(specials.begin(), specials.end(), [&](int32_t a, int32_t b) {
      return symbol_text[a].size() > symbol_text[b].size();
    });
    trie_token.push_back(-1);
    for (size_t k = 0; k < specials.size(); ++k) {
      const int32_t id = specials[k];
      special_rank[id] = static_cast<int32_t>(k);
      const std::string& text = symbol_text[id];
      int32_t node = 0;
      for (unsigned char c : text) {
        const uint64_t key = (uint64_t(node) << 8) | c;
        auto it = trie_child.find(key);
        if (it == trie_child.end()) {
          it = trie_child.emplace(key, static_cast<int32_t>(trie_token.size())).first;
          trie_token.push_back(-1);
        }
        node = it->second;
      }
      trie_token[node] = id;
      special_first_byte[static_cast<unsigned char>(text[0])] = true;
    }
  }

  int32_t find_name(std::span<const std::string_view> names) const {
    // llama.cpp walks an unordered map and takes the first hit; vocabularies hold at most one
    // of each list, so the order of `names` decides nothing in practice.
    for (auto name : names)
      if (auto it = text_to_id.find(std::string(name)); it != text_to_id.end()) return it->second;
    return kNoToken;
  }

  void promote(int32_t id) {
    if (id != kNoToken) attrs[id] |= kAttrControl;
  }

  void detect_special_ids() {
    eot = vocab.eot_id;
    if (eot == kNoToken) {
      eot = find_name(kEotNames);
      promote(eot);
    }
    fim_pre = find_name(kFimPreNames);
    fim_suf = find_name(kFimSufNames);
    fim_mid = find_name(kFimMidNames);
    const int32_t fim_pad = find_name(kFimPadNames), fim_rep = find_name(kFimRepNames),
                  fim_sep = find_name(kFimSepNames);
    for (int32_t id : {fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep}) promote(id);
    for (int32_t id : {fim_pad, fim_rep, fim_sep})
      if (id != kNoToken) eog.push_back(id);
    for (auto name : kEogNames) {
      if (auto it = text_to_id.find(std::string(name)); it != text_to_id.end()) {
        eog.push_back(it->second);
        promote(it->second);
      }
    }
    for (int32_t id : {vocab.eos_id, eot})
      if (id != kNoToken) eog.push_back(id);
    std::sort(eog.begin(), eog.end());
    eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  }

  // llama.cpp's token_to_piece for a BPE vocabulary with special = true.
  std::string render(int32_t id) const {
    const uint8_t a = attrs[id];
    const std::string& text = symbol_text[id];
    if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return text;
    if (a & kAttrNormal) {
      std::string out;
      const auto& enc = byte_encoding();
      for (size_t pos = 0; pos < text.size();) {
        const uint32_t cp = utf8::decode(text, pos);
        if (cp < enc.from_cp.size() && enc.from_cp[cp] >= 0) {
          out.push_back(static_cast<char>(enc.from_cp[cp]));
        } else {
          // What llama.cpp's llama_decode_text writes for a character outside the byte alphabet.
          static const char* hex = "0123456789abcdef";
          out += "[UNK_BYTE_0x";
          std::string utf;
          utf8::append(utf, cp);
          for (unsigned char c : utf) {
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
          }
          out += text + "]";
        }
      }
      return out;
    }
    if (a & kAttrByte) {
      // "<0xAB>" byte tokens.
      const auto hex = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      };
      if (text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>' && hex(text[3]) >= 0 && hex(text[4]) >= 0)
        return std::string(1, static_cast<char>(hex(text[3]) * 16 + hex(text[4])));
      throw Error("byte token " + std::to_string(id) + " '" + text + "' is not of the form <0xAB>");
    }
    return {};
  }

  void emit_symbol(int32_t symbol, std::vector<int32_t>& out) const {
    if (symbol < n_vocab()) {
      out.push_back(symbol);
      return;
    }
    // A string the vocabulary lacks: llama.cpp tries each of its bytes as a one-byte token.
    for (char c : symbol_text[symbol]) {
      if (auto it = text_to_id.find(std::string(1, c)); it != text_to_id.end()) out.push_back(it->second);
    }
  }

  struct Bigram {
    int32_t rank;
    int32_t left, right;
    int32_t left_symbol, right_symbol;
    bool operator>(const Bigram& o) const {
      return rank > o.rank || (rank == o.rank && left > o.left);
    }
  };

  void bpe_word(std::string_view word, std::vector<int32_t>& out) const {
    const size_t n = word.size();
    if (n == 1) {
      emit_symbol(byte_symbol[static_cast<unsigned char>(word[0])], out);
      return;
    }
    thread_local std::vector<int32_t> sym, prev, next;
    thread_local std::vector<Bigram> heap;
    sym.resize(n);
    prev.resize(n);
    next.resize(n);
    heap.clear();
    for (size_t i = 0; i < n; ++i) {
      sym[i] = byte_symbol[static_cast<unsigned char>(word[i])];
      prev[i] = static_cast<int32_t>(i) - 1;
      next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
    }
    const auto greater = [](const Bigram& a, const Bigram& b) { return a > b; };
    const auto add = [&](int32_t l, int32_t r) {
      if (l < 0 || r < 0) return;
      if (const auto* m = merges.find(sym[l], sym[r])) {
        heap.push_back({m->rank, l, r, sym[l], sym[r]});
        std::push_heap(heap.begin(), heap.end(), greater);
      }
    };
    for (size_t i = 0; i + 1 < n; ++i) add(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), greater);
      const Bigram b = heap.back();
      heap.pop_back();
      // Stale when either side has merged since (the symbol at that index changed or is gone).
      if (sym[b.left] != b.left_symbol || sym[b.right] != b.right_symbol) continue;
      const auto* m = merges.find(b.left_symbol, b.right_symbol);
      sym[b.left] = m->result;
      sym[b.right] = -1;
      next[b.left] = next[b.right];
      if (next[b.right] >= 0) prev[next[b.right]] = b.left;
      add(prev[b.left], b.left);
      add(b.left, next[b.left]);
    }
    for (int32_t i = 0; i >= 0; i = next[i]) emit_symbol(sym[i], out);
  }

  void encode_text(std::string_view text, std::vector<int32_t>& out) const {
    thread_local std::vector<std::string_view> words;
    thread_local std::string repaired;
    pre.split(text, repaired, words);
    WordCache& cache = word_cache(serial);
    for (const auto& w : words) {
      if (w.size() < 2 || w.size() > WordCache::kMaxWordBytes) {
        bpe_word(w, out);
        continue;
      }
      size_t n = 0;
      if (const int32_t* ids = cache.find(w, n)) {
        out.insert(out.end(), ids, ids + n);
        continue;
      }
      const size_t before = out.size();
      bpe_word(w, out);
      cache.insert(w, out.data() + before, out.size() - before);
    }
    if (words.capacity() > (size_t(1) << 20)) {  // not kept after a huge text, see split()
      std::vector<std::string_view>().swap(words);
      std::string().swap(repaired);
    }
  }

  struct Match {
    size_t pos;
    int32_t id;
  };

  // llama.cpp's tokenizer_st_partition: each special token in turn (longest first) takes its
  // leftmost non-overlapping occurrences in the text not yet taken by an earlier one.
  std::vector<Match> find_specials(std::string_view text, bool parse_special) const {
    std::vector<std::pair<int32_t, size_t>> hits;  // (rank, position)
    for (size_t p = 0; p < text.size(); ++p) {
      if (!special_first_byte[static_cast<unsigned char>(text[p])]) continue;
      int32_t node = 0;
      for (size_t q = p; q < text.size(); ++q) {
        auto it = trie_child.find((uint64_t(node) << 8) | static_cast<unsigned char>(text[q]));
        if (it == trie_child.end()) break;
        node = it->second;
        const int32_t id = trie_token[node];
        if (id < 0) continue;
        if (!parse_special && (attrs[id] & (kAttrControl | kAttrUnknown))) continue;
        hits.emplace_back(special_rank[id], p);
      }
    }
    if (hits.empty()) return {};
    std::sort(hits.begin(), hits.end());
    std::vector<uint8_t> taken(text.size(), 0);
    std::vector<Match> matches;
    for (const auto& [rank, p] : hits) {
      const int32_t id = specials[rank];
      const size_t len = symbol_text[id].size();
      if (std::any_of(taken.begin() + p, taken.begin() + p + len, [](uint8_t t) { return t != 0; })) continue;
      std::fill(taken.begin() + p, taken.begin() + p + len, 1);
      matches.push_back({p, id});
    }
    std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) { return a.pos < b.pos; });
    return matches;
  }
};

Tokenizer::Tokenizer(Vocab vocab) {
  validate_vocab(vocab, "vocabulary");
  impl_ = std::make_unique<Impl>(std::move(vocab));
  impl_->build();
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Impl& im = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && im.vocab.add_bos) {
    if (im.vocab.bos_id == kNoToken)
      throw Error("the vocabulary asks for a BOS token (add_bos_token) but has no bos_token_id");
    out.push_back(im.vocab.bos_id);
  }
  size_t pos = 0;
  for (const auto& m : im.find_specials(text, parse_special)) {
    if (m.pos > pos) im.encode_text(text.substr(pos, m.pos - pos), out);
    out.push_back(m.id);
    pos = m.pos + im.symbol_text[m.id].size();
  }
  if (pos < text.size()) im.encode_text(text.substr(pos), out);
  if (add_special && im.vocab.add_eos) {
    if (im.vocab.eos_id == kNoToken)
      throw Error("the vocabulary asks for an EOS token (add_eos_token) but has no eos_token_id");
    out.push_back(im.vocab.eos_id);
  }
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (id < 0 || id >= impl_->n_vocab())
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                std::to_string(impl_->n_vocab()) + ")");
  if (!render_special && (impl_->attrs[id] & (kAttrControl | kAttrUnknown))) return {};
  return impl_->pieces[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  for (int32_t id : ids) out += token_to_piece(id, render_special);
  return out;
}

int32_t Tokenizer::find_token(std::string_view text) const {
  auto it = impl_->text_to_id.find(std::string(text));
  return it == impl_->text_to_id.end() ? kNoToken : it->second;
}

int32_t Tokenizer::n_vocab() const { return impl_->n_vocab(); }

TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || id >= n_vocab()) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
  return impl_->vocab.types[id];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= n_vocab()) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
  return impl_->vocab.tokens[id];
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < n_vocab() && (impl_->attrs[id] & (kAttrControl | kAttrUnknown | kAttrUserDefined));
}

bool Tokenizer::is_control(int32_t id) const {
  return id >= 0 && id < n_vocab() && (impl_->attrs[id] & kAttrControl);
}

int32_t Tokenizer::bos_id() const { return impl_->vocab.bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->vocab.eos_id; }
int32_t Tokenizer::eot_id() const { return impl_->eot; }
int32_t Tokenizer::pad_id() const { return impl_->vocab.pad_id; }
int32_t Tokenizer::fim_prefix_id() const { return impl_->fim_pre; }
int32_t Tokenizer::fim_suffix_id() const { return impl_->fim_suf; }
int32_t Tokenizer::fim_middle_id() const { return impl_->fim_mid; }
const std::vector<int32_t>& Tokenizer::eog_ids() const { return impl_->eog; }
bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(impl_->eog.begin(), impl_->eog.end(), id);
}
bool Tokenizer::add_bos() const { return impl_->vocab.add_bos; }
const Vocab& Tokenizer::vocab() const { return impl_->vocab; }
const PreTokenizer& Tokenizer::pre_tokenizer() const { return impl_->pre; }

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool render_special)
    : tokenizer_(&tokenizer), render_special_(render_special) {}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tokenizer_->token_to_piece(id, render_special_);
  const size_t n = utf8::complete_prefix(pending_);
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace latent::tokenizer
