// `latent make-model` end to end: the binary writes a loadable file of the requested shape and
// type, prints its summary, and rejects bad options with exit status 2 and the option's name.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "gguf/gguf.h"

namespace latent::testmodel {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr
};

Result run(const std::string& args) {
  Result r;
  const std::string cmd = std::string(LATENT_CLI_BINARY) + " make-model " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(MakeModelCli, WritesTheRequestedModel) {
  const fs::path out = fs::temp_directory_path() / ("latent_make_model_cli_" + std::to_string(::getpid()) + ".gguf");
  Result r = run("--out " + out.string() + " --like ds3-tiny --layers 2 --type Q8_0 --seed 5 --experts 8 --threads 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("34 tensors"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no tokenizer metadata"), std::string::npos) << r.output;
  gguf::File f = gguf::File::open(out);
  EXPECT_EQ(f.require_uint("deepseek2.block_count"), 2u);
  EXPECT_EQ(f.require_uint("deepseek2.expert_count"), 8u);
  EXPECT_EQ(f.require_uint("deepseek2.attention.q_lora_rank"), 160u);
  EXPECT_EQ(f.require_tensor("blk.1.ffn_gate_exps.weight").ne, (std::vector<int64_t>{192, 128, 8}));
  EXPECT_EQ(f.require_tensor("output.weight").type, gguf::TensorType::Q8_0);
  fs::remove(out);
}

TEST(MakeModelCli, RejectsBadOptionsNamingThem) {
  Result r = run("--out x.gguf --type Q3_K");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("Q3_K"), std::string::npos) << r.output;
  r = run("--out x.gguf --like gpt-2");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--like"), std::string::npos) << r.output;
  r = run("--like ds3-tiny");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
  r = run("--out x.gguf --experts-used 99");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("experts used"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists("x.gguf"));
}

}  // namespace
}  // namespace latent::testmodel
