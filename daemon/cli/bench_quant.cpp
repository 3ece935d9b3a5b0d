// `latent bench quant`: how fast each weight format's dot kernel streams weights. For every type
// a weight matrix much larger than the last-level cache is multiplied with one activation vector
// through quant::vec_dot_rows (the matmul entry point), on one thread and on all threads; the
// result, in GB/s of weight bytes, is set next to the memory read bandwidth measured in the same
// run with the same thread counts. Decode is a stream of such matrix-vector products, so the
// ratio says how close each format gets to the machine's roofline. Prefill is bound by compute
// instead: for it the table adds how much faster quant::vec_dot_tile multiplies a cache-resident
// tile of weight rows with 4 activation rows than vec_dot_rows does once per activation row.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/bench_util.h"
#include "cli/command.h"
#include "gguf/tensor_type.h"
#include "quant/quant.h"

namespace latent::cli {
namespace {

using gguf::TensorType;

const TensorType kTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                             TensorType::Q6_K, TensorType::Q5_K, TensorType::Q5_1, TensorType::Q5_0,
                             TensorType::Q4_K, TensorType::Q4_1, TensorType::Q4_0};

// Rows of n columns quantized from random data, repeated to fill `bytes`: every block is a
// valid block of the format, and filling stays cheap even for the iterative K-quant quantizer.
struct Matrix {
  std::unique_ptr<uint8_t[]> data;
  size_t row_bytes = 0;
  int64_t rows = 0;
};

Matrix make_matrix(TensorType t, int64_t n, size_t bytes, int threads) {
  Matrix m;
  m.row_bytes = gguf::row_bytes(t, n);
  m.rows = static_cast<int64_t>(bytes / m.row_bytes);
  m.data.reset(new uint8_t[static_cast<size_t>(m.rows) * m.row_bytes]);
  constexpr int kDistinct = 16;
  std::vector<uint8_t> pattern(kDistinct * m.row_bytes);
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> row(static_cast<size_t>(n));
  for (int r = 0; r < kDistinct; ++r) {
    for (auto& v : row) v = dist(rng);
    quant::quantize_row(t, row.data(), pattern.data() + r * m.row_bytes, n);
  }
  // Each thread writes the rows it will read, so pages are placed where they are used.
  std::vector<std::thread> pool;
  for (int th = 0; th < threads; ++th)
    pool.emplace_back([&, th] {
      const int64_t lo = m.rows * th / threads, hi = m.rows * (th + 1) / threads;
      for (int64_t r = lo; r < hi; ++r)
        std::memcpy(m.data.get() + static_cast<size_t>(r) * m.row_bytes, pattern.data() + (r % kDistinct) * m.row_bytes,
                    m.row_bytes);
    });
  for (auto& p : pool) p.join();
  return m;
}

// Size of the largest cache level sysfs reports for CPU 0 (0 if unknown).
size_t last_level_cache_bytes() {
  size_t best = 0;
  for (int idx = 0; idx < 8; ++idx) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/size");
    std::string s;
    if (!(in >> s) || s.empty()) continue;
    size_t v = std::strtoull(s.c_str(), nullptr, 10);
    if (s.back() == 'K') v <<= 10;
    else if (s.back() == 'M') v <<= 20;
    best = std::max(best, v);
  }
  return best;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Rate {
  double wall_gbps = 0;  // what a user sees
  double cpu_gbps = 0;   // per CPU-second of the calling thread (1 thread only): on a shared
                         // machine this is the kernel's own speed, unaffected by other processes
};

// Best-of-passes GB/s of streaming the whole matrix through vec_dot_rows on `threads` threads.
Rate stream_rate(TensorType t, int64_t n, const Matrix& m, const std::vector<uint8_t>& x, int threads, int passes,
                 std::vector<float>& out) {
  Rate best;
  const double bytes = static_cast<double>(m.rows) * static_cast<double>(m.row_bytes);
  for (int pass = 0; pass < passes; ++pass) {
    Stopwatch sw;
    if (threads == 1) {
      const double cpu0 = thread_cpu_seconds();
      quant::vec_dot_rows(t, n, m.data.get(), m.row_bytes, m.rows, x.data(), out.data());
      best.cpu_gbps = std::max(best.cpu_gbps, bytes / (thread_cpu_seconds() - cpu0) / 1e9);
    } else {
      std::vector<std::thread> pool;
      for (int th = 0; th < threads; ++th)
        pool.emplace_back([&, th] {
          const int64_t lo = m.rows * th / threads, hi = m.rows * (th + 1) / threads;
          quant::vec_dot_rows(t, n, m.data.get() + static_cast<size_t>(lo) * m.row_bytes, m.row_bytes, hi - lo,
                              x.data(), out.data() + lo);
        });
      for (auto& p : pool) p.join();
    }
    best.wall_gbps = std::max(best.wall_gbps, bytes / sw.seconds() / 1e9);
  }
  return best;
}

// Best-of-passes speedup of vec_dot_tile over vec_dot_rows per column, for 4 activation rows
// against about 128 KiB of weight rows (they stay in L2, as the CPU matmul's tiles do), on the
// calling thread and in its CPU time, so other processes on the machine matter less.
double tile_speedup(TensorType t, int64_t n, const Matrix& m, const std::vector<uint8_t>& x, int passes) {
  constexpr int kCols = 4;
  const int64_t rows = std::clamp<int64_t>(static_cast<int64_t>((size_t(128) << 10) / m.row_bytes), 1, m.rows);
  std::vector<float> out(static_cast<size_t>(kCols * rows));
  const void* xs[kCols];
  float* outs[kCols];
  for (int c = 0; c < kCols; ++c) xs[c] = x.data(), outs[c] = out.data() + c * rows;
  const int reps = 64;
  double best_rows = 1e30, best_tile = 1e30;
  for (int pass = 0; pass < 2 * passes; ++pass) {
    double t0 = thread_cpu_seconds();
    for (int rep = 0; rep < reps; ++rep)
      for (int c = 0; c < kCols; ++c) quant::vec_dot_rows(t, n, m.data.get(), m.row_bytes, rows, xs[c], outs[c]);
    best_rows = std::min(best_rows, thread_cpu_seconds() - t0);
    t0 = thread_cpu_seconds();
    for (int rep = 0; rep < reps; ++rep) quant::vec_dot_tile(t, n, m.data.get(), m.row_bytes, rows, xs, kCols, outs);
    best_tile = std::min(best_tile, thread_cpu_seconds() - t0);
  }
  return best_rows / best_tile;
}

}  // namespace

int bench_quant(const ParsedArgs& args) {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = static_cast<int>(args.get_int("threads", hw));
  if (threads < 1) throw UsageError("--threads must be at least 1");
  const bool quick = args.has("quick");
  // Four times the last-level cache (at least 1 GiB) so every pass streams from DRAM; --quick
  // uses 256 MiB, which a large LLC may partly hold (a smoke test, not a measurement).
  const size_t llc = last_level_cache_bytes();
  const size_t matrix_bytes = quick ? (size_t(256) << 20) : std::max(size_t(1) << 30, 4 * llc);
  const int passes = quick ? 2 : 4;
  const int64_t n = 4096;  // a model-like row length, a multiple of every block size

  const double bw1 = measure_read_bandwidth(1, matrix_bytes) / 1e9;
  const double bwn = threads == 1 ? bw1 : measure_read_bandwidth(threads, matrix_bytes) / 1e9;

  std::vector<float> xs(static_cast<size_t>(n));
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : xs) v = dist(rng);

  struct Row {
    TensorType type;
    double bits, gbps1, cpu1, gbpsn, tile4;
  };
  std::vector<Row> rows;
  for (TensorType t : kTypes) {
    const Matrix m = make_matrix(t, n, matrix_bytes, threads);
    std::vector<uint8_t> x(quant::activation_row_bytes(t, n));
    quant::quantize_activations(t, xs.data(), x.data(), n);
    std::vector<float> out(static_cast<size_t>(m.rows));
    const Rate r1 = stream_rate(t, n, m, x, 1, passes, out);
    const double gn = threads == 1 ? r1.wall_gbps : stream_rate(t, n, m, x, threads, passes, out).wall_gbps;
    rows.push_back({t, 8.0 * static_cast<double>(m.row_bytes) / static_cast<double>(n), r1.wall_gbps, r1.cpu_gbps, gn,
                    tile_speedup(t, n, m, x, passes)});
  }

  if (args.has("json")) {
    nlohmann::json j;
    j["suite"] = "quant";
    j["simd"] = std::string(quant::simd_level());
    j["threads"] = threads;
    j["matrix_bytes"] = matrix_bytes;
    j["llc_bytes"] = llc;
    j["row_length"] = n;
    j["read_bandwidth_gbps"] = {{"single_thread", bw1}, {"all_threads", bwn}};
    nlohmann::json ks = nlohmann::json::array();
    for (const auto& r : rows)
      ks.push_back({{"type", std::string(gguf::type_name(r.type))}, {"bits_per_weight", r.bits},
                    {"single_thread_gbps", r.gbps1}, {"single_thread_ratio", r.gbps1 / bw1},
                    {"single_thread_gbps_per_cpu_second", r.cpu1},
                    {"all_threads_gbps", r.gbpsn}, {"all_threads_ratio", r.gbpsn / bwn},
                    {"all_threads_gweights_per_s", r.gbpsn * 8.0 / r.bits}, {"tile4_speedup", r.tile4}});
    j["kernels"] = ks;
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }

  std::printf("vec_dot_rows weight streaming: %s kernels, %.0f MiB matrix per type (LLC %.0f MiB), rows of %lld\n",
              std::string(quant::simd_level()).c_str(), static_cast<double>(matrix_bytes) / (1 << 20),
              static_cast<double>(llc) / (1 << 20), static_cast<long long>(n));
  std::printf("memory read bandwidth (same run): %.1f GB/s on 1 thread, %.1f GB/s on %d threads\n\n", bw1, bwn, threads);
  const std::string tn = std::to_string(threads) + " thr";
  Table table({"type", "bits/w", "1 thr GB/s", "of BW", "1 thr GB/cpu-s", tn + " GB/s", "of BW", tn + " Gw/s",
               "tile x4"});
  for (const auto& r : rows)
    table.add({std::string(gguf::type_name(r.type)), format_fixed(r.bits, 2), format_fixed(r.gbps1, 2),
               format_fixed(100.0 * r.gbps1 / bw1, 0) + "%", format_fixed(r.cpu1, 2), format_fixed(r.gbpsn, 2),
               format_fixed(100.0 * r.gbpsn / bwn, 0) + "%", format_fixed(r.gbpsn * 8.0 / r.bits, 2),
               format_fixed(r.tile4, 2) + "x"});
  std::fputs(table.render().c_str(), stdout);
  std::printf("\nGB/cpu-s: weight bytes per CPU-second of the streaming thread; well above the wall-clock\n"
              "rate means other processes were sharing the cores during the run. tile x4: speedup of\n"
              "vec_dot_tile on 4 activation rows over vec_dot_rows once per row, weights in L2, 1 thread\n"
              "(prefill's kernel gain).\n");
  return 0;
}

}  // namespace latent::cli
