#include "server/lsp_session.h"

#include <unistd.h>

#include "latent/version.h"
#include "server/log.h"
#include "server/settings.h"
#include "server/uri.h"

namespace latent::daemon {

using lsp::Callback;
using lsp::Error;
using lsp::ErrorCode;
using lsp::Json;

namespace {

daemon::LogLevel to_daemon_level(lsp::LogLevel l) {
  switch (l) {
    case lsp::LogLevel::Debug: return LogLevel::Debug;
    case lsp::LogLevel::Info: return LogLevel::Info;
    case lsp::LogLevel::Warn: return LogLevel::Warn;
    case lsp::LogLevel::Error: return LogLevel::Error;
  }
  return LogLevel::Info;
}

// The "latent" section may arrive wrapped ({"latent": {...}}) or as the section itself.
const Json& latent_section(const Json& settings) {
  if (settings.is_object() && settings.contains("latent") && settings["latent"].is_object()) return settings["latent"];
  return settings;
}

}  // namespace

LspSession::LspSession(Assistant& assistant, Writer writer, OnExit on_exit)
    : assistant_(assistant), on_exit_(std::move(on_exit)) {
  endpoint_ = std::make_unique<lsp::Endpoint>(std::move(writer), [](lsp::LogLevel level, const std::string& message) {
    log(to_daemon_level(level), message);
  });
  endpoint_->set_gate([this](const std::string& method, bool is_request) -> std::optional<Error> {
    if (method == "exit") return std::nullopt;
    if (!initialize_received_) {
      if (method == "initialize") return std::nullopt;
      return Error{ErrorCode::ServerNotInitialized, method + " before initialize"};
    }
    if (method == "initialize") return Error{ErrorCode::InvalidRequest, "initialize was already received"};
    if (shutdown_received_)
      return Error{ErrorCode::InvalidRequest, method + " after shutdown (only exit is accepted)"};
    (void)is_request;
    return std::nullopt;
  });
  register_handlers();
  std::weak_ptr<int> alive = alive_;
  listener_ = assistant_.subscribe([this, alive](const WorkspaceEvent& ev) {
    if (!alive.expired()) on_workspace_event(ev);
  });
}

LspSession::~LspSession() {
  assistant_.unsubscribe(listener_);
  alive_.reset();
  endpoint_->close("session ended");
}

void LspSession::receive(std::string_view bytes) {
  if (!ended_) endpoint_->feed(bytes);
}

void LspSession::end(const std::string& reason) {
  if (ended_) return;
  ended_ = true;
  log_info("session ended: " + reason);
  endpoint_->close(reason);
  // A client that goes away is a normal end, not an error of the daemon.
  if (on_exit_) on_exit_(0);
}

void LspSession::show_message(int type, const std::string& message) {
  endpoint_->notify("window/showMessage", Json{{"type", type}, {"message", "Latent: " + message}});
}

void LspSession::apply_client_settings(const Json& settings, const std::string& origin) {
  const Json& section = latent_section(settings);
  if (section.is_null()) return;
  Options options = assistant_.options();
  auto problems = apply_settings(section, options);
  for (const auto& p : problems) {
    log_warn(origin + ": " + p);
    show_message(2, origin + ": " + p);
  }
  assistant_.configure(options);
}

void LspSession::pull_configuration() {
  if (!client_.workspaceConfiguration) return;
  std::weak_ptr<int> alive = alive_;
  endpoint_->call("workspace/configuration", Json{{"items", Json::array({Json{{"section", "latent"}}})}},
                  [this, alive](lsp::Result<Json> r) {
                    if (alive.expired()) return;
                    if (!r) {
                      log_warn("workspace/configuration failed: " + r.error().message);
                      return;
                    }
                    if (r.value().is_array() && !r.value().empty() && r.value()[0].is_object())
                      apply_client_settings(r.value()[0], "workspace/configuration");
                  });
}

lsp::AskSource LspSession::to_ask_source(const Source& s) const {
  lsp::AskSource out;
  out.path = s.path;
  out.line = s.line;
  out.symbol = s.symbol;
  out.score = s.score;
  out.location.uri = path_to_uri(s.root / s.path);
  uint32_t start = s.line > 0 ? s.line - 1 : 0;
  uint32_t end = s.end_line > 0 ? s.end_line - 1 : start;
  out.location.range = lsp::Range{{start, 0}, {std::max(start, end), 0}};
  return out;
}

// latentd watches its workspace folders itself; the editor's file watcher is asked for only
// where that watch ran into the system's limit (folder_watcher.h).
void LspSession::register_watched_files() {
  if (!client_.watchedFilesRegistration || watched_files_registered_ || shutdown_received_ || ended_) return;
  watched_files_registered_ = true;
  Json registration = {{"id", "latent-watched-files"},
                       {"method", "workspace/didChangeWatchedFiles"},
                       {"registerOptions", {{"watchers", Json::array({Json{{"globPattern", "**/*"}}})}}}};
  endpoint_->call("client/registerCapability", Json{{"registrations", Json::array({registration})}},
                  [](lsp::Result<Json> r) {
                    if (!r) log_warn("client/registerCapability for watched files failed: " + r.error().message);
                  });
}

void LspSession::on_workspace_event(const WorkspaceEvent& ev) {
  if (ev.kind == WorkspaceEvent::Kind::WatchLimited) {
    if (initialized_received_) register_watched_files();
    return;
  }
  if (!initialize_received_ || shutdown_received_ || ended_ || !client_.workDoneProgress) return;
  std::string root = ev.root.string();
  Json value;
  switch (ev.kind) {
    case WorkspaceEvent::Kind::Begin: {
      ProgressToken& t = progress_[root];
      t = ProgressToken{"latent-index-" + std::to_string(next_token_++), false, false, {}};
      std::string token = t.token;
      std::weak_ptr<int> alive = alive_;
      t.queued.push_back(lsp::progress_begin("Latent: indexing", ev.message, ev.percentage, false));
      endpoint_->call("window/workDoneProgress/create", Json{{"token", token}}, [this, alive, root, token](lsp::Result<Json> r) {
        if (alive.expired()) return;
        auto it = progress_.find(root);
        if (it == progress_.end() || it->second.token != token) return;
        if (!r) {
          log_debug("window/workDoneProgress/create refused: " + r.error().message);
          progress_.erase(it);
          return;
        }
        it->second.created = true;
        for (auto& v : it->second.queued) endpoint_->notify("$/progress", Json{{"token", token}, {"value", v}});
        it->second.queued.clear();
        if (it->second.ended) progress_.erase(it);
      });
      return;
    }
    case WorkspaceEvent::Kind::Report: value = lsp::progress_report(ev.message, ev.percentage); break;
    case WorkspaceEvent::Kind::End: value = lsp::progress_end(ev.message); break;
    case WorkspaceEvent::Kind::WatchLimited: return;
  }
  auto it = progress_.find(root);
  if (it == progress_.end()) return;
  if (!it->second.created) {
    it->second.queued.push_back(value);
    if (ev.kind == WorkspaceEvent::Kind::End) it->second.ended = true;
    return;
  }
  endpoint_->notify("$/progress", Json{{"token", it->second.token}, {"value", value}});
  if (ev.kind == WorkspaceEvent::Kind::End) progress_.erase(it);
}

void LspSession::register_handlers() {
  lsp::Endpoint& ep = *endpoint_;

  ep.on_request<lsp::InitializeParams, Json>("initialize", [this](lsp::InitializeParams p, Callback<Json> reply) {
    initialize_received_ = true;
    client_ = p.capabilities;
    encoding_ = lsp::negotiate_encoding(p.capabilities.positionEncodings);
    client_name_ = p.clientInfo ? p.clientInfo->name + (p.clientInfo->version ? " " + *p.clientInfo->version : "") : "unknown client";
    log_info("initialize from " + client_name_ + ", position encoding " + std::string(lsp::encoding_name(encoding_)));
    if (!p.initializationOptions.is_null()) apply_client_settings(p.initializationOptions, "initializationOptions");
    std::vector<std::filesystem::path> roots;
    if (p.workspaceFolders) {
      for (const auto& f : *p.workspaceFolders)
        if (auto path = uri_to_path(f.uri)) roots.push_back(*path);
        else log_warn("workspace folder " + f.uri + " is not a file:// URI; not indexed");
    } else if (p.rootUri) {
      if (auto path = uri_to_path(*p.rootUri)) roots.push_back(*path);
    } else if (p.rootPath) {
      roots.push_back(*p.rootPath);
    }
    for (const auto& r : roots) assistant_.add_workspace(r);

    Json capabilities = {
        {"positionEncoding", lsp::encoding_name(encoding_)},
        {"textDocumentSync", {{"openClose", true}, {"change", 2}, {"save", {{"includeText", false}}}}},
        {"inlineCompletionProvider", true},
        {"workspace", {{"workspaceFolders", {{"supported", true}, {"changeNotifications", true}}}}},
        {"experimental", {{"latent", {{"ask", true}, {"status", true}, {"reindex", true}}}}},
    };
    reply(Json{{"capabilities", capabilities}, {"serverInfo", {{"name", "latentd"}, {"version", LATENT_VERSION}}}});
  });

  ep.on_notification<Json>("initialized", [this](Json) {
    initialized_received_ = true;
    pull_configuration();
    if (assistant_.needs_editor_file_events()) register_watched_files();
  });

  ep.on_request<Json, Json>("shutdown", [this](Json, Callback<Json> reply) {
    shutdown_received_ = true;
    log_info("shutdown requested by " + client_name_);
    reply(Json(nullptr));
  });

  ep.on_notification<Json>("exit", [this](Json) {
    if (ended_) return;
    ended_ = true;
    log_info(std::string("exit notification") + (shutdown_received_ ? "" : " without shutdown"));
    endpoint_->close("exit");
    if (on_exit_) on_exit_(shutdown_received_ ? 0 : 1);
  });

  // --- documents -------------------------------------------------------------------------
  ep.on_notification<lsp::DidOpenTextDocumentParams>("textDocument/didOpen", [this](lsp::DidOpenTextDocumentParams p) {
    auto& d = p.textDocument;
    documents_.insert_or_assign(d.uri, lsp::TextDocument(d.uri, d.languageId, d.version, std::move(d.text)));
  });

  ep.on_notification<lsp::DidChangeTextDocumentParams>("textDocument/didChange", [this](lsp::DidChangeTextDocumentParams p) {
    auto it = documents_.find(p.textDocument.uri);
    if (it == documents_.end()) {
      log_warn("didChange for " + p.textDocument.uri + ", which is not open; ignored");
      return;
    }
    for (size_t i = 0; i < p.contentChanges.size(); ++i) {
      const auto& c = p.contentChanges[i];
      if (auto err = it->second.apply_change(c.range, c.text, encoding_)) {
        log_warn("didChange for " + p.textDocument.uri + ": params.contentChanges[" + std::to_string(i) + "]: " + *err +
                 "; change ignored");
      }
    }
    it->second.set_version(p.textDocument.version);
  });

  ep.on_notification<lsp::DidCloseTextDocumentParams>("textDocument/didClose", [this](lsp::DidCloseTextDocumentParams p) {
    documents_.erase(p.textDocument.uri);
  });

  ep.on_notification<lsp::DidSaveTextDocumentParams>("textDocument/didSave", [this](lsp::DidSaveTextDocumentParams p) {
    if (auto path = uri_to_path(p.textDocument.uri)) assistant_.file_changed(*path);
  });

  // --- workspace -------------------------------------------------------------------------
  ep.on_notification<lsp::DidChangeWorkspaceFoldersParams>(
      "workspace/didChangeWorkspaceFolders", [this](lsp::DidChangeWorkspaceFoldersParams p) {
        for (const auto& f : p.event.removed)
          if (auto path = uri_to_path(f.uri)) assistant_.remove_workspace(*path);
        for (const auto& f : p.event.added)
          if (auto path = uri_to_path(f.uri)) assistant_.add_workspace(*path);
      });

  ep.on_notification<lsp::DidChangeWatchedFilesParams>("workspace/didChangeWatchedFiles",
                                                       [this](lsp::DidChangeWatchedFilesParams p) {
                                                         for (const auto& c : p.changes)
                                                           if (auto path = uri_to_path(c.uri)) assistant_.file_changed(*path);
                                                       });

  ep.on_notification<lsp::DidChangeConfigurationParams>("workspace/didChangeConfiguration",
                                                        [this](lsp::DidChangeConfigurationParams p) {
                                                          if (client_.workspaceConfiguration) pull_configuration();
                                                          else apply_client_settings(p.settings, "didChangeConfiguration");
                                                        });

  // --- features --------------------------------------------------------------------------
  ep.on_cancellable_request<lsp::InlineCompletionParams, lsp::InlineCompletionList>(
      "textDocument/inlineCompletion",
      [this](lsp::InlineCompletionParams p, Callback<lsp::InlineCompletionList> reply, lsp::CancelSignalPtr cancel) {
        auto it = documents_.find(p.textDocument.uri);
        if (it == documents_.end()) {
          reply(Error{ErrorCode::InvalidParams, "textDocument/inlineCompletion: params.textDocument.uri: " +
                                                    p.textDocument.uri + " is not open (send textDocument/didOpen first)"});
          return;
        }
        const lsp::TextDocument& doc = it->second;
        size_t offset = doc.offset_of(p.position, encoding_);
        lsp::Position at = doc.position_of(offset, encoding_);
        CompletionRequest req;
        req.document = doc.uri();
        req.path = uri_to_path(doc.uri()).value_or(std::filesystem::path());
        req.language = doc.language_id();
        req.text = doc.text();
        req.cursor = offset;
        Assistant::CompletionPartial on_first_line;
        if (!p.partialResultToken.is_null()) {
          on_first_line = [this, alive = std::weak_ptr<int>(alive_), token = p.partialResultToken, at](const Completion& c) {
            if (alive.expired()) return;
            lsp::InlineCompletionList list;
            list.items.push_back(lsp::InlineCompletionItem{c.text, lsp::Range{at, at}});
            endpoint_->notify("$/progress", Json{{"token", token}, {"value", list}});
          };
        }
        uint64_t ticket = assistant_.complete(
            std::move(req),
            [reply, at](lsp::Result<std::optional<Completion>> r) {
              if (!r) {
                reply(r.error());
                return;
              }
              lsp::InlineCompletionList list;
              if (r.value()) list.items.push_back(lsp::InlineCompletionItem{r.value()->text, lsp::Range{at, at}});
              reply(std::move(list));
            },
            std::move(on_first_line));
        Assistant* assistant = &assistant_;
        cancel->on_cancel([assistant, ticket] { assistant->cancel(ticket); });
      });

  ep.on_request<Json, lsp::StatusResult>("latent/status", [this](Json, Callback<lsp::StatusResult> reply) {
    lsp::StatusResult s = assistant_.status();
    s.version = LATENT_VERSION;
    s.pid = static_cast<int64_t>(getpid());
    s.session = lsp::StatusSession{client_name_, std::string(lsp::encoding_name(encoding_)),
                                   static_cast<int64_t>(documents_.size()),
                                   static_cast<int64_t>(endpoint_->pending_incoming())};
    reply(std::move(s));
  });

  ep.on_cancellable_request<lsp::AskParams, lsp::AskResult>(
      "latent/ask", [this](lsp::AskParams p, Callback<lsp::AskResult> reply, lsp::CancelSignalPtr cancel) {
        AskRequest req;
        req.question = p.question;
        req.conversation = p.conversation.value_or("");
        if (p.textDocument) req.path = uri_to_path(p.textDocument->uri).value_or(std::filesystem::path());
        if (p.position) req.line = p.position->line + 1;
        Json partial_token = p.partialResultToken;
        Json work_token = p.workDoneToken;
        if (!work_token.is_null())
          endpoint_->notify("$/progress", Json{{"token", work_token},
                                               {"value", lsp::progress_begin("Latent: asking", p.question, std::nullopt, true)}});
        std::weak_ptr<int> alive = alive_;
        auto on_partial = [this, alive, partial_token](const AskPartial& part) {
          if (alive.expired() || partial_token.is_null()) return;
          Json value;
          if (part.text.empty()) {
            Json sources = Json::array();
            for (const auto& s : part.sources) sources.push_back(to_ask_source(s));
            value = Json{{"sources", sources}};
          } else {
            value = Json{{"text", part.text}};
          }
          endpoint_->notify("$/progress", Json{{"token", partial_token}, {"value", value}});
        };
        uint64_t ticket = assistant_.ask(std::move(req), on_partial, [this, alive, reply, work_token](lsp::Result<AskAnswer> r) {
          if (!alive.expired() && !work_token.is_null())
            endpoint_->notify("$/progress", Json{{"token", work_token}, {"value", lsp::progress_end(r ? "done" : r.error().message)}});
          if (!r) {
            reply(r.error());
            return;
          }
          lsp::AskResult out;
          out.answer = r.value().answer;
          out.modelUsed = r.value().model_used;
          out.conversation = r.value().conversation;
          if (!alive.expired())
            for (const auto& s : r.value().sources) out.sources.push_back(to_ask_source(s));
          reply(std::move(out));
        });
        Assistant* assistant = &assistant_;
        cancel->on_cancel([assistant, ticket] { assistant->cancel(ticket); });
      });

  ep.on_request<lsp::ReindexParams, Json>("latent/reindex", [this](lsp::ReindexParams p, Callback<Json> reply) {
    std::filesystem::path root;
    if (p.uri) {
      auto path = uri_to_path(*p.uri);
      if (!path) {
        reply(Error{ErrorCode::InvalidParams, "latent/reindex: params.uri: " + *p.uri + " is not a file:// URI"});
        return;
      }
      root = *path;
    }
    assistant_.reindex(root);
    Json roots = Json::array();
    for (const auto& r : assistant_.workspaces())
      if (root.empty() || r == root.lexically_normal()) roots.push_back(r.string());
    reply(Json{{"roots", roots}});
  });
}

}  // namespace latent::daemon
