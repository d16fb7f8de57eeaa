// File: tests/cpp/shared_daemon.h
//
// SharedDaemonTest: a gtest fixture whose suite shares one real daemon
// (DaemonProcess with default options), started before the suite's first
// test and stopped after its last; a test that cannot start it fails.
// InlineNDArrayOpen: the OpenIterator of the NDArrayIter the client tests
// read, over arrays they upload.

#ifndef ITERD_TESTS_CPP_SHARED_DAEMON_H_
#define ITERD_TESTS_CPP_SHARED_DAEMON_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "iterd/v1/service.pb.h"
#include "tests/cpp/daemon_process.h"

namespace iterd::test_support {

class SharedDaemonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = std::make_unique<DaemonProcess>();
    const absl::Status started = daemon_->Start(DaemonOptions());
    ASSERT_TRUE(started.ok()) << started;
  }
  static void TearDownTestSuite() { daemon_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(daemon_ != nullptr && !daemon_->address().empty())
        << "the suite's daemon did not start";
  }

  // "127.0.0.1:PORT" of the suite's daemon.
  static const std::string& daemon_address() { return daemon_->address(); }

 private:
  static inline std::unique_ptr<DaemonProcess> daemon_;
};

// NDArrayIter (pad) over inline float32 data (samples, features) named
// "data" and label (samples,) named "softmax_label", uploaded in that order.
inline iterd::v1::OpenIterator InlineNDArrayOpen(int64_t samples,
                                                 int64_t features,
                                                 int64_t batch_size) {
  iterd::v1::OpenIterator open;
  iterd::v1::NDArrayConfig* config = open.mutable_config()->mutable_ndarray();
  iterd::v1::ArraySource* data = config->add_data();
  data->set_name("data");
  data->mutable_inline_()->set_dtype(iterd::v1::FLOAT32);
  data->mutable_inline_()->add_shape(samples);
  data->mutable_inline_()->add_shape(features);
  iterd::v1::ArraySource* label = config->add_label();
  label->set_name("softmax_label");
  label->mutable_inline_()->set_dtype(iterd::v1::FLOAT32);
  label->mutable_inline_()->add_shape(samples);
  config->set_batch_size(batch_size);
  config->set_last_batch_handle(iterd::v1::PAD);
  return open;
}

}  // namespace iterd::test_support

#endif  // ITERD_TESTS_CPP_SHARED_DAEMON_H_
