#include "server/service/server_config.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::service {
namespace {

using ::testing::HasSubstr;

std::string WriteConfig(const std::string& name, const std::string& text) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ServerConfigTest, LoadsPipelinesAndDefaultsLimits) {
  auto config = LoadServerConfig(WriteConfig("good.pbtxt", R"pb(
    pipelines {
      name: "train-csv"
      config { csv { data_csv: "train.csv" data_shape: 3 batch_size: 30 } }
    }
    limits { max_iterators: 8 }
  )pb"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->pipelines(0).name(), "train-csv");
  EXPECT_EQ(config->limits().max_iterators(), 8);
  EXPECT_EQ(config->limits().idle_timeout_seconds(), 300);
  EXPECT_EQ(config->limits().chunk_bytes(), 4u << 20);
}

TEST(ServerConfigTest, SyntaxErrorNamesFileAndLine) {
  auto config = LoadServerConfig(
      WriteConfig("syntax.pbtxt", "pipelines {\n  nmae: \"x\"\n}\n"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("syntax.pbtxt:2:"));
  EXPECT_THAT(config.status().message(), HasSubstr("nmae"));
}

TEST(ServerConfigTest, InvalidPipelineFieldIsNamed) {
  auto config = LoadServerConfig(WriteConfig("bad.pbtxt", R"pb(
    pipelines {
      name: "train"
      config { csv { data_csv: "train.csv" data_shape: 3 batch_size: 0 } }
    }
  )pb"));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("pipelines[0] 'train'"));
  EXPECT_THAT(config.status().message(), HasSubstr("csv.batch_size"));
}

TEST(ServerConfigTest, DuplicateAndInvalidNamesAreRejected) {
  auto duplicate = LoadServerConfig(WriteConfig("dup.pbtxt", R"pb(
    pipelines {
      name: "a"
      config { csv { data_csv: "x" data_shape: 1 batch_size: 1 } }
    }
    pipelines {
      name: "a"
      config { csv { data_csv: "y" data_shape: 1 batch_size: 1 } }
    }
  )pb"));
  EXPECT_THAT(duplicate.status().message(), HasSubstr("pipelines[1] 'a'"));
  auto bad_name = LoadServerConfig(WriteConfig("name.pbtxt", R"pb(
    pipelines {
      name: "a b"
      config { csv { data_csv: "x" data_shape: 1 batch_size: 1 } }
    }
  )pb"));
  EXPECT_THAT(bad_name.status().message(), HasSubstr("name must be"));
}

TEST(ServerConfigTest, PipelineWithoutKindIsRejected) {
  auto config = LoadServerConfig(WriteConfig("nokind.pbtxt", R"pb(
    pipelines {
      name: "empty"
      config {}
    }
  )pb"));
  EXPECT_THAT(config.status().message(), HasSubstr("kind"));
}

TEST(ServerConfigTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadServerConfig("/nonexistent/iterd.pbtxt").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace iterd::service
