#include "gguf/mapping_guard.h"

#include <sys/mman.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <mutex>

namespace latent::gguf {

namespace {

// Lock-free so that the signal handler may read it: a slot is in use while begin != 0.
struct Slot {
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<bool> faulted{false};
};
Slot g_slots[MappingGuard::kMaxGuarded];
struct sigaction g_previous {};

void forward(int sig, siginfo_t* info, void* context) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) {
      g_previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default action: delivered (and fatal) as soon as this handler returns.
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void on_sigbus(int sig, siginfo_t* info, void* context) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Slot& s : g_slots) {
    const uintptr_t begin = s.begin.load(std::memory_order_acquire);
    if (begin == 0 || addr < begin || addr >= s.end.load(std::memory_order_acquire)) continue;
    // mmap is a plain system call, safe here. Zeros over the whole range: one fault, not one per page.
    void* p = mmap(reinterpret_cast<void*>(begin), s.end.load() - begin, PROT_READ,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p != MAP_FAILED) {
      s.faulted.store(true, std::memory_order_release);
      return;
    }
  }
  forward(sig, info, context);
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGBUS, &sa, &g_previous);
  });
}

}  // namespace

MappingGuard::MappingGuard(const void* base, size_t size) {
  if (!base || size == 0) return;
  install_handler();
  for (int i = 0; i < kMaxGuarded; ++i) {
    Slot& s = g_slots[i];
    uintptr_t expected = 0;
    // Claim the slot with a placeholder so the handler never sees a half-written range.
    if (!s.begin.compare_exchange_strong(expected, UINTPTR_MAX)) continue;
    s.faulted.store(false);
    s.end.store(reinterpret_cast<uintptr_t>(base) + size, std::memory_order_release);
    s.begin.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    slot_ = i;
    return;
  }
}

MappingGuard::~MappingGuard() {
  if (slot_ >= 0) g_slots[slot_].begin.store(0, std::memory_order_release);
}

bool MappingGuard::faulted() const { return slot_ >= 0 && g_slots[slot_].faulted.load(std::memory_order_acquire); }

}  // namespace latent::gguf
