#include "cli/bench_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <stdlib.h>
#include <memory>
#include <thread>

#include "cli/command.h"

namespace latent::cli {

double measure_read_bandwidth(int threads, size_t buffer_bytes) {
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());
  size_t n = buffer_bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[n]);
  // Touch every page from the threads that will read it, so first-touch placement is fair.
  auto fill = [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) buf[i] = i * 2654435761u;
  };
  auto run = [&](auto&& body) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(body, n * t / threads, n * (t + 1) / threads);
    for (auto& th : pool) th.join();
  };
  run(fill);
  std::vector<uint64_t> sinks(threads * 8);
  double best = 0;
  for (int pass = 0; pass < 4; ++pass) {
    Stopwatch sw;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        size_t lo = n * t / threads, hi = n * (t + 1) / threads;
        uint64_t a = 0, b = 0, c = 0, d = 0;
        size_t i = lo;
        for (; i + 4 <= hi; i += 4) {
          a += buf[i];
          b += buf[i + 1];
          c += buf[i + 2];
          d += buf[i + 3];
        }
        for (; i < hi; ++i) a += buf[i];
        sinks[t * 8] = a + b + c + d;
      });
    }
    for (auto& th : pool) th.join();
    best = std::max(best, double(n * sizeof(uint64_t)) / sw.seconds());
  }
  uint64_t total = 0;
  for (auto s : sinks) total += s;
  if (total == 42) std::fputs("", stderr);  // keeps the loads observable to the optimizer
  return best;
}

uint64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

std::string Table::render() const {
  std::vector<size_t> width(header_.size(), 0);
  auto widen = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  };
  widen(header_);
  for (const auto& r : rows_) widen(r);
  auto numeric = [](const std::string& s) {
    return !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '.');
  };
  std::string out;
  auto emit = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < r.size() ? r[i] : "";
      std::string pad(width[i] - cell.size(), ' ');
      out += (i ? "  " : "") + (numeric(cell) ? pad + cell : cell + pad);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
  };
  emit(header_);
  size_t total = 0;
  for (auto w : width) total += w;
  out += std::string(total + 2 * (width.size() - 1), '-') + '\n';
  for (const auto& r : rows_) emit(r);
  return out;
}

std::string format_fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "latent-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

EngineSizes parse_engine_sizes(const std::string& spec, int64_t scale) {
  EngineSizes s;
  size_t at = 0;
  while (at <= spec.size()) {
    const size_t end = std::min(spec.find(',', at), spec.size());
    const std::string item = spec.substr(at, end - at);
    at = end + 1;
    const size_t colon = item.find(':');
    const std::string kind = item.substr(0, colon);
    std::vector<int64_t>* list = kind == "prefill" ? &s.prefill : kind == "decode" ? &s.decode : nullptr;
    const char* digits = colon == std::string::npos ? "" : item.c_str() + colon + 1;
    char* num_end = nullptr;
    const long long n = std::strtoll(digits, &num_end, 10);
    if (!list || num_end == digits || *num_end != '\0' || n < 0 || (kind == "prefill" && n == 0))
      throw UsageError("--sizes: '" + item + "' is not prefill:N (N > 0) or decode:N (N >= 0); e.g. " +
                       "--sizes prefill:512,decode:0,decode:4096");
    list->push_back(int64_t(n) / scale);
  }
  return s;
}

}  // namespace latent::cli
