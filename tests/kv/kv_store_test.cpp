// The prefix store against a simulated model: the latent row of position p is a function of
// the whole prefix tokens[0..p] (as in a transformer), so a row read through any sequence's page
// table can be checked against a recomputation from that sequence's own tokens. Sharing bugs,
// stale pages after eviction, and corrupt disk pages all show up as wrong rows.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <map>
#include <random>

#include "backend/backend.h"
#include "common/temp_dir.h"
#include "kv/fingerprint.h"
#include "kv/prefix_store.h"

using namespace latent;
using kv::PrefixStore;
using kv::StoreOptions;

namespace {

constexpr int64_t kLayers = 3, kWidth = 5, kRows = 4;

// Pages in host memory, so the simulation reads and writes rows through plain pointers.
std::vector<model::LayerPlacement> cpu(int64_t layers) {
  static const std::shared_ptr<backend::Backend> be = backend::make_backend("cpu", {});
  return {{be, layers}};
}

float expected_value(uint64_t prefix_hash, int64_t layer, int64_t k) {
  uint64_t h = prefix_hash * 0x9E3779B97F4A7C15ull + uint64_t(layer * 131 + k);
  h ^= h >> 29;
  return float(h % 100003) / 100003.0f;
}

float* f32_row(const backend::LatentRows& rows, int64_t p) { return reinterpret_cast<float*>(rows.row(p)); }

// A sequence as the engine drives it: its tokens, written rows, and the store it lives in.
struct SimSeq {
  model::SeqId id;
  std::vector<int32_t> tokens;
};

uint64_t prefix_hash(const std::vector<int32_t>& t, size_t upto) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i <= upto; ++i) h = (h ^ uint64_t(uint32_t(t[i]))) * 1099511628211ull;
  return h;
}

void write_rows(PrefixStore& store, const SimSeq& s, int64_t from, int64_t to) {
  store.reserve(s.id, to);
  for (int64_t l = 0; l < kLayers; ++l) {
    auto rows = store.rows(s.id, l, to);
    for (int64_t p = from; p < to; ++p) {
      uint64_t h = prefix_hash(s.tokens, size_t(p));
      for (int64_t k = 0; k < kWidth; ++k) f32_row(rows, p)[k] = expected_value(h, l, k);
    }
  }
}

::testing::AssertionResult rows_match(const PrefixStore& store, const SimSeq& s, int64_t n) {
  for (int64_t l = 0; l < kLayers; ++l) {
    auto rows = store.rows(s.id, l, n);
    for (int64_t p = 0; p < n; ++p) {
      uint64_t h = prefix_hash(s.tokens, size_t(p));
      for (int64_t k = 0; k < kWidth; ++k)
        if (f32_row(rows, p)[k] != expected_value(h, l, k))
          return ::testing::AssertionFailure() << "sequence " << s.id << " layer " << l << " row " << p << " is wrong";
    }
  }
  return ::testing::AssertionSuccess();
}

// Starts a request the way the scheduler does: attach the cached prefix (all but the last
// token), compute the rest, publish.
int64_t run_prompt(PrefixStore& store, SimSeq& s) {
  store.add_sequence(s.id);
  std::span<const int32_t> all(s.tokens);
  int64_t cached = store.attach_prefix(s.id, all.first(all.size() - 1));
  write_rows(store, s, cached, int64_t(s.tokens.size()));
  store.publish(s.id, all);
  return cached;
}

StoreOptions options(const std::filesystem::path& dir, int64_t pages) {
  StoreOptions o;
  o.rows_per_page = kRows;
  o.memory_budget_bytes = uint64_t(pages) * kRows * kLayers * kWidth * sizeof(float);
  o.disk = !dir.empty();
  o.disk_dir = dir;
  return o;
}


std::vector<int32_t> random_tokens(std::mt19937& rng, size_t n) {
  std::vector<int32_t> t(n);
  for (auto& x : t) x = int32_t(rng() % 50);
  return t;
}

}  // namespace

TEST(kv_store, shares_a_prefix_without_copy_and_extends_it_privately) {
  PrefixStore store(cpu(kLayers), kWidth, model::CacheType::F32, 7, options({}, 64));
  std::mt19937 rng(1);
  SimSeq a{0, random_tokens(rng, 22)};
  EXPECT_EQ(run_prompt(store, a), 0);
  SimSeq b{1, a.tokens};
  b.tokens.resize(13);
  for (int i = 0; i < 9; ++i) b.tokens.push_back(int32_t(100 + i));
  EXPECT_EQ(run_prompt(store, b), 12);  // pages [0,4) [4,8) [8,12) match; page 3 differs
  EXPECT_EQ(store.rows(0, 0, 12).pages[2], store.rows(1, 0, 12).pages[2]) << "shared pages are not copied";
  EXPECT_TRUE(rows_match(store, a, 22));
  EXPECT_TRUE(rows_match(store, b, 22));
  EXPECT_EQ(store.check_invariants(), "");
}

TEST(kv_store, truncating_into_a_shared_page_copies_it_first) {
  PrefixStore store(cpu(kLayers), kWidth, model::CacheType::F32, 7, options({}, 64));
  std::mt19937 rng(2);
  SimSeq a{0, random_tokens(rng, 16)};
  run_prompt(store, a);
  SimSeq b{1, a.tokens};
  run_prompt(store, b);
  // b edits at position 6: keep 6 rows (inside shared page 1), then new tokens.
  store.truncate(1, 6);
  b.tokens.resize(6);
  for (int i = 0; i < 10; ++i) b.tokens.push_back(int32_t(200 + i));
  write_rows(store, b, 6, 16);
  EXPECT_TRUE(rows_match(store, a, 16)) << "a shared page was written through another sequence";
  EXPECT_TRUE(rows_match(store, b, 16));
  EXPECT_EQ(store.check_invariants(), "");
}

TEST(kv_store, randomized_requests_under_a_tiny_budget_keep_every_invariant) {
  latent::testing::TempDir dir("latent-kv-test");
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> bases;
  for (int i = 0; i < 4; ++i) bases.push_back(random_tokens(rng, 40));
  PrefixStore store(cpu(kLayers), kWidth, model::CacheType::F32, 11, options(dir.path(), 40));
  std::map<model::SeqId, SimSeq> live;
  model::SeqId next = 0;
  int64_t reused = 0;
  for (int step = 0; step < 600; ++step) {
    const int op = int(rng() % 10);
    if (op < 5 && live.size() < 4) {
      SimSeq s{next++, bases[rng() % bases.size()]};
      size_t edit = 1 + rng() % (s.tokens.size() - 1);
      s.tokens.resize(edit + rng() % 8);
      for (size_t i = edit; i < s.tokens.size(); ++i) s.tokens[i] = int32_t(rng() % 50);
      if (s.tokens.size() < 2) s.tokens.push_back(1);
      try {
        reused += run_prompt(store, s);
        live.emplace(s.id, s);
      } catch (const model::Error&) {
        // The budget can be full of live pages; the request fails cleanly.
        store.remove_sequence(s.id);
      }
    } else if (op < 7 && !live.empty()) {
      auto it = std::next(live.begin(), long(rng() % live.size()));
      SimSeq& s = it->second;
      int64_t keep = int64_t(rng() % s.tokens.size());
      store.truncate(s.id, keep);
      s.tokens.resize(size_t(keep));
      for (int i = 0; i < 5; ++i) s.tokens.push_back(int32_t(rng() % 50));
      try {
        write_rows(store, s, keep, int64_t(s.tokens.size()));
        store.publish(s.id, s.tokens);
      } catch (const model::Error&) {
        store.remove_sequence(s.id);
        live.erase(it);
      }
    } else if (!live.empty()) {
      auto it = std::next(live.begin(), long(rng() % live.size()));
      store.remove_sequence(it->first);
      live.erase(it);
    }
    ASSERT_EQ(store.check_invariants(), "") << "after step " << step;
    for (const auto& [id, s] : live) ASSERT_TRUE(rows_match(store, s, int64_t(s.tokens.size()))) << "step " << step;
  }
  EXPECT_GT(reused, 0);
  EXPECT_GT(store.stats().evictions, 0) << "the budget should have forced evictions";
}

TEST(kv_store, a_restarted_store_reuses_pages_from_disk) {
  latent::testing::TempDir dir("latent-kv-test");
  std::mt19937 rng(4);
  SimSeq a{0, random_tokens(rng, 30)};
  {
    PrefixStore store(cpu(kLayers), kWidth, model::CacheType::F32, 21, options(dir.path(), 64));
    run_prompt(store, a);
    store.remove_sequence(0);
  }
  PrefixStore store(cpu(kLayers), kWidth, model::CacheType::F32, 21, options(dir.path(), 64));
  SimSeq b{5, a.tokens};
  EXPECT_EQ(run_prompt(store, b), 28);
  EXPECT_EQ(store.stats().hit_rows_disk, 28);
  EXPECT_TRUE(rows_match(store, b, 30));
  EXPECT_EQ(store.check_invariants(), "");
}

TEST(kv_store, corrupt_truncated_or_foreign_pages_are_recomputed) {
  latent::testing::TempDir dir("latent-kv-test");
  std::mt19937 rng(5);
  SimSeq a{0, random_tokens(rng, 30)};
  std::filesystem::path ns;
  {
    PrefixStore store(cpu(kLayers), kWidth, model::CacheType::F32, 31, options(dir.path(), 64));
    run_prompt(store, a);
  }
  std::vector<std::filesystem::path> files;
  for (const auto& d : std::filesystem::directory_iterator(dir.path()))
    for (const auto& f : std::filesystem::directory_iterator(d.path())) files.push_back(f.path());
  ASSERT_EQ(files.size(), 7u);  // 28 of 30 tokens fill 7 pages

  {  // another model's fingerprint: nothing is found
    PrefixStore other(cpu(kLayers), kWidth, model::CacheType::F32, 32, options(dir.path(), 64));
    SimSeq b{0, a.tokens};
    EXPECT_EQ(run_prompt(other, b), 0);
  }
  // Flip one payload byte of one page and truncate another: each is dropped and recomputed.
  std::sort(files.begin(), files.end());
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    f.seekp(-3, std::ios::end);
    c = char(c ^ 0x5a);
    f.write(&c, 1);
  }
  std::filesystem::resize_file(files[1], std::filesystem::file_size(files[1]) - 10);
  PrefixStore store(cpu(kLayers), kWidth, model::CacheType::F32, 31, options(dir.path(), 64));
  SimSeq c{3, a.tokens};
  int64_t cached = run_prompt(store, c);
  EXPECT_LT(cached, 28);
  EXPECT_TRUE(rows_match(store, c, 30)) << "a corrupt page was used";
  EXPECT_GE(store.stats().disk->corrupt_dropped, 1);
  EXPECT_EQ(store.check_invariants(), "");
}

TEST(kv_store, the_disk_quota_keeps_the_tier_bounded) {
  latent::testing::TempDir dir("latent-kv-test");
  StoreOptions o = options(dir.path(), 64);
  const uint64_t page_file = 80 + kRows * 4 + uint64_t(kRows * kLayers * kWidth * sizeof(float));
  o.disk_quota_bytes = page_file * 3;
  std::mt19937 rng(6);
  {
    PrefixStore store(cpu(kLayers), kWidth, model::CacheType::F32, 41, o);
    SimSeq a{0, random_tokens(rng, 40)};
    run_prompt(store, a);
    store.flush();
    EXPECT_LE(store.stats().disk->bytes, o.disk_quota_bytes);
    EXPECT_GT(store.stats().disk->quota_evictions, 0);
  }
}

TEST(kv_store, chain_keys_name_whole_prefixes) {
  std::vector<int32_t> p1{1, 2, 3, 4}, p2{5, 6, 7, 8};
  EXPECT_NE(kv::chain_key(kv::chain_key(0, p1), p2), kv::chain_key(kv::chain_key(0, p2), p2));
  EXPECT_NE(kv::chain_key(1, p1), kv::chain_key(2, p1));
  EXPECT_EQ(kv::chain_key(9, p1), kv::chain_key(9, std::vector<int32_t>{1, 2, 3, 4}));
}

// Pages are sized by the element type: rows of 64 values are 256 bytes in F32, 128 in F16 and
// BF16, and two Q8_0 blocks of 34 bytes; a width Q8_0's blocks of 32 do not divide is refused.
TEST(kv_store, pages_are_sized_by_the_cache_element_type) {
  constexpr int64_t kWide = 64;
  const std::pair<model::CacheType, size_t> expected[] = {
      {model::CacheType::F32, 256}, {model::CacheType::F16, 128}, {model::CacheType::BF16, 128}, {model::CacheType::Q8_0, 68}};
  for (const auto& [type, row_bytes] : expected) {
    StoreOptions o = options({}, 8);
    PrefixStore store(cpu(kLayers), kWide, type, 7, o);
    EXPECT_EQ(store.page_bytes(), row_bytes * kRows * kLayers) << model::cache_type_name(type);
    store.add_sequence(0);
    store.reserve(0, 2 * kRows);
    const auto rows = store.rows(0, 1, 2 * kRows);
    EXPECT_EQ(rows.type, model::cache_tensor_type(type));
    EXPECT_EQ(rows.row_stride, row_bytes);
    EXPECT_EQ(rows.row(kRows + 1) - rows.row(kRows), std::ptrdiff_t(row_bytes)) << "rows of one page are adjacent";
  }
  try {
    PrefixStore store(cpu(kLayers), 5, model::CacheType::Q8_0, 7, options({}, 8));
    FAIL() << "a Q8_0 store accepted rows of 5 values";
  } catch (const model::Error& e) {
    EXPECT_NE(std::string(e.what()).find("q8_0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f16"), std::string::npos) << "the message names a type that works: " << e.what();
  }
}

// Pages written with one element type are never read by a store of another: its bytes would
// decode to garbage. The disk namespace differs, and a page file moved into the other namespace
// fails its header check and is dropped.
TEST(kv_store, a_disk_cache_of_another_element_type_is_never_used) {
  latent::testing::TempDir dir("latent-kv-test");
  std::mt19937 rng(8);
  SimSeq a{0, random_tokens(rng, 30)};
  constexpr int64_t kWide = 64;  // a width every type stores
  auto opts = [&] {
    StoreOptions o = options(dir.path(), 64);
    o.memory_budget_bytes = uint64_t(64) * kRows * kLayers * kWide * sizeof(float);
    return o;
  };
  auto publish_bytes = [&](PrefixStore& store, SimSeq& s) {
    store.add_sequence(s.id);
    std::span<const int32_t> all(s.tokens);
    const int64_t cached = store.attach_prefix(s.id, all.first(all.size() - 1));
    store.reserve(s.id, int64_t(s.tokens.size()));
    for (int64_t l = 0; l < kLayers; ++l) {
      auto rows = store.rows(s.id, l, int64_t(s.tokens.size()));
      for (int64_t p = cached; p < int64_t(s.tokens.size()); ++p)
        std::memset(rows.row(p), int(prefix_hash(s.tokens, size_t(p)) & 0x7f), rows.row_stride);
    }
    store.publish(s.id, all);
    return cached;
  };
  std::filesystem::path f32_dir;
  {
    PrefixStore store(cpu(kLayers), kWide, model::CacheType::F32, 51, opts());
    EXPECT_EQ(publish_bytes(store, a), 0);
  }  // flushed to disk
  for (const auto& d : std::filesystem::directory_iterator(dir.path())) f32_dir = d.path();
  ASSERT_FALSE(f32_dir.empty());
  {
    PrefixStore store(cpu(kLayers), kWide, model::CacheType::F16, 51, opts());
    SimSeq b{1, a.tokens};
    EXPECT_EQ(publish_bytes(store, b), 0) << "an F16 store used pages of an F32 store";
    EXPECT_EQ(store.stats().disk->reads, 0);
  }
  std::vector<std::filesystem::path> dirs;
  for (const auto& d : std::filesystem::directory_iterator(dir.path())) dirs.push_back(d.path());
  ASSERT_EQ(dirs.size(), 2u) << "one namespace per element type";
  const std::filesystem::path f16_dir = dirs[0] == f32_dir ? dirs[1] : dirs[0];
  // Put the F32 pages under the F16 namespace, replacing the F16 store's own files.
  for (const auto& f : std::filesystem::directory_iterator(f16_dir)) std::filesystem::remove(f.path());
  for (const auto& f : std::filesystem::directory_iterator(f32_dir))
    std::filesystem::copy_file(f.path(), f16_dir / f.path().filename());
  {
    PrefixStore store(cpu(kLayers), kWide, model::CacheType::F16, 51, opts());
    SimSeq c{2, a.tokens};
    EXPECT_EQ(publish_bytes(store, c), 0) << "an F32 page file was read by an F16 store";
    EXPECT_GE(store.stats().disk->corrupt_dropped, 1);
  }
  // Control: the F32 store still finds its pages, so the misses above are the type's doing.
  PrefixStore store(cpu(kLayers), kWide, model::CacheType::F32, 51, opts());
  SimSeq d{3, a.tokens};
  EXPECT_EQ(publish_bytes(store, d), 28);
}
