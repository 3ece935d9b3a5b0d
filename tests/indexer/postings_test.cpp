// Packed reference positions: a round trip keeps every distinct place in order with its kind,
// and a damaged blob is an error rather than made-up positions.
#include <gtest/gtest.h>

#include <stdexcept>

#include "indexer/postings.h"

namespace latent::indexer {
namespace {

TEST(Postings, RoundTripSortsAndDropsDuplicatePlaces) {
  std::vector<Position> in = {{900000, 3, 1}, {2, 70000, 0}, {2, 5, 4}, {2, 5, 2}, {1, 1, 8}};
  std::vector<Position> out = unpack_positions(pack_positions(in));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].line, 1u);
  EXPECT_EQ(out[0].kind, 8u);
  EXPECT_EQ(out[1].line, 2u);
  EXPECT_EQ(out[1].column, 5u);
  EXPECT_EQ(out[1].kind, 4u);  // the first kind given for a place
  EXPECT_EQ(out[2].column, 70000u);
  EXPECT_EQ(out[3].line, 900000u);
  EXPECT_EQ(out[3].column, 3u);
  EXPECT_EQ(out[3].kind, 1u);
  EXPECT_TRUE(unpack_positions(pack_positions({})).empty());
}

TEST(Postings, TruncatedBlobIsAnError) {
  std::string blob = pack_positions({{300, 200, 1}});
  EXPECT_THROW(unpack_positions(blob.substr(0, 1)), std::runtime_error);
  EXPECT_THROW(unpack_positions(std::string(6, '\xff')), std::runtime_error);
}

}  // namespace
}  // namespace latent::indexer
