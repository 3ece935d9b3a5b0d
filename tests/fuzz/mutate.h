// Seeded random edits of a fuzz seed (the replay tests' stand-in for libFuzzer's mutator, so
// that every build, gcc included, runs the fuzz targets on more than their seeds).
#pragma once

#include <random>
#include <string>

namespace latent::fuzz {

// 1 to 8 edits: overwrite a byte, erase a run, duplicate a piece, insert a byte from `alphabet`.
inline std::string mutate(std::string input, std::mt19937& rng, const std::string& alphabet) {
  int edits = 1 + static_cast<int>(rng() % 8);
  for (int e = 0; e < edits && !input.empty(); ++e) {
    size_t at = rng() % input.size();
    switch (rng() % 4) {
      case 0: input[at] = static_cast<char>(rng()); break;
      case 1: input.erase(at, 1 + rng() % 8); break;
      case 2: input.insert(at, input.substr(rng() % input.size(), rng() % 16)); break;
      case 3: input.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
    }
  }
  return input;
}

// Runs the target on each seed and on `rounds` mutations of it, each prefixed by a random byte
// (the targets read their mode from the first byte).
template <class Target>
void replay(const std::vector<std::string>& seeds, int rounds, const std::string& alphabet, uint32_t seed,
            Target target) {
  std::mt19937 rng(seed);
  for (const std::string& s : seeds) {
    for (int round = 0; round < rounds; ++round) {
      std::string input = std::string(1, static_cast<char>(rng())) + (round == 0 ? s : mutate(s, rng, alphabet));
      target(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    }
  }
}

}  // namespace latent::fuzz
