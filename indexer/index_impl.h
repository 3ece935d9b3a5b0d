// Internals of Index shared with the context builder: the writer (writer.h) and the pool of
// read connections.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/index.h"
#include "indexer/sqlite_db.h"
#include "indexer/writer.h"

namespace latent::indexer {

// An FTS5 MATCH expression OR-ing the first `max_terms` distinct identifiers of `text`, each
// quoted (FTS5 splits `snake_case` into a phrase); empty when there are none.
std::string fts_query(std::string_view text, size_t max_terms);

struct Index::Impl {
  IndexOptions options;
  std::string db_path;
  std::unique_ptr<Writer> writer;

  std::mutex pool_mu;
  std::vector<std::unique_ptr<Connection>> pool;

  // A read connection for the caller's exclusive use until the lease ends.
  class Lease {
   public:
    Lease(Impl& impl, std::unique_ptr<Connection> c) : impl_(impl), conn_(std::move(c)) {}
    ~Lease();
    Lease(Lease&&) = default;
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    Impl& impl_;
    std::unique_ptr<Connection> conn_;
  };
  Lease read();

  std::string relative(const std::string& path) const;
};

}  // namespace latent::indexer
