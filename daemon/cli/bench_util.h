// Shared pieces of `latent bench <suite>`: the machine's memory bandwidth measured in the same
// run (the roofline every throughput is compared with), peak RSS, timing, and table output.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace latent::cli {

// Sustained read bandwidth in bytes/s: streams a buffer much larger than the last-level cache
// with `threads` threads (0 = all hardware threads), best of a few passes.
double measure_read_bandwidth(int threads, size_t buffer_bytes = size_t(1) << 30);
// Peak resident set size of this process so far, in bytes (VmHWM).
uint64_t peak_rss_bytes();

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// The points `latent bench engine --sizes "prefill:512,decode:0,decode:4096"` measures, each
// divided by `scale` (--quick) like the default suite's; throws UsageError for anything else.
struct EngineSizes {
  std::vector<int64_t> prefill;  // prompt lengths
  std::vector<int64_t> decode;   // context lengths decoded at
};
EngineSizes parse_engine_sizes(const std::string& spec, int64_t scale);

// A plain text table: columns aligned, numbers right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

std::string format_fixed(double v, int decimals);

// The q-quantile (0..1) of `v`, nearest rank; 0 when empty.
double percentile(std::vector<double> v, double q);

// A file's bytes; empty when it cannot be read.
std::string read_text(const std::filesystem::path& p);

// A fresh directory under the system's temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace latent::cli
