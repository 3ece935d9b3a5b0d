#include "lsp/error_codes.h"

namespace latent::lsp {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::ParseError: return "ParseError";
    case ErrorCode::InvalidRequest: return "InvalidRequest";
    case ErrorCode::MethodNotFound: return "MethodNotFound";
    case ErrorCode::InvalidParams: return "InvalidParams";
    case ErrorCode::InternalError: return "InternalError";
    case ErrorCode::ServerNotInitialized: return "ServerNotInitialized";
    case ErrorCode::UnknownErrorCode: return "UnknownErrorCode";
    case ErrorCode::RequestFailed: return "RequestFailed";
    case ErrorCode::ServerCancelled: return "ServerCancelled";
    case ErrorCode::ContentModified: return "ContentModified";
    case ErrorCode::RequestCancelled: return "RequestCancelled";
  }
  return "UnknownErrorCode";
}

}  // namespace latent::lsp
