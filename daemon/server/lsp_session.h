// One editor connection speaking LSP: maps each method to an on_xxx(params, callback) handler
// over the protocol-free Assistant, owns the connection's LSP state (open documents, the
// negotiated position encoding, lifecycle, progress tokens) and converts between LSP
// positions and byte offsets. Several sessions (one per editor on the unix socket) share one
// Assistant. No I/O: bytes arrive through receive() and leave through the writer.
//
// Lifecycle (LSP 3.17 "Server lifetime"): before initialize every request is answered
// ServerNotInitialized and notifications other than exit are dropped; after shutdown requests
// are answered InvalidRequest; exit ends the session with code 0 after shutdown, else 1.
//
// Latent's own methods:
//   latent/status  {} -> the Assistant's status plus this connection's state
//   latent/ask     {question, textDocument?, position?, partialResultToken?, workDoneToken?}
//                  -> {answer, modelUsed, sources: [{location, path, line, symbol?, score}]};
//                  with a partialResultToken, $/progress first carries {sources: [...]} and then
//                  {text: "<next piece of the answer>"} values
//   latent/reindex {uri?} -> {roots: [...]}: re-index one workspace folder, or all
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "lsp/endpoint.h"
#include "lsp/position.h"
#include "lsp/protocol.h"
#include "lsp/text_document.h"
#include "server/assistant.h"

namespace latent::daemon {

class LspSession {
 public:
  using Writer = std::function<void(std::string bytes)>;
  // Called once when the session ends: exit notification (code per the spec) or end().
  using OnExit = std::function<void(int code)>;

  LspSession(Assistant& assistant, Writer writer, OnExit on_exit);
  ~LspSession();
  LspSession(const LspSession&) = delete;
  LspSession& operator=(const LspSession&) = delete;

  void receive(std::string_view bytes);
  // The transport closed (EOF, vanished client): pending work is cancelled.
  void end(const std::string& reason);

  bool initialized() const { return initialize_received_; }
  bool shutdown_requested() const { return shutdown_received_; }
  lsp::PositionEncoding encoding() const { return encoding_; }
  size_t open_documents() const { return documents_.size(); }

 private:
  void register_handlers();
  void pull_configuration();
  void apply_client_settings(const lsp::Json& settings, const std::string& origin);
  void on_workspace_event(const WorkspaceEvent& ev);
  void register_watched_files();
  void show_message(int type, const std::string& message);
  lsp::AskSource to_ask_source(const Source& s) const;

  Assistant& assistant_;
  OnExit on_exit_;
  std::unique_ptr<lsp::Endpoint> endpoint_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  bool initialize_received_ = false;
  bool shutdown_received_ = false;
  bool ended_ = false;
  bool initialized_received_ = false;
  bool watched_files_registered_ = false;
  lsp::PositionEncoding encoding_ = lsp::PositionEncoding::Utf16;
  lsp::ClientCapabilities client_;
  std::string client_name_;
  std::map<std::string, lsp::TextDocument> documents_;
  int listener_ = 0;

  // window/workDoneProgress tokens for indexing, per workspace root.
  struct ProgressToken {
    std::string token;
    bool created = false;
    bool ended = false;
    std::vector<lsp::Json> queued;  // values waiting for the create response
  };
  std::map<std::string, ProgressToken> progress_;
  int next_token_ = 1;
};

}  // namespace latent::daemon
