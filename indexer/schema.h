// The index database's schema: its version, the migrations that bring an older database up to
// it, and how the writer's connection is configured.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "indexer/sqlite_db.h"

namespace latent::indexer {

inline constexpr int kSchemaVersion = 1;

// Reference kinds are stored as small integers; index = code.
inline constexpr std::string_view kReferenceKinds[] = {
    "use", "call", "type", "class", "implementation", "interface", "send", "module", "variable"};
int64_t reference_kind_code(std::string_view kind);

// Creates or migrates the schema; refuses databases from a newer version or another program.
void prepare_schema(Connection& db, const std::string& path);

// WAL, synchronous=NORMAL and caches for the one connection that writes.
void configure_writer(Connection& db, uint64_t max_pages);

}  // namespace latent::indexer
