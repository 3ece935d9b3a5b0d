#include "server/options.h"

#include <algorithm>

namespace latent::daemon {

bool Options::language_enabled(const std::string& language_id) const {
  if (enabled_languages.empty()) return true;
  return std::find(enabled_languages.begin(), enabled_languages.end(), language_id) != enabled_languages.end() ||
         std::find(enabled_languages.begin(), enabled_languages.end(), "*") != enabled_languages.end();
}

}  // namespace latent::daemon
