// Helpers for the indexer tests: a temporary workspace that writes files, and a dump of an
// index database's contents for comparing two databases.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace latent::indexer::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/rel, creating directories.
  void write(const std::string& rel, std::string_view content) const;
  std::string read(const std::string& rel) const;

 private:
  std::filesystem::path path_;
};

// Every file, symbol, reference, import and chunk of the database in a canonical order, one
// per line (row ids left out), so two databases with the same contents dump equally.
std::string dump_index(const std::filesystem::path& database);

// Runs an SQL statement returning one integer.
long long query_int(const std::filesystem::path& database, const std::string& sql);

}  // namespace latent::indexer::testing
