// JSON-RPC 2.0 and LSP error codes in one enum, the error value that travels in responses, and
// the "value or error" result that every asynchronous handler reports through a callback.
// Codes: https://microsoft.github.io/language-server-protocol/specifications/lsp/3.17/specification/#errorCodes
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace latent::lsp {

enum class ErrorCode : int {
  // JSON-RPC 2.0.
  ParseError = -32700,
  InvalidRequest = -32600,
  MethodNotFound = -32601,
  InvalidParams = -32602,
  InternalError = -32603,
  // LSP, JSON-RPC reserved range.
  ServerNotInitialized = -32002,
  UnknownErrorCode = -32001,
  // LSP reserved range.
  RequestFailed = -32803,
  ServerCancelled = -32802,
  ContentModified = -32801,
  RequestCancelled = -32800,
};

std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::InternalError;
  std::string message;
};

// A value or an Error. Handlers reply with exactly one Result through their Callback.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <class T>
using Callback = std::function<void(Result<T>)>;

}  // namespace latent::lsp
