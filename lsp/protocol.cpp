#include "lsp/protocol.h"

namespace latent::lsp {

void read_value(const Json& j, const std::string& path, Position& out) {
  JsonReader r(j, path);
  r.required("line", out.line);
  r.required("character", out.character);
}

void read_value(const Json& j, const std::string& path, Range& out) {
  JsonReader r(j, path);
  r.required("start", out.start);
  r.required("end", out.end);
}

void to_json(Json& j, const Position& p) { j = Json{{"line", p.line}, {"character", p.character}}; }
void to_json(Json& j, const Range& r) { j = Json{{"start", r.start}, {"end", r.end}}; }
void to_json(Json& j, const Location& l) { j = Json{{"uri", l.uri}, {"range", l.range}}; }

void read_value(const Json& j, const std::string& path, TextDocumentIdentifier& out) {
  JsonReader r(j, path);
  r.required("uri", out.uri);
}

void read_value(const Json& j, const std::string& path, VersionedTextDocumentIdentifier& out) {
  JsonReader r(j, path);
  r.required("uri", out.uri);
  r.required("version", out.version);
}

void read_value(const Json& j, const std::string& path, TextDocumentItem& out) {
  JsonReader r(j, path);
  r.required("uri", out.uri);
  r.required("languageId", out.languageId);
  r.required("version", out.version);
  r.required("text", out.text);
}

void read_value(const Json& j, const std::string& path, TextDocumentContentChangeEvent& out) {
  JsonReader r(j, path);
  r.optional("range", out.range);
  r.required("text", out.text);
}

void read_value(const Json& j, const std::string& path, DidOpenTextDocumentParams& out) {
  JsonReader r(j, path);
  r.required("textDocument", out.textDocument);
}

void read_value(const Json& j, const std::string& path, DidChangeTextDocumentParams& out) {
  JsonReader r(j, path);
  r.required("textDocument", out.textDocument);
  r.required("contentChanges", out.contentChanges);
}

void read_value(const Json& j, const std::string& path, DidCloseTextDocumentParams& out) {
  JsonReader r(j, path);
  r.required("textDocument", out.textDocument);
}

void read_value(const Json& j, const std::string& path, DidSaveTextDocumentParams& out) {
  JsonReader r(j, path);
  r.required("textDocument", out.textDocument);
  r.optional("text", out.text);
}

void read_value(const Json& j, const std::string& path, WorkspaceFolder& out) {
  JsonReader r(j, path);
  r.required("uri", out.uri);
  r.optional("name", out.name);
}

void to_json(Json& j, const WorkspaceFolder& f) { j = Json{{"uri", f.uri}, {"name", f.name}}; }

void read_value(const Json& j, const std::string& path, ClientInfo& out) {
  JsonReader r(j, path);
  r.required("name", out.name);
  r.optional("version", out.version);
}

void read_value(const Json& j, const std::string& path, ClientCapabilities& out) {
  JsonReader r(j, path);
  if (r.has("general")) {
    JsonReader g(j["general"], r.child("general"));
    g.optional("positionEncodings", out.positionEncodings);
  }
  if (r.has("workspace")) {
    JsonReader w(j["workspace"], r.child("workspace"));
    w.optional("configuration", out.workspaceConfiguration);
    w.optional("workspaceFolders", out.workspaceFolders);
    if (w.has("didChangeWatchedFiles")) {
      JsonReader f(j["workspace"]["didChangeWatchedFiles"], w.child("didChangeWatchedFiles"));
      f.optional("dynamicRegistration", out.watchedFilesRegistration);
    }
  }
  if (r.has("window")) {
    JsonReader w(j["window"], r.child("window"));
    w.optional("workDoneProgress", out.workDoneProgress);
  }
  if (r.has("textDocument")) {
    JsonReader t(j["textDocument"], r.child("textDocument"));
    out.inlineCompletion = t.has("inlineCompletion");
  }
}

void read_value(const Json& j, const std::string& path, InitializeParams& out) {
  JsonReader r(j, path);
  r.optional("processId", out.processId);
  r.optional("clientInfo", out.clientInfo);
  r.optional("rootUri", out.rootUri);
  r.optional("rootPath", out.rootPath);
  r.optional("workspaceFolders", out.workspaceFolders);
  r.optional("capabilities", out.capabilities);
  r.optional("initializationOptions", out.initializationOptions);
}

void read_value(const Json& j, const std::string& path, InlineCompletionContext& out) {
  JsonReader r(j, path);
  r.required("triggerKind", out.triggerKind);
}

namespace {
void check_token(const Json& token, const std::string& path) {
  if (!token.is_number_integer() && !token.is_number_unsigned() && !token.is_string())
    throw_type_error(path, "integer or string", token);
}
}  // namespace

void read_value(const Json& j, const std::string& path, InlineCompletionParams& out) {
  JsonReader r(j, path);
  r.required("textDocument", out.textDocument);
  r.required("position", out.position);
  // Required by the 3.18 spec; tolerated when absent because some clients omit it.
  r.optional("context", out.context);
  if (r.has("partialResultToken")) {
    out.partialResultToken = j["partialResultToken"];
    check_token(out.partialResultToken, r.child("partialResultToken"));
  }
}

void to_json(Json& j, const InlineCompletionItem& item) {
  j = Json{{"insertText", item.insertText}};
  if (item.range) j["range"] = *item.range;
}

void to_json(Json& j, const InlineCompletionList& list) { j = Json{{"items", list.items}}; }

void read_value(const Json& j, const std::string& path, CancelParams& out) {
  JsonReader r(j, path);
  r.required("id", out.id);
  if (!out.id.is_number_integer() && !out.id.is_number_unsigned() && !out.id.is_string())
    throw_type_error(r.child("id"), "integer or string", out.id);
}

void read_value(const Json& j, const std::string& path, FileEvent& out) {
  JsonReader r(j, path);
  r.required("uri", out.uri);
  r.required("type", out.type);
  if (out.type < 1 || out.type > 3)
    throw ProtocolError(r.child("type") + ": expected 1 (Created), 2 (Changed) or 3 (Deleted), got " +
                        std::to_string(out.type));
}

void read_value(const Json& j, const std::string& path, DidChangeWatchedFilesParams& out) {
  JsonReader r(j, path);
  r.required("changes", out.changes);
}

void read_value(const Json& j, const std::string& path, DidChangeWorkspaceFoldersParams& out) {
  JsonReader r(j, path);
  Json ev;
  r.required("event", ev);
  JsonReader e(ev, r.child("event"));
  e.required("added", out.event.added);
  e.required("removed", out.event.removed);
}

void read_value(const Json& j, const std::string& path, DidChangeConfigurationParams& out) {
  JsonReader r(j, path);
  r.optional("settings", out.settings);
}

void read_value(const Json& j, const std::string& path, ProgressParams& out) {
  JsonReader r(j, path);
  r.required("token", out.token);
  check_token(out.token, r.child("token"));
  r.required("value", out.value);
}

void to_json(Json& j, const ProgressParams& p) { j = Json{{"token", p.token}, {"value", p.value}}; }

Json progress_begin(const std::string& title, const std::string& message, std::optional<uint32_t> percentage,
                    bool cancellable) {
  Json v{{"kind", "begin"}, {"title", title}, {"cancellable", cancellable}};
  if (!message.empty()) v["message"] = message;
  if (percentage) v["percentage"] = *percentage;
  return v;
}

Json progress_report(const std::string& message, std::optional<uint32_t> percentage) {
  Json v{{"kind", "report"}};
  if (!message.empty()) v["message"] = message;
  if (percentage) v["percentage"] = *percentage;
  return v;
}

Json progress_end(const std::string& message) {
  Json v{{"kind", "end"}};
  if (!message.empty()) v["message"] = message;
  return v;
}

void read_value(const Json& j, const std::string& path, AskParams& out) {
  JsonReader r(j, path);
  r.required("question", out.question);
  r.optional("conversation", out.conversation);
  r.optional("textDocument", out.textDocument);
  r.optional("position", out.position);
  if (r.has("partialResultToken")) {
    out.partialResultToken = j["partialResultToken"];
    check_token(out.partialResultToken, r.child("partialResultToken"));
  }
  if (r.has("workDoneToken")) {
    out.workDoneToken = j["workDoneToken"];
    check_token(out.workDoneToken, r.child("workDoneToken"));
  }
}

void to_json(Json& j, const AskSource& s) {
  j = Json{{"location", s.location}, {"path", s.path}, {"line", s.line}, {"score", s.score}};
  if (!s.symbol.empty()) j["symbol"] = s.symbol;
}

void to_json(Json& j, const AskResult& r) {
  j = Json{{"answer", r.answer}, {"modelUsed", r.modelUsed}, {"sources", r.sources}};
  if (!r.conversation.empty()) j["conversation"] = r.conversation;
}

// latent/status, field by field (read back by `latent status` from a shared daemon).

namespace {

Json status_json(const StatusModel& m) {
  Json j = {{"loaded", m.loaded}, {"configuredPath", m.configuredPath}, {"backend", m.backend}};
  if (m.loaded) {
    j.update({{"name", m.name}, {"path", m.path}, {"contextLength", m.contextLength}, {"fim", m.fim},
              {"chatFormat", m.chatFormat}});
    if (!m.warnings.empty()) j["warnings"] = m.warnings;
  } else {
    j["problem"] = m.problem;
  }
  if (const auto& r = m.remote)
    j["remote"] = {{"url", r->url},           {"fimTemplate", r->fimTemplate},     {"requests", r->requests},
                   {"errors", r->errors},     {"lastLatencyMs", r->lastLatencyMs}, {"lastError", r->lastError}};
  return j;
}

Json status_json(const StatusWorkspace& w) {
  Json j = {{"root", w.root}, {"state", w.state}, {"files", w.files}};
  if (!w.error.empty()) j["error"] = w.error;
  if (!w.watching.empty()) {
    j["watching"] = w.watching;
    j["watchedDirectories"] = w.watchedDirectories;
    j["watchBatches"] = w.watchBatches;
  }
  if (w.progress)
    j["progress"] = {{"filesFound", w.progress->filesFound}, {"filesDone", w.progress->filesDone},
                     {"walkDone", w.progress->walkDone}};
  if (const auto& r = w.lastRun)
    j["lastRun"] = {{"filesChecked", r->filesChecked}, {"filesTotal", r->filesTotal},
                    {"filesIndexed", r->filesIndexed}, {"filesSkipped", r->filesSkipped},
                    {"filesRemoved", r->filesRemoved}, {"problems", r->problems},
                    {"cancelled", r->cancelled},     {"seconds", r->seconds}};
  return j;
}

}  // namespace

void read_value(const Json& j, const std::string& path, StatusModel& out) {
  JsonReader r(j, path);
  r.required("loaded", out.loaded);
  r.optional("configuredPath", out.configuredPath);
  r.optional("backend", out.backend);
  r.optional("name", out.name);
  r.optional("path", out.path);
  r.optional("contextLength", out.contextLength);
  r.optional("fim", out.fim);
  r.optional("chatFormat", out.chatFormat);
  r.optional("warnings", out.warnings);
  r.optional("problem", out.problem);
  r.optional("remote", out.remote);
}

void read_value(const Json& j, const std::string& path, StatusRemote& out) {
  JsonReader r(j, path);
  r.required("url", out.url);
  r.optional("fimTemplate", out.fimTemplate);
  r.optional("requests", out.requests);
  r.optional("errors", out.errors);
  r.optional("lastLatencyMs", out.lastLatencyMs);
  r.optional("lastError", out.lastError);
}

void read_value(const Json& j, const std::string& path, StatusIndexProgress& out) {
  JsonReader r(j, path);
  r.required("filesFound", out.filesFound);
  r.required("filesDone", out.filesDone);
  r.required("walkDone", out.walkDone);
}

void read_value(const Json& j, const std::string& path, StatusIndexRun& out) {
  JsonReader r(j, path);
  r.optional("filesChecked", out.filesChecked);
  r.required("filesTotal", out.filesTotal);
  r.required("filesIndexed", out.filesIndexed);
  r.optional("filesSkipped", out.filesSkipped);
  r.required("filesRemoved", out.filesRemoved);
  r.required("problems", out.problems);
  r.required("cancelled", out.cancelled);
  r.required("seconds", out.seconds);
}

void read_value(const Json& j, const std::string& path, StatusWorkspace& out) {
  JsonReader r(j, path);
  r.required("root", out.root);
  r.required("state", out.state);
  r.optional("error", out.error);
  r.optional("files", out.files);
  r.optional("watching", out.watching);
  r.optional("watchedDirectories", out.watchedDirectories);
  r.optional("watchBatches", out.watchBatches);
  r.optional("progress", out.progress);
  r.optional("lastRun", out.lastRun);
}

void read_value(const Json& j, const std::string& path, StatusCompletions& out) {
  JsonReader r(j, path);
  r.required("requests", out.requests);
  r.required("engineRuns", out.engineRuns);
  r.required("reused", out.reused);
  r.required("superseded", out.superseded);
  r.required("cancelled", out.cancelled);
  r.required("empty", out.empty);
}

void read_value(const Json& j, const std::string& path, StatusQueue& out) {
  JsonReader r(j, path);
  r.required("pendingCompletions", out.pendingCompletions);
  r.required("pendingQuestions", out.pendingQuestions);
  r.required("workerJobs", out.workerJobs);
  r.optional("engineLive", out.engineLive);
  r.optional("engineQueued", out.engineQueued);
}

void read_value(const Json& j, const std::string& path, StatusCache& out) {
  JsonReader r(j, path);
  r.required("promptTokens", out.promptTokens);
  r.required("cachedPromptTokens", out.cachedPromptTokens);
  r.required("generatedTokens", out.generatedTokens);
  r.required("hitRate", out.hitRate);
}

void read_value(const Json& j, const std::string& path, StatusSession& out) {
  JsonReader r(j, path);
  r.required("client", out.client);
  r.required("positionEncoding", out.positionEncoding);
  r.required("openDocuments", out.openDocuments);
  r.required("pendingRequests", out.pendingRequests);
}

void to_json(Json& j, const StatusResult& s) {
  Json workspaces = Json::array();
  for (const auto& w : s.workspaces) workspaces.push_back(status_json(w));
  const auto& c = s.completions;
  const auto& q = s.queue;
  j = Json{{"version", s.version},
           {"pid", s.pid},
           {"model", status_json(s.model)},
           {"workspaces", workspaces},
           {"completions",
            {{"requests", c.requests}, {"engineRuns", c.engineRuns}, {"reused", c.reused},
             {"superseded", c.superseded}, {"cancelled", c.cancelled}, {"empty", c.empty}}},
           {"queue",
            {{"pendingCompletions", q.pendingCompletions}, {"pendingQuestions", q.pendingQuestions},
             {"workerJobs", q.workerJobs}, {"engineLive", q.engineLive}, {"engineQueued", q.engineQueued}}},
           {"cache",
            {{"promptTokens", s.cache.promptTokens}, {"cachedPromptTokens", s.cache.cachedPromptTokens},
             {"generatedTokens", s.cache.generatedTokens}, {"hitRate", s.cache.hitRate}}},
           {"settings", s.settings},
           {"conversations", s.conversations}};
  if (s.session)
    j["session"] = {{"client", s.session->client}, {"positionEncoding", s.session->positionEncoding},
                    {"openDocuments", s.session->openDocuments}, {"pendingRequests", s.session->pendingRequests}};
}

void read_value(const Json& j, const std::string& path, StatusResult& out) {
  JsonReader r(j, path);
  r.optional("version", out.version);
  r.optional("pid", out.pid);
  r.required("model", out.model);
  r.required("workspaces", out.workspaces);
  r.required("completions", out.completions);
  r.required("queue", out.queue);
  r.required("cache", out.cache);
  r.optional("settings", out.settings);
  r.optional("session", out.session);
  r.optional("conversations", out.conversations);
}

void read_value(const Json& j, const std::string& path, ReindexParams& out) {
  if (j.is_null()) return;
  JsonReader r(j, path);
  r.optional("uri", out.uri);
}

}  // namespace latent::lsp
