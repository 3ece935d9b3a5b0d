// A mapped GGUF that changes on disk (issue 20, item 4): a file truncated while mapped reads as
// zeros instead of killing the process with SIGBUS, and changed_on_disk() names what happened
// (shrunk, replaced, resized, modified, deleted).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/temp_dir.h"
#include "gguf/gguf.h"

namespace latent::gguf {
namespace {

namespace fs = std::filesystem;

// A file with 256 KiB of 0x5a tensor data, most of it beyond the first pages.
void write_model(const fs::path& path, uint8_t fill = 0x5a) {
  Writer w;
  w.add_string("general.architecture", "test");
  w.add_tensor("big", TensorType::F32, {65536}, std::vector<uint8_t>(65536 * 4, fill));
  w.write(path);
}

std::string problem(const File& f) { return f.changed_on_disk().value_or(""); }

TEST(gguf_mapping, truncated_while_mapped_reads_zeros_and_is_reported) {
  latent::testing::TempDir dir;
  fs::path path = dir.file("m.gguf");
  write_model(path);
  File f = File::open(path);
  EXPECT_EQ(problem(f), "");
  const TensorInfo& t = f.require_tensor("big");
  EXPECT_EQ(t.data[t.n_bytes - 1], 0x5a);
  ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
  // Every page past the new end would raise SIGBUS.
  volatile uint8_t sum = 0;
  for (uint64_t i = 0; i < t.n_bytes; i += 4096) sum = static_cast<uint8_t>(sum + t.data[i]);
  EXPECT_EQ(t.data[t.n_bytes - 1], 0);
  std::string p = problem(f);
  EXPECT_NE(p.find("shrank while in use"), std::string::npos) << p;
  EXPECT_NE(p.find(path.string()), std::string::npos) << p;
}

TEST(gguf_mapping, replaced_resized_modified_or_deleted_files_are_reported) {
  latent::testing::TempDir dir;
  fs::path path = dir.file("m.gguf");
  write_model(path);
  {
    File f = File::open(path);
    write_model(path, 0x11);  // the writer replaces the file atomically: a new inode
    EXPECT_NE(problem(f).find("replaced"), std::string::npos) << problem(f);
    EXPECT_EQ(f.require_tensor("big").data[0], 0x5a);  // the old inode stays mapped
  }
  {
    File f = File::open(path);
    ASSERT_EQ(::truncate(path.c_str(), fs::file_size(path) + 10), 0);
    EXPECT_NE(problem(f).find("changed size"), std::string::npos) << problem(f);
  }
  {
    File f = File::open(path);
    struct timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
    EXPECT_NE(problem(f).find("was modified"), std::string::npos) << problem(f);
  }
  {
    File f = File::open(path);
    fs::remove(path);
    EXPECT_NE(problem(f).find("is gone"), std::string::npos) << problem(f);
  }
}

TEST(gguf_mapping, faults_outside_guarded_mappings_keep_their_default_action) {
  // A mapping nobody guards: SIGBUS still ends the process, as before.
  EXPECT_DEATH(
      {
        latent::testing::TempDir dir;
        fs::path path = dir.file("raw");
        write_model(path);
        int fd = ::open(path.c_str(), O_RDONLY);
        size_t size = fs::file_size(path);
        auto* p = static_cast<volatile const uint8_t*>(mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0));
        File guarded = File::open(path);  // installs the handler
        if (::truncate(path.c_str(), 0) == 0) (void)p[size - 1];
      },
      "");
}

}  // namespace
}  // namespace latent::gguf
