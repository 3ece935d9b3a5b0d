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
  // Latent's extension (the spec's PartialResultParams, which 3.18 does not list for this
  // request): when set, the first line of a multi-line completion is sent as soon as it is
  // complete, as $/progress {token, value: InlineCompletionList}; the response is still the
  // whole completion, which starts with it. Null when the client wants no partial result.
  Json partialResultToken;
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
  // A follow-up: the conversation of an earlier AskResult. Its turns (and their latent KV
  // prefix) come before this question. Absent: a new conversation.
  std::optional<std::string> conversation;
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
  std::string conversation;  // pass as AskParams::conversation to ask a follow-up ("" without a model)
};
void to_json(Json& j, const AskResult& r);

// latent/status: what the daemon is doing, for status bars, `latent status` and :LatentStatus.
// A remote engine (latentd --remote): where, how it answers.
struct StatusRemote {
  std::string url;
  std::string fimTemplate;   // the completion prompt layout in use
  int64_t requests = 0;
  int64_t errors = 0;
  double lastLatencyMs = 0;  // request sent to first text, latest request
  std::string lastError;
};

struct StatusModel {
  bool loaded = false;
  std::string configuredPath;  // the model setting ("" when none)
  std::string backend;         // the backend setting, or the one in use once loaded ("auto" resolved)
  // Once loaded:
  std::string name;
  std::string path;
  int64_t contextLength = 0;
  bool fim = false;             // has fill-in-the-middle tokens (needed for completions)
  std::string chatFormat;
  // What it works around: the KV cache's disk tier off (directory not creatable), ...
  std::vector<std::string> warnings;
  // Otherwise: why not ("no model configured: ...", "loading ...", the load error, the model
  // file changed on disk and is being reloaded).
  std::string problem;
  std::optional<StatusRemote> remote;  // the model runs on a remote server
};

struct StatusIndexProgress {
  int64_t filesFound = 0;  // files the walk has found so far (final once walkDone)
  int64_t filesDone = 0;   // of those, checked (indexed, unchanged or skipped)
  bool walkDone = false;
};

struct StatusIndexRun {
  int64_t filesChecked = 0;   // files the walk found
  int64_t filesTotal = 0;     // in the index after the run
  int64_t filesIndexed = 0;   // parsed and written in the run
  int64_t filesSkipped = 0;   // left out by rule: binary, generated, minified, too large
  int64_t filesRemoved = 0;
  int64_t problems = 0;       // files that could not be read or parsed cleanly
  bool cancelled = false;
  double seconds = 0;
};

struct StatusWorkspace {
  std::string root;
  std::string state;  // "opening", "indexing", "ready", "failed" or "unavailable"
  std::string error;  // the last failure, "" when none
  int64_t files = 0;  // in the index now
  // latentd's own watch over the folder: "starting", "watching", or "limited" (the watch limit
  // ran out: the editor's workspace/didChangeWatchedFiles covers the rest); "" before the index
  // opens.
  std::string watching;
  int64_t watchedDirectories = 0;
  int64_t watchBatches = 0;  // batches of changes seen on disk
  std::optional<StatusIndexProgress> progress;  // while indexing
  std::optional<StatusIndexRun> lastRun;
};

struct StatusCompletions {
  int64_t requests = 0, engineRuns = 0, reused = 0, superseded = 0, cancelled = 0, empty = 0;
};

struct StatusQueue {
  int64_t pendingCompletions = 0, pendingQuestions = 0, workerJobs = 0;
  int64_t engineLive = 0, engineQueued = 0;  // requests the engine is running / holding back
};

// Prompt tokens over every engine run: how many the latent KV store served instead of evaluating.
struct StatusCache {
  int64_t promptTokens = 0, cachedPromptTokens = 0, generatedTokens = 0;
  double hitRate = 0;  // cachedPromptTokens / promptTokens, 0 before the first run
};

struct StatusSession {
  std::string client;
  std::string positionEncoding;
  int64_t openDocuments = 0;
  int64_t pendingRequests = 0;
};

struct StatusResult {
  std::string version;
  int64_t pid = 0;
  StatusModel model;
  std::vector<StatusWorkspace> workspaces;
  StatusCompletions completions;
  StatusQueue queue;
  StatusCache cache;
  Json settings = Json::object();  // every setting's value by its key (latentd --settings-schema)
  std::optional<StatusSession> session;  // absent when not asked over LSP
  int64_t conversations = 0;  // latent/ask conversations kept for follow-up questions
};
void to_json(Json& j, const StatusResult& s);
void read_value(const Json& j, const std::string& path, StatusResult& out);
void read_value(const Json& j, const std::string& path, StatusModel& out);
void read_value(const Json& j, const std::string& path, StatusRemote& out);
void read_value(const Json& j, const std::string& path, StatusIndexProgress& out);
void read_value(const Json& j, const std::string& path, StatusIndexRun& out);
void read_value(const Json& j, const std::string& path, StatusWorkspace& out);
void read_value(const Json& j, const std::string& path, StatusCompletions& out);
void read_value(const Json& j, const std::string& path, StatusQueue& out);
void read_value(const Json& j, const std::string& path, StatusCache& out);
void read_value(const Json& j, const std::string& path, StatusSession& out);

// latent/reindex: one workspace folder, or all when uri is absent.
struct ReindexParams {
  std::optional<std::string> uri;
};
void read_value(const Json& j, const std::string& path, ReindexParams& out);

}  // namespace latent::lsp
