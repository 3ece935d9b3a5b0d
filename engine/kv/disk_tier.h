// The disk tier of the latent KV store: evicted pages (and, at shutdown, live ones) kept as one
// file per page under <cache dir>/<namespace>/, so a restarted process or another process on
// this machine reuses them. The namespace hashes the model fingerprint, the page format and the
// file-format version: a cache written for another model or format is never read.
//
// Every file is written atomically (temporary file, fsync, rename) and carries checksums of its
// header and payload; a corrupt or truncated page is deleted and reported as missing, so the
// caller recomputes it. A quota bounds the tier; least recently used files go first.
// Not thread-safe: the store calls it from the engine's scheduler thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <unordered_map>

namespace latent::kv {

struct PageFormat {
  uint32_t element_type = 0;  // gguf::TensorType of the latent rows
  uint32_t rows_per_page = 0;
  uint32_t n_layer = 0;
  uint32_t width = 0;
  uint64_t page_bytes = 0;
};

struct DiskStats {
  int64_t files = 0;
  uint64_t bytes = 0;
  int64_t writes = 0;
  int64_t reads = 0;
  int64_t corrupt_dropped = 0;
  int64_t quota_evictions = 0;
  int64_t write_failures = 0;
};

class DiskTier {
 public:
  // Scans the namespace directory (creating it); stray temporary files are removed.
  DiskTier(const std::filesystem::path& root, uint64_t fingerprint, const PageFormat& format, uint64_t quota_bytes);

  bool contains(uint64_t key) const { return index_.count(key) > 0; }
  // Returns false when the page could not be written (disk full, permissions): the cache stays
  // correct, only the page is not persisted; last_error() says why.
  bool store(uint64_t key, uint64_t parent_key, std::span<const int32_t> tokens, const void* payload);
  // Reads and verifies a page into payload (format.page_bytes bytes). False when absent or when
  // the file does not verify (then it is deleted).
  bool load(uint64_t key, uint64_t parent_key, std::span<const int32_t> tokens, void* payload);

  const std::filesystem::path& directory() const { return dir_; }
  const DiskStats& stats() const { return stats_; }
  const std::string& last_error() const { return last_error_; }

 private:
  struct Entry {
    uint64_t bytes = 0;
    uint64_t last_use = 0;
  };
  std::filesystem::path file_of(uint64_t key) const;
  void drop(uint64_t key);
  void enforce_quota();

  std::filesystem::path dir_;
  uint64_t namespace_ = 0;
  PageFormat format_;
  uint64_t quota_;
  std::unordered_map<uint64_t, Entry> index_;
  uint64_t tick_ = 0;
  DiskStats stats_;
  std::string last_error_;
};

// $XDG_CACHE_HOME/latent/kv, else ~/.cache/latent/kv.
std::filesystem::path default_cache_dir();

}  // namespace latent::kv
