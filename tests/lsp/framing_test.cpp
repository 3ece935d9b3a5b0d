// LSP base-protocol framing: split reads, batched reads, unknown headers, wrong lengths and
// oversized messages, checked against bodies framed independently of the decoder.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "lsp/framing.h"

namespace latent::lsp {
namespace {

std::string frame(const std::string& body, const std::string& extra_headers = "") {
  return "Content-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

struct Drained {
  std::vector<std::string> bodies;
  std::vector<std::string> errors;
};

Drained drain(FrameDecoder& d) {
  Drained out;
  while (auto ev = d.next()) {
    if (ev->kind == FrameEvent::Kind::Message) out.bodies.push_back(ev->body);
    else out.errors.push_back(ev->error);
  }
  return out;
}

TEST(Framing, OneMessage) {
  FrameDecoder d;
  d.feed(frame(R"({"a":1})"));
  auto r = drain(d);
  ASSERT_EQ(r.bodies.size(), 1u);
  EXPECT_EQ(r.bodies[0], R"({"a":1})");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(Framing, SeveralMessagesInOneRead) {
  FrameDecoder d;
  d.feed(frame("{\"x\":1}") + frame("{\"y\":22}") + frame("[]"));
  auto r = drain(d);
  EXPECT_EQ(r.bodies, (std::vector<std::string>{"{\"x\":1}", "{\"y\":22}", "[]"}));
}

TEST(Framing, ByteByByte) {
  FrameDecoder d;
  std::string wire = frame("{\"hello\":\"w\xc3\xb6rld\"}") + frame("{}");
  Drained all;
  for (char c : wire) {
    d.feed(std::string_view(&c, 1));
    auto r = drain(d);
    all.bodies.insert(all.bodies.end(), r.bodies.begin(), r.bodies.end());
    all.errors.insert(all.errors.end(), r.errors.begin(), r.errors.end());
  }
  EXPECT_EQ(all.bodies, (std::vector<std::string>{"{\"hello\":\"w\xc3\xb6rld\"}", "{}"}));
  EXPECT_TRUE(all.errors.empty());
}

TEST(Framing, RandomSplitsReproduceEveryBody) {
  std::mt19937 rng(7);
  std::vector<std::string> bodies;
  std::string wire;
  for (int i = 0; i < 200; ++i) {
    std::string body = "{\"i\":" + std::to_string(i) + ",\"s\":\"" + std::string(rng() % 300, 'a' + static_cast<char>(i % 26)) + "\"}";
    bodies.push_back(body);
    wire += frame(body, i % 3 == 0 ? "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" : "");
  }
  FrameDecoder d;
  std::vector<std::string> got;
  for (size_t pos = 0; pos < wire.size();) {
    size_t n = std::min<size_t>(1 + rng() % 700, wire.size() - pos);
    d.feed(std::string_view(wire).substr(pos, n));
    pos += n;
    auto r = drain(d);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0];
    got.insert(got.end(), r.bodies.begin(), r.bodies.end());
  }
  EXPECT_EQ(got, bodies);
}

TEST(Framing, UnknownHeadersAndCaseAreAccepted) {
  FrameDecoder d;
  d.feed("X-Whatever: 1\r\ncontent-length: 2\r\nContent-Type: application/json\r\n\r\n{}");
  auto r = drain(d);
  EXPECT_EQ(r.bodies, std::vector<std::string>{"{}"});
  EXPECT_TRUE(r.errors.empty());
}

TEST(Framing, MissingContentLengthIsReportedAndTheNextMessageSurvives) {
  FrameDecoder d;
  d.feed("Content-Type: application/json\r\n\r\n{\"lost\":1}" + frame("{\"ok\":1}"));
  auto r = drain(d);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("without Content-Length"), std::string::npos) << r.errors[0];
  EXPECT_EQ(r.bodies, std::vector<std::string>{"{\"ok\":1}"});
}

TEST(Framing, InvalidContentLengthValues) {
  for (std::string bad : {"abc", "-1", "12x", "", "99999999999999999999999"}) {
    FrameDecoder d;
    d.feed("Content-Length: " + bad + "\r\n\r\n" + frame("{\"ok\":2}"));
    auto r = drain(d);
    ASSERT_EQ(r.errors.size(), 1u) << bad;
    EXPECT_EQ(r.bodies, std::vector<std::string>{"{\"ok\":2}"}) << bad;
  }
}

TEST(Framing, TooShortContentLengthLosesOnlyThatMessage) {
  FrameDecoder d;
  std::string body = "{\"long\":\"message\"}";
  d.feed("Content-Length: 5\r\n\r\n" + body + frame("{\"next\":1}"));
  auto r = drain(d);
  ASSERT_GE(r.bodies.size(), 2u);
  EXPECT_EQ(r.bodies.front(), body.substr(0, 5));
  EXPECT_EQ(r.bodies.back(), "{\"next\":1}");
  EXPECT_EQ(r.errors.size(), 1u);  // the leftover bytes before the next header
}

TEST(Framing, MalformedHeaderLineResyncs) {
  FrameDecoder d;
  d.feed("garbage without colon\r\n\r\n" + frame("{}"));
  auto r = drain(d);
  EXPECT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.bodies, std::vector<std::string>{"{}"});
}

TEST(Framing, HugeContentLengthIsSkippedWithoutBuffering) {
  FramingOptions o;
  o.max_content_length = 1000;
  FrameDecoder d(o);
  d.feed("Content-Length: 5000\r\n\r\n");
  auto r = drain(d);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("exceeds"), std::string::npos);
  std::string chunk(1000, 'x');
  for (int i = 0; i < 5; ++i) {
    d.feed(chunk);
    EXPECT_EQ(d.buffered_bytes(), 0u);
    EXPECT_TRUE(drain(d).bodies.empty());
  }
  d.feed(frame("{\"after\":1}"));
  EXPECT_EQ(drain(d).bodies, std::vector<std::string>{"{\"after\":1}"});
}

TEST(Framing, EndlessHeaderIsBounded) {
  FramingOptions o;
  o.max_header_bytes = 256;
  FrameDecoder d(o);
  size_t errors = 0;
  for (int i = 0; i < 100; ++i) {
    d.feed(std::string(100, 'h'));
    errors += drain(d).errors.size();
    EXPECT_LE(d.buffered_bytes(), o.max_header_bytes + 100);
  }
  EXPECT_GT(errors, 0u);
  d.feed("\r\n\r\n" + frame("{}"));
  auto r = drain(d);
  EXPECT_EQ(r.bodies, std::vector<std::string>{"{}"});
}

TEST(Framing, EncodeFrameIsWhatTheDecoderReads) {
  std::string body = "{\"\xf0\x9f\x98\x80\":1}";
  EXPECT_EQ(encode_frame(body), "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

}  // namespace
}  // namespace latent::lsp
