// Survives a model file shrinking while it is mapped. Reading a page of a file mapping past the
// file's current end raises SIGBUS, which kills the process: that happens when someone truncates
// the model in place or copies a new one over it while latentd serves it. A MappingGuard
// registers a mapped range with a process-wide SIGBUS handler; a fault inside a guarded range
// maps zero pages over the whole range (the faulting read is then retried and sees zeros) and
// marks the guard faulted, so the owner can notice, report the file as damaged and stop using it.
// Faults anywhere else keep their previous handling (another handler, or the default crash).
#pragma once

#include <cstddef>

namespace latent::gguf {

class MappingGuard {
 public:
  // The range must be a page-aligned mapping that outlives the guard. At most kMaxGuarded
  // ranges are guarded at once; further ones are not (guarded() is false).
  MappingGuard(const void* base, size_t size);
  ~MappingGuard();
  MappingGuard(const MappingGuard&) = delete;
  MappingGuard& operator=(const MappingGuard&) = delete;

  bool guarded() const { return slot_ >= 0; }
  // A read of the range faulted since the guard was made: its contents are now partly zeros.
  bool faulted() const;

  static constexpr int kMaxGuarded = 64;

 private:
  int slot_ = -1;
};

}  // namespace latent::gguf
