#include "server/indexer_workspace.h"

#include <thread>

#include "indexer/context.h"
#include "indexer/index.h"

namespace latent::daemon {

namespace {

class IndexerWorkspace final : public WorkspaceIndex {
 public:
  explicit IndexerWorkspace(std::unique_ptr<indexer::Index> index) : index_(std::move(index)) {}

  IndexRun index(const std::function<void(const IndexProgress&)>& progress, const std::atomic<bool>* cancel) override {
    indexer::IndexStats s = index_->index_workspace(
        [&](const indexer::Progress& p) {
          if (progress) progress(IndexProgress{p.files_found, p.files_done, p.walk_done});
        },
        cancel);
    IndexRun run;
    run.files_checked = s.files_checked;
    run.files_total = s.files_total;
    run.files_indexed = s.files_indexed;
    run.files_skipped = s.skipped.size();
    run.files_removed = s.files_removed;
    run.problems = s.problems.size();
    run.cancelled = s.cancelled;
    run.seconds = s.seconds;
    return run;
  }

  void update_file(const std::filesystem::path& path) override { index_->update_file(path.string()); }

  std::vector<RetrievedSource> search(std::string_view query, size_t limit) const override {
    std::vector<RetrievedSource> out;
    for (auto& h : index_->search(query, limit))
      out.push_back(RetrievedSource{h.path, h.start_line, h.end_line, h.symbol, h.score, std::move(h.text)});
    return out;
  }

  std::string completion_context(const std::filesystem::path& path, std::string_view content, uint32_t line,
                                 uint32_t column, size_t budget_tokens) const override {
    indexer::ContextRequest req;
    req.path = path.string();
    req.line = line;
    req.column = column;
    req.content = std::string(content);
    req.budget_tokens = budget_tokens;
    req.include_current_file = false;
    return indexer::build_context(*index_, req).text;
  }

  uint64_t file_count() const override { return index_->file_count(); }

 private:
  std::unique_ptr<indexer::Index> index_;
};

}  // namespace

std::unique_ptr<WorkspaceIndex> open_indexer_workspace(const std::filesystem::path& root, TokenCounter count) {
  indexer::IndexOptions o;
  o.root = root;
  if (count) o.count_tokens = count;
  // Parsing shares the machine with the editor and the engine: half the cores at most.
  o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / 2));
  return std::make_unique<IndexerWorkspace>(indexer::Index::open(std::move(o)));
}

}  // namespace latent::daemon
