// file:// URIs (RFC 8089, as LSP clients send them) to filesystem paths and back. Percent-
// encoding is decoded/applied byte-wise, so non-ASCII paths round-trip as UTF-8.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace latent::daemon {

// The path of a file:// URI; nullopt for other schemes (untitled:, etc.) or a malformed URI.
std::optional<std::filesystem::path> uri_to_path(std::string_view uri);
std::string path_to_uri(const std::filesystem::path& path);

}  // namespace latent::daemon
