#include "kv/disk_tier.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "kv/fingerprint.h"

namespace latent::kv {

namespace {

constexpr char kMagic[8] = {'L', 'A', 'T', 'K', 'V', 'P', 'G', '1'};
constexpr uint32_t kFileVersion = 1;

// Fixed little-endian header; the tokens and then the payload follow it.
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t element_type;
  uint64_t name_space;
  uint64_t key;
  uint64_t parent_key;
  uint32_t rows_per_page;
  uint32_t n_layer;
  uint32_t width;
  uint32_t n_tokens;
  uint64_t payload_bytes;
  uint64_t payload_checksum;
  uint64_t header_checksum;  // of every field above and the tokens
};
static_assert(sizeof(Header) == 80, "page header must have no padding");

uint64_t header_checksum(const Header& h, std::span<const int32_t> tokens) {
  std::vector<char> buf(offsetof(Header, header_checksum) + tokens.size_bytes());
  std::memcpy(buf.data(), &h, offsetof(Header, header_checksum));
  std::memcpy(buf.data() + offsetof(Header, header_checksum), tokens.data(), tokens.size_bytes());
  return checksum(buf.data(), buf.size());
}

bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= size_t(w);
  }
  return true;
}

}  // namespace

std::filesystem::path default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "latent" / "kv";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache" / "latent" / "kv";
  return std::filesystem::temp_directory_path() / "latent-kv";
}

DiskTier::DiskTier(const std::filesystem::path& root, uint64_t fingerprint, const PageFormat& format,
                   uint64_t quota_bytes)
    : format_(format), quota_(quota_bytes) {
  const uint64_t parts[] = {fingerprint, kFileVersion, format.element_type, format.rows_per_page,
                            format.n_layer, format.width, format.page_bytes};
  namespace_ = checksum(parts, sizeof parts);
  dir_ = root / hex64(namespace_);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("latent KV disk cache: cannot create " + dir_.string() + ": " + ec.message());
  // Existing pages enter the LRU order by modification time, oldest first.
  std::vector<std::pair<std::filesystem::file_time_type, uint64_t>> found;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    const auto name = e.path().filename().string();
    if (e.path().extension() == ".tmp") {
      std::filesystem::remove(e.path(), ec);
      continue;
    }
    if (e.path().extension() != ".page" || name.size() != 16 + 5) continue;
    uint64_t key = std::strtoull(name.substr(0, 16).c_str(), nullptr, 16);
    index_[key] = Entry{uint64_t(e.file_size(ec)), 0};
    found.emplace_back(e.last_write_time(ec), key);
  }
  std::sort(found.begin(), found.end());
  for (const auto& [t, key] : found) index_[key].last_use = ++tick_;
  stats_.files = int64_t(index_.size());
  for (const auto& [k, e] : index_) stats_.bytes += e.bytes;
  enforce_quota();
}

std::filesystem::path DiskTier::file_of(uint64_t key) const { return dir_ / (hex64(key) + ".page"); }

void DiskTier::drop(uint64_t key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  std::error_code ec;
  std::filesystem::remove(file_of(key), ec);
  stats_.bytes -= it->second.bytes;
  stats_.files--;
  index_.erase(it);
}

void DiskTier::enforce_quota() {
  while (stats_.bytes > quota_ && !index_.empty()) {
    auto oldest = std::min_element(index_.begin(), index_.end(),
                                   [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
    drop(oldest->first);
    stats_.quota_evictions++;
  }
}

bool DiskTier::store(uint64_t key, uint64_t parent_key, std::span<const int32_t> tokens, const void* payload) {
  if (auto it = index_.find(key); it != index_.end()) {
    it->second.last_use = ++tick_;
    return true;
  }
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kFileVersion;
  h.element_type = format_.element_type;
  h.name_space = namespace_;
  h.key = key;
  h.parent_key = parent_key;
  h.rows_per_page = format_.rows_per_page;
  h.n_layer = format_.n_layer;
  h.width = format_.width;
  h.n_tokens = uint32_t(tokens.size());
  h.payload_bytes = format_.page_bytes;
  h.payload_checksum = checksum(payload, format_.page_bytes);
  h.header_checksum = header_checksum(h, tokens);

  const auto final_path = file_of(key);
  const auto tmp = final_path.string() + "." + std::to_string(::getpid()) + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && write_all(fd, &h, sizeof h) && write_all(fd, tokens.data(), tokens.size_bytes()) &&
            write_all(fd, payload, format_.page_bytes) && ::fsync(fd) == 0;
  const int err = errno;
  if (fd >= 0) ok = (::close(fd) == 0) && ok;
  if (ok && std::rename(tmp.c_str(), final_path.c_str()) != 0) ok = false;
  if (!ok) {
    ::unlink(tmp.c_str());
    last_error_ = "cannot write " + final_path.string() + ": " + std::strerror(err ? err : errno);
    stats_.write_failures++;
    return false;
  }
  const uint64_t bytes = sizeof h + tokens.size_bytes() + format_.page_bytes;
  index_[key] = Entry{bytes, ++tick_};
  stats_.files++;
  stats_.bytes += bytes;
  stats_.writes++;
  enforce_quota();
  return index_.count(key) > 0;
}

bool DiskTier::load(uint64_t key, uint64_t parent_key, std::span<const int32_t> tokens, void* payload) {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  std::ifstream in(file_of(key), std::ios::binary);
  Header h{};
  std::vector<int32_t> file_tokens(tokens.size());
  bool ok = bool(in.read(reinterpret_cast<char*>(&h), sizeof h));
  ok = ok && std::memcmp(h.magic, kMagic, sizeof kMagic) == 0 && h.version == kFileVersion &&
       h.name_space == namespace_ && h.key == key && h.parent_key == parent_key &&
       h.element_type == format_.element_type && h.rows_per_page == format_.rows_per_page &&
       h.n_layer == format_.n_layer && h.width == format_.width && h.n_tokens == tokens.size() &&
       h.payload_bytes == format_.page_bytes;
  ok = ok && bool(in.read(reinterpret_cast<char*>(file_tokens.data()), std::streamsize(tokens.size_bytes())));
  ok = ok && std::equal(file_tokens.begin(), file_tokens.end(), tokens.begin()) &&
       h.header_checksum == header_checksum(h, tokens);
  ok = ok && bool(in.read(static_cast<char*>(payload), std::streamsize(format_.page_bytes)));
  ok = ok && in.peek() == std::char_traits<char>::eof();
  ok = ok && checksum(payload, format_.page_bytes) == h.payload_checksum;
  if (!ok) {
    drop(key);
    stats_.corrupt_dropped++;
    return false;
  }
  it->second.last_use = ++tick_;
  stats_.reads++;
  return true;
}

}  // namespace latent::kv
