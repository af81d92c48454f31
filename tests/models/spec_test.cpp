// Bad model specs stop with a UserError naming the file, the line and the key.
#include <filesystem>

#include <gtest/gtest.h>

#include "crunet/crunet.h"

namespace crunet {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    models::parse_model_spec(yaml, "bad.yaml");
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

const char* kGood = R"(name: tiny
input: {channels: 1, size: 28}
classes: 10
stem: {type: small, width: 16}
stages:
  - {unit: res, units: 1, width: 32, bottleneck: 8, groups: 2}
  - {unit: cru, units: 2, width: 64, bottleneck: 16, share: 2}
)";

TEST(ModelSpec, ParsesAGoodSpec) {
  const models::ModelSpec spec = models::parse_model_spec(kGood);
  EXPECT_EQ(spec.name, "tiny");
  EXPECT_EQ(spec.in_channels, 1);
  EXPECT_EQ(spec.stages.size(), 2u);
  EXPECT_EQ(spec.stages[0].stride, 1);
  EXPECT_EQ(spec.stages[1].stride, 2);
  EXPECT_EQ(spec.stages[1].groups, 16);
  auto network = models::build(spec);
  EXPECT_EQ(network->forward(randn({2, 1, 28, 28}, 1)).shape(), (Shape{2, 10}));
}

TEST(ModelSpec, UnknownUnitTypeNamesLineKeyAndKnownTypes) {
  std::string yaml = kGood;
  yaml.replace(yaml.find("unit: cru"), 9, "unit: crv");
  const std::string m = error_of(yaml);
  EXPECT_NE(m.find("bad.yaml:7: stages[1].unit"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown unit type 'crv'"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'cru'"), std::string::npos) << m;
}

TEST(ModelSpec, WidthNotDivisibleByGroups) {
  std::string yaml = kGood;
  yaml.replace(yaml.find("groups: 2"), 9, "groups: 3");
  const std::string m = error_of(yaml);
  EXPECT_NE(m.find("bad.yaml:6: stages[0].groups"), std::string::npos) << m;
  EXPECT_NE(m.find("not divisible by groups 3"), std::string::npos) << m;
}

TEST(ModelSpec, ShareGroupThatDoesNotFitItsStage) {
  std::string yaml = kGood;
  yaml.replace(yaml.find("share: 2"), 8, "share: 3");
  const std::string m = error_of(yaml);
  EXPECT_NE(m.find("bad.yaml:7: stages[1].share"), std::string::npos) << m;
  EXPECT_NE(m.find("do not fit"), std::string::npos) << m;
}

TEST(ModelSpec, MissingKey) {
  std::string yaml = kGood;
  yaml.replace(yaml.find("width: 32, "), 11, "");
  const std::string m = error_of(yaml);
  EXPECT_NE(m.find("bad.yaml:6: stages[0].width"), std::string::npos) << m;
  EXPECT_NE(m.find("missing required key 'width'"), std::string::npos) << m;
  EXPECT_NE(error_of("name: x\nclasses: 10\n").find("missing required key 'stages'"),
            std::string::npos);
}

TEST(ModelSpec, UnknownKeySuggestsTheClosest) {
  std::string yaml = kGood;
  yaml.replace(yaml.find("bottleneck: 8"), 13, "botleneck: 8");
  const std::string m = error_of(yaml);
  EXPECT_NE(m.find("unknown key 'botleneck'; did you mean 'bottleneck'?"), std::string::npos) << m;
}

TEST(ModelSpec, WrongTypeAndSyntaxErrors) {
  std::string yaml = kGood;
  yaml.replace(yaml.find("classes: 10"), 11, "classes: ten");
  EXPECT_NE(error_of(yaml).find("bad.yaml:3: classes: must be an integer"), std::string::npos);
  EXPECT_NE(error_of("name: [unclosed\n").find("YAML syntax error"), std::string::npos);
}

TEST(ModelSpec, EveryMistakeIsReportedAtOnce) {
  const std::string m = error_of(R"(name: tiny
classes: 0
stem: {type: big, width: 16}
stages:
  - {unit: res, units: 1, width: 32, bottleneck: 8, groups: 3}
  - {unit: rex, units: 2, width: 64, bottleneck: 16}
)");
  EXPECT_NE(m.find("bad.yaml: 4 problems:"), std::string::npos) << m;
  for (const char* line : {"bad.yaml:2: classes: must be a positive integer",
                           "bad.yaml:3: stem.type: unknown stem type 'big'",
                           "bad.yaml:5: stages[0].groups: bottleneck 8 is not divisible by groups 3",
                           "bad.yaml:6: stages[1].unit: unknown unit type 'rex'"}) {
    EXPECT_NE(m.find(line), std::string::npos) << line << "\n" << m;
  }
}

TEST(ModelSpec, AFolderIsNamedAsAFolder) {
  // It was "no such file", for a folder that is there.
  const std::string folder = std::filesystem::temp_directory_path().string();
  try {
    models::load_model_spec(folder);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(folder + ": is a folder, not a model spec"),
              std::string::npos)
        << e.what();
  }
}

TEST(ModelSpec, UnknownZooNameSuggests) {
  try {
    models::load_model_spec("crunet57");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'crunet56'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crunet
