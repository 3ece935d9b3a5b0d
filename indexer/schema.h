// The index database's schema: its version, how a database from an older version is rebuilt
// (dropped and created afresh: an index is derived data), the secondary indexes a cold bulk
// load builds at its end, and how the writer's connection is configured.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "indexer/sqlite_db.h"

namespace latent::indexer {

// 2: references packed per (name, file); secondary indexes built after a cold bulk load.
inline constexpr int kSchemaVersion = 2;

// Reference kinds are stored as small integers; index = code.
inline constexpr std::string_view kReferenceKinds[] = {
    "use", "call", "type", "class", "implementation", "interface", "send", "module", "variable"};
int64_t reference_kind_code(std::string_view kind);

// Creates the schema, or rebuilds a database of an older version empty (the next run indexes
// the workspace again); refuses databases from a newer version or another program.
void prepare_schema(Connection& db, const std::string& path);

// Index builds cost less in one pass after a bulk load than row by row during it.
void drop_secondary_indexes(Connection& db);
void create_secondary_indexes(Connection& db);

// WAL, synchronous=NORMAL and caches for the one connection that writes.
void configure_writer(Connection& db, uint64_t max_pages);

}  // namespace latent::indexer
