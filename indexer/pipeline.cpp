#include "indexer/pipeline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "indexer/language.h"

namespace latent::indexer {

namespace {

uint64_t content_hash(std::string_view s) {
  uint64_t h = 0x243F6A8885A308D3ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  h = (h ^ tail) * 0xBF58476D1CE4E5B9ull;
  h ^= h >> 31;
  return h;
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  // One read into a buffer of the file's size: no stream buffering, no second copy.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    error = std::string("cannot read: ") + std::strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (true) {
    if (got == out.size()) out.resize(out.size() + 4096);  // grew since fstat
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::string("read error: ") + std::strerror(errno);
      close(fd);
      return false;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  out.resize(got);
  return true;
}

std::shared_ptr<FileRecord> make_record(const PipelineOptions& options, const std::string& path,
                                       std::string_view content, uint64_t hash, int64_t mtime_ns,
                                       bool from_buffer) {
  auto rec = std::make_shared<FileRecord>();
  rec->path = path;
  rec->size = content.size();
  rec->mtime_ns = mtime_ns;
  rec->hash = hash;
  rec->from_buffer = from_buffer;
  rec->parsed = parse_source(detect_language(path, content.substr(0, 512)), content, options.parse);
  return rec;
}

}  // namespace

PipelineOptions pipeline_options(const IndexOptions& options) {
  return {options.root, {options.max_file_bytes, options.max_line_bytes},
          {options.chunk_max_tokens, options.count_tokens}};
}

std::shared_ptr<FileRecord> record_content(const PipelineOptions& options, const std::string& path,
                                           std::string_view content, int64_t mtime_ns, bool from_buffer) {
  return make_record(options, path, content, content_hash(content), mtime_ns, from_buffer);
}

PreparedFile prepare_file(const PipelineOptions& options, const std::string& path, uint64_t size,
                          int64_t mtime_ns, std::optional<uint64_t> old_hash) {
  using Outcome = PreparedFile::Outcome;
  if (size > options.limits.max_file_bytes) {
    return {Outcome::skipped,
            "skipped: " + std::to_string(size / 1024) + " KiB is over the file size limit of " +
                std::to_string(options.limits.max_file_bytes / 1024) + " KiB (raise it with --max-file-kb)",
            nullptr};
  }
  std::string content, error;
  if (!read_file((options.root / path).string(), content, error)) return {Outcome::failed, error, nullptr};
  if (auto why = reject_content(path, content, options.limits)) return {Outcome::skipped, *why, nullptr};
  uint64_t hash = content_hash(content);
  if (old_hash && *old_hash == hash) return {Outcome::unchanged, "", nullptr};
  auto rec = make_record(options, path, content, hash, mtime_ns, false);
  std::string warning = rec->parsed.had_invalid_utf8 ? "invalid UTF-8: indexed with replacement characters" : "";
  return {Outcome::record, std::move(warning), std::move(rec)};
}

}  // namespace latent::indexer
