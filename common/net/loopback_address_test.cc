#include "common/net/loopback_address.h"

#include "gtest/gtest.h"

namespace iterd {
namespace {

TEST(IsLoopbackAddressTest, RecognisesLoopbackForms) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:7070"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:1"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:7070"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:7070"));
  EXPECT_TRUE(IsLoopbackAddress("ipv4:127.0.0.1:7070"));
  EXPECT_TRUE(IsLoopbackAddress("dns:///localhost:7070"));
  EXPECT_TRUE(IsLoopbackAddress("unix:/tmp/iterd.sock"));
  EXPECT_TRUE(IsLoopbackAddress("unix-abstract:iterd"));
}

TEST(IsLoopbackAddressTest, EverythingElseIsReachableFromOutside) {
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.5:7070"));
  EXPECT_FALSE(IsLoopbackAddress("trainer-host:7070"));
  EXPECT_FALSE(IsLoopbackAddress("[fe80::1]:7070"));
  EXPECT_FALSE(IsLoopbackAddress("localhost.example.com:7070"));
  EXPECT_FALSE(IsLoopbackAddress("127.evil.example:7070"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:50051"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:50051"));
  EXPECT_FALSE(IsLoopbackAddress(":50051"));
  EXPECT_FALSE(IsLoopbackAddress(""));
}

}  // namespace
}  // namespace iterd
