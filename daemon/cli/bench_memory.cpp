// `latent bench memory`: the machine's read bandwidth now, the baseline the engine's decode
// roofline divides by. A comparison between engines (tests/bench/compare-llama.sh) measures it
// around each round, so a round slowed by another process's memory traffic shows.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/bench_util.h"
#include "cli/command.h"

namespace latent::cli {

int bench_memory(const ParsedArgs& args) {
  int threads = static_cast<int>(args.get_int("threads", 0));
  if (threads < 0) throw UsageError("--threads must be 0 (all cores) or more");
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t bytes = args.has("quick") ? size_t(256) << 20 : size_t(1) << 30;
  const double bandwidth = measure_read_bandwidth(threads, bytes);
  if (args.has("json")) {
    nlohmann::json j = {{"suite", "memory"}, {"threads", threads}, {"read_bytes_per_s", bandwidth}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("read bandwidth %.2f GB/s (%d threads, %zu MiB buffer)\n", bandwidth / 1e9, threads, bytes >> 20);
  }
  return 0;
}

}  // namespace latent::cli
