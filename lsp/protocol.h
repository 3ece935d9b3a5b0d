// The LSP messages Latent speaks, as plain structs with the protocol's own field names, and
// Latent's own requests (latent/ask, latent/status, latent/reindex). Each struct that arrives
// from the client has read_value() (parse failures name the field path, see json_reader.h);
// each that goes out has to_json(). Spec: LSP 3.17, plus textDocument/inlineCompletion (3.18).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lsp/json_reader.h"
#include "lsp/position.h"

namespace latent::lsp {

void read_value(const Json& j, const std::string& path, Position& out);
void read_value(const Json& j, const std::string& path, Range& out);
void to_json(Json& j, const Position& p);
void to_json(Json& j, const Range& r);

struct Location {
  std::string uri;
  Range range;
};
void to_json(Json& j, const Location& l);

struct TextDocumentIdentifier {
  std::string uri;
};
void read_value(const Json& j, const std::string& path, TextDocumentIdentifier& out);

struct VersionedTextDocumentIdentifier {
  std::string uri;
  int64_t version = 0;
};
void read_value(const Json& j, const std::string& path, VersionedTextDocumentIdentifier& out);

struct TextDocumentItem {
  std::string uri;
  std::string languageId;
  int64_t version = 0;
  std::string text;
};
void read_value(const Json& j, const std::string& path, TextDocumentItem& out);

struct TextDocumentContentChangeEvent {
  std::optional<Range> range;  // absent: the whole document
  std::string text;
};
void read_value(const Json& j, const std::string& path, TextDocumentContentChangeEvent& out);

struct DidOpenTextDocumentParams {
  TextDocumentItem textDocument;
};
void read_value(const Json& j, const std::string& path, DidOpenTextDocumentParams& out);

struct DidChangeTextDocumentParams {
  VersionedTextDocumentIdentifier textDocument;
  std::vector<TextDocumentContentChangeEvent> contentChanges;
};
void read_value(const Json& j, const std::string& path, DidChangeTextDocumentParams& out);

struct DidCloseTextDocumentParams {
  TextDocumentIdentifier textDocument;
};
void read_value(const Json& j, const std::string& path, DidCloseTextDocumentParams& out);

struct DidSaveTextDocumentParams {
  TextDocumentIdentifier textDocument;
  std::optional<std::string> text;
};
void read_value(const Json& j, const std::string& path, DidSaveTextDocumentParams& out);

struct WorkspaceFolder {
  std::string uri;
  std::string name;
};
void read_value(const Json& j, const std::string& path, WorkspaceFolder& out);
void to_json(Json& j, const WorkspaceFolder& f);

struct ClientInfo {
  std::string name;
  std::optional<std::string> version;
};
void read_value(const Json& j, const std::string& path, ClientInfo& out);

// The client capabilities Latent acts on; the rest of the object is ignored.
struct ClientCapabilities {
  std::vector<std::string> positionEncodings;  // general.positionEncodings
  bool workspaceConfiguration = false;         // workspace.configuration
  bool workspaceFolders = false;               // workspace.workspaceFolders
  bool watchedFilesRegistration = false;       // workspace.didChangeWatchedFiles.dynamicRegistration
  bool workDoneProgress = false;               // window.workDoneProgress
  bool inlineCompletion = false;               // textDocument.inlineCompletion present
};
void read_value(const Json& j, const std::string& path, ClientCapabilities& out);

struct InitializeParams {
  std::optional<int64_t> processId;
  std::optional<ClientInfo> clientInfo;
  std::optional<std::string> rootUri;
  std::optional<std::string> rootPath;
  std::optional<std::vector<WorkspaceFolder>> workspaceFolders;
  ClientCapabilities capabilities;
  Json initializationOptions;  // null when absent
};
void read_value(const Json& j, const std::string& path, InitializeParams& out);

struct InlineCompletionContext {
  int32_t triggerKind = 1;  // 1 Invoked, 2 Automatic
};
void read_value(const Json& j, const std::string& path, InlineCompletionContext& out);

struct InlineCompletionParams {
  TextDocumentIdentifier textDocument;
  Position position;
  InlineCompletionContext context;
};
void read_value(const Json& j, const std::string& path, InlineCompletionParams& out);

struct InlineCompletionItem {
  std::string insertText;
  std::optional<Range> range;
};
void to_json(Json& j, const InlineCompletionItem& item);

struct InlineCompletionList {
  std::vector<InlineCompletionItem> items;
};
void to_json(Json& j, const InlineCompletionList& list);

struct CancelParams {
  Json id;  // integer or string
};
void read_value(const Json& j, const std::string& path, CancelParams& out);

enum class FileChangeType : int32_t { Created = 1, Changed = 2, Deleted = 3 };
struct FileEvent {
  std::string uri;
  int32_t type = 2;
};
void read_value(const Json& j, const std::string& path, FileEvent& out);

struct DidChangeWatchedFilesParams {
  std::vector<FileEvent> changes;
};
void read_value(const Json& j, const std::string& path, DidChangeWatchedFilesParams& out);

struct WorkspaceFoldersChangeEvent {
  std::vector<WorkspaceFolder> added;
  std::vector<WorkspaceFolder> removed;
};
struct DidChangeWorkspaceFoldersParams {
  WorkspaceFoldersChangeEvent event;
};
void read_value(const Json& j, const std::string& path, DidChangeWorkspaceFoldersParams& out);

struct DidChangeConfigurationParams {
  Json settings;
};
void read_value(const Json& j, const std::string& path, DidChangeConfigurationParams& out);

struct ProgressParams {
  Json token;  // integer or string
  Json value;
};
void read_value(const Json& j, const std::string& path, ProgressParams& out);
void to_json(Json& j, const ProgressParams& p);

// window/workDoneProgress values ($/progress "value" for kind begin/report/end).
Json progress_begin(const std::string& title, const std::string& message, std::optional<uint32_t> percentage,
                    bool cancellable);
Json progress_report(const std::string& message, std::optional<uint32_t> percentage);
Json progress_end(const std::string& message);

// latent/ask: a repository-wide question, optionally anchored at a cursor.
struct AskParams {
  std::string question;
  std::optional<TextDocumentIdentifier> textDocument;
  std::optional<Position> position;
  Json partialResultToken;  // null when the client wants no streaming
  Json workDoneToken;
};
void read_value(const Json& j, const std::string& path, AskParams& out);

struct AskSource {
  Location location;
  std::string path;       // relative to its workspace folder
  uint32_t line = 0;      // 1-based, for "path:line" display
  std::string symbol;     // empty when the source is a plain chunk
  double score = 0;
};
void to_json(Json& j, const AskSource& s);

struct AskResult {
  std::string answer;      // the model's answer, or why there is none
  bool modelUsed = false;
  std::vector<AskSource> sources;
};
void to_json(Json& j, const AskResult& r);

// latent/reindex: one workspace folder, or all when uri is absent.
struct ReindexParams {
  std::optional<std::string> uri;
};
void read_value(const Json& j, const std::string& path, ReindexParams& out);

}  // namespace latent::lsp
