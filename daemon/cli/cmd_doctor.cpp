// `latent doctor`: checks, from a shell, what `:checkhealth latent` checks and what sits below it
// — the CPU and the kernels chosen for it, the Vulkan devices and the backend "auto" picks, the
// model file and whether it fits in memory, the repository's index, the KV cache directory, and a
// running daemon — and says what to do about each problem. Exit status 1 when a check fails.
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "api/engine.h"
#include "cli/command.h"
#include "cli/daemon_client.h"
#include "indexer/index.h"
#include "lsp/protocol.h"
#include "server/settings.h"

namespace latent::cli {

namespace {

namespace fs = std::filesystem;

struct Report {
  int failures = 0;
  void section(const std::string& name) { std::printf("\n%s\n", name.c_str()); }
  void ok(const std::string& what) { std::printf("  ok    %s\n", what.c_str()); }
  void info(const std::string& what) { std::printf("  info  %s\n", what.c_str()); }
  void warn(const std::string& what, const std::string& todo) {
    std::printf("  warn  %s\n        -> %s\n", what.c_str(), todo.c_str());
  }
  void fail(const std::string& what, const std::string& todo) {
    ++failures;
    std::printf("  FAIL  %s\n        -> %s\n", what.c_str(), todo.c_str());
  }
};

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// The engine's KV disk tier (EngineOptions::cache_dir's default).
fs::path kv_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "latent" / "kv";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "latent" / "kv";
  return {};
}

// The CPU's name and the SIMD features the kernels use, from /proc/cpuinfo.
std::string cpu_description() {
  std::ifstream in("/proc/cpuinfo");
  std::string name, features;
  for (std::string line; std::getline(in, line) && (name.empty() || features.empty());) {
    auto value = [&] { return line.substr(line.find(':') + 2); };
    if (name.empty() && line.rfind("model name", 0) == 0) name = value();
    if (features.empty() && line.rfind("flags", 0) == 0) {
      std::string flags = " " + value() + " ";
      for (const char* f : {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vnni", "avx512_bf16"})
        if (flags.find(std::string(" ") + f + " ") != std::string::npos) features += std::string(features.empty() ? "" : " ") + f;
    }
  }
  return (name.empty() ? "unknown CPU" : name) + " (" + (features.empty() ? "no AVX2" : features) + ")";
}

void check_machine(Report& r, const engine::MachineInfo& m, const std::string& backend) {
  r.section("CPU");
  r.info(cpu_description());
  if (m.cpu_kernels == "scalar")
    r.warn("no AVX2 or AVX-512: the quantized kernels run in plain scalar code, several times slower",
           "run Latent on an x86-64 CPU with AVX2 (2013 or later), or on a GPU with --backend vulkan");
  else
    r.ok("quantized dot kernels: " + m.cpu_kernels + " (backends built in: " + m.backends + ")");
  r.info(mib(m.memory_available) + " of memory available");

  r.section("Vulkan");
  if (m.gpus.empty()) r.info("no Vulkan device: " + m.gpu_problem + " (the CPU backend needs none)");
  for (const auto& g : m.gpus)
    r.info("device " + std::to_string(g.index) + ": " + g.name + " (" + g.type + ", " + mib(g.memory_bytes) +
           (g.free_bytes ? ", " + mib(g.free_bytes) + " free" : "") + ")");
  std::string chosen = engine::resolve_backend(backend);
  if (backend == "vulkan" && m.gpus.empty())
    r.fail("backend vulkan, but there is no Vulkan device", "install your GPU's Vulkan driver, or use --backend cpu");
  else
    r.ok("backend " + backend + (backend == chosen ? "" : " -> " + chosen));
}

void check_model(Report& r, const std::string& model, const engine::MachineInfo& m, const std::string& backend) {
  r.section("model");
  if (model.empty()) {
    r.warn("no model given: completions stay empty and questions get ranked sources only",
           "pass --model FILE.gguf here; for editors set the model setting (VS Code latent.model, Neovim "
           "setup({ server = { model = ... } }), latentd --model)");
    return;
  }
  std::error_code ec;
  uint64_t size = fs::file_size(model, ec);
  if (ec) {
    r.fail(model + ": " + ec.message(), "give the path of a downloaded GGUF file");
    return;
  }
  char magic[4] = {};
  std::ifstream(model, std::ios::binary).read(magic, 4);
  if (std::string(magic, 4) != "GGUF") {
    r.fail(model + " is not a GGUF file", "download the model in GGUF format (e.g. DeepSeek-Coder-V2-Lite Q4_K_M)");
    return;
  }
  r.ok(model + ": GGUF, " + mib(size));
  // The weights are mapped, not copied: they must fit in memory to run at speed.
  std::string chosen = engine::resolve_backend(backend);
  if (chosen == "vulkan" && !m.gpus.empty()) {
    uint64_t room = m.gpus.front().free_bytes ? m.gpus.front().free_bytes : m.gpus.front().memory_bytes;
    if (size > room * 9 / 10)
      r.warn("the model (" + mib(size) + ") does not fit in 90% of the GPU's " + mib(room) +
                 ": its first layers run on the GPU, the rest on the CPU",
             "fine as it is; --gpu-layers N sets the split, a smaller quantization (Q4_K_M) fits more");
    else
      r.ok("fits in the GPU's " + mib(room));
  }
  if (size > m.memory_available)
    r.fail("the model (" + mib(size) + ") is larger than the " + mib(m.memory_available) + " of memory available",
           "close other programs, or use a smaller quantization (Q4_K_M) or model (the Lite one)");
  else
    r.ok("fits in the " + mib(m.memory_available) + " of memory available");
}

void check_index(Report& r, const fs::path& start) {
  r.section("index");
  auto root = indexer::find_workspace_root(start);
  if (!root) {
    r.warn("no index at or above " + start.string(),
           "run `latent index` in the repository (editors index their workspace folders themselves)");
    return;
  }
  try {
    indexer::IndexOptions o;
    o.root = *root;
    auto index = indexer::Index::open(o);
    r.ok(root->string() + ": " + std::to_string(index->file_count()) + " files in " + index->options().database.string());
    if (!fs::exists(*root / ".latent" / ".gitignore"))
      r.warn(".latent/ has no .gitignore, so it shows in `git status`", "run `latent index` once to add it");
  } catch (const std::exception& e) {
    r.fail(e.what(), "delete " + (*root / ".latent").string() + " and run `latent index` to rebuild it");
  }
}

void check_kv_cache(Report& r) {
  r.section("KV cache");
  fs::path dir = kv_cache_dir();
  if (dir.empty()) {
    r.warn("neither XDG_CACHE_HOME nor HOME is set: the KV cache has no disk tier", "set HOME");
    return;
  }
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    r.ok(dir.string() + " (created on the first question or completion)");
    return;
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    r.fail(dir.string() + " is not writable", "fix its owner or permissions (chown -R $USER " + dir.string() + ")");
    return;
  }
  uint64_t used = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) used += e.file_size(ec);
  struct statvfs fsinfo{};
  uint64_t free_bytes = ::statvfs(dir.c_str(), &fsinfo) == 0 ? uint64_t(fsinfo.f_bavail) * fsinfo.f_frsize : 0;
  std::string what = dir.string() + ": " + mib(used) + " used, " + mib(free_bytes) + " free on its disk";
  if (free_bytes < (512ull << 20)) r.warn(what, "free some disk space; the cache drops pages it cannot write");
  else r.ok(what);
}

void check_daemon(Report& r, const ParsedArgs& args) {
  r.section("daemon");
  auto pids = running_latentd_pids();
  std::string count = std::to_string(pids.size()) + " latentd process(es) of this user running";
  auto socket = daemon_socket(args);
  if (!socket) {
    r.info(count + "; no shared latentd on " +
           (default_socket_path().empty() ? std::string("$XDG_RUNTIME_DIR/latent/latentd.sock") : default_socket_path().string()));
    r.info("editors start their own latentd; for one shared by editors and the CLI (one model in memory, one "
           "KV cache): systemctl --user enable --now latentd");
    return;
  }
  try {
    DaemonClient client(*socket);
    lsp::StatusResult s;
    lsp::read_value(client.request("latent/status", nlohmann::json::object()), "latent/status", s);
    r.ok("latentd " + s.version + " (pid " + std::to_string(s.pid) + ") answers on " + socket->string());
    if (s.model.loaded)
      r.ok("its model: " + s.model.name + " on " + s.model.backend);
    else
      r.warn("its model is not loaded: " + s.model.problem,
             "fix the model setting of the shared daemon (its unit's latentd --model FILE)");
    for (const auto& w : s.workspaces)
      if (w.state == "failed") r.fail("its index of " + w.root + " failed: " + w.error, "see latentd's log");
  } catch (const std::exception& e) {
    r.fail(e.what(), "systemctl --user restart latentd (the log: journalctl --user -u latentd)");
  }
}

int run_doctor(const ParsedArgs& args) {
  daemon::Options o;
  constexpr std::string_view kSettings[] = {"model", "backend"};
  apply_setting_options(args, kSettings, o);
  engine::MachineInfo m = engine::machine_info();
  Report r;
  std::printf("latent doctor\n");
  check_machine(r, m, o.backend);
  check_model(r, o.model_path, m, o.backend);
  check_index(r, fs::absolute(args.get_or("repo", ".")).lexically_normal());
  check_kv_cache(r);
  check_daemon(r, args);
  std::printf("\n%s\n", r.failures ? (std::to_string(r.failures) + " check(s) failed; see the -> lines").c_str()
                                   : "no problem found");
  return r.failures ? 1 : 0;
}

}  // namespace

Command doctor_command() {
  Command c;
  c.name = "doctor";
  c.summary = "check the machine, model, index, KV cache and daemon, and say what to fix";
  c.synopsis = "[--model FILE] [--backend NAME] [--repo DIR] [--socket PATH]";
  c.details =
      "What :checkhealth latent checks, from a shell: CPU kernels, Vulkan devices, the model file and\n"
      "its fit in memory, the repository's index, the KV cache directory and a running latentd.\n"
      "Exit status 1 when a check fails.";
  constexpr std::string_view kSettings[] = {"model", "backend"};
  c.options = setting_options(kSettings);
  c.options.push_back({"repo", "DIR", "repository whose index to check (default: the current directory)"});
  for (auto& o : daemon_options()) c.options.push_back(o);
  c.run = run_doctor;
  return c;
}

}  // namespace latent::cli
