// The one path from a file to what the writer records: read → reject → parse → record. The
// workspace run (serial or on worker threads), single-file updates and editor buffers all go
// through it, so they agree on limits, hashing and what counts as a problem.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "indexer/parse.h"
#include "indexer/walk.h"
#include "indexer/writer.h"

namespace latent::indexer {

struct PipelineOptions {
  std::filesystem::path root;
  ContentLimits limits;
  ParseOptions parse;
};
PipelineOptions pipeline_options(const IndexOptions& options);

struct PreparedFile {
  enum class Outcome {
    record,     // parsed: hand `record` to the writer
    unchanged,  // the content hashes to what the index holds: only the stat data moves
    skipped,    // left out by rule (binary, generated, too large): not a problem to report
    failed,     // could not be read
  };
  Outcome outcome = Outcome::failed;
  // skipped / failed: why; record: a warning about the content (invalid UTF-8), or empty.
  std::string message;
  std::shared_ptr<FileRecord> record;
};

// `size` and `mtime_ns` are the file's stat data; `old_hash` the content hash the index holds
// for it, if any.
PreparedFile prepare_file(const PipelineOptions& options, const std::string& path, uint64_t size,
                          int64_t mtime_ns, std::optional<uint64_t> old_hash);

// The parse → record half for content that is not read from disk (an unsaved buffer).
std::shared_ptr<FileRecord> record_content(const PipelineOptions& options, const std::string& path,
                                           std::string_view content, int64_t mtime_ns, bool from_buffer);

}  // namespace latent::indexer
