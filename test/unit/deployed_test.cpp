// The shared table of deployed models (src/shmem/deployed.*).
#include <memory>
#include <string>

#include "common.hpp"
#include "shmem/deployed.hpp"

namespace pgml::unit {
namespace {

shm::DeployedFacts facts(uint32_t db, int64_t model, uint32_t relid = 500) {
    shm::DeployedFacts f{};
    f.db = db;
    f.catalog_relid = relid;
    f.model_id = model;
    f.num_features = 3;
    return f;
}

TEST(Deployed, PublishFindAndEpochs) {
    auto t = std::make_unique<shm::DeployedTable>();
    shm::DeployedFacts out{};
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "p", out));
    const uint64_t e = shm::current_epoch(*t);
    EXPECT_EQ(shm::publish_deployed(*t, e, "p", facts(1, 10)), 0);
    ASSERT_TRUE(shm::find_deployed(*t, 1, 500, "p", out));
    EXPECT_EQ(out.model_id, 10);
    // Keyed by database, catalog and the whole name.
    EXPECT_FALSE(shm::find_deployed(*t, 2, 500, "p", out));
    EXPECT_FALSE(shm::find_deployed(*t, 1, 501, "p", out));
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "pp", out));
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "", out));
    // A catalog change: stale at once.
    shm::bump_epoch(*t);
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "p", out));
    // An answer read before the bump is not published.
    EXPECT_EQ(shm::publish_deployed(*t, e, "p", facts(1, 11)), 0);
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "p", out));
    // Read after it: published, and it names the model it replaces.
    const uint64_t e2 = shm::current_epoch(*t);
    EXPECT_EQ(shm::publish_deployed(*t, e2, "p", facts(1, 12)), 10);
    ASSERT_TRUE(shm::find_deployed(*t, 1, 500, "p", out));
    EXPECT_EQ(out.model_id, 12);
    // The same again: no previous model to free.
    EXPECT_EQ(shm::publish_deployed(*t, e2, "p", facts(1, 12)), 0);
}

TEST(Deployed, FullTableReusesEntries) {
    auto t = std::make_unique<shm::DeployedTable>();
    const uint64_t e = shm::current_epoch(*t);
    for (int i = 0; i < shm::kDeployedEntries; ++i)
        shm::publish_deployed(*t, e, "p" + std::to_string(i), facts(1, i + 1));
    shm::DeployedFacts out{};
    for (int i = 0; i < shm::kDeployedEntries; ++i)
        ASSERT_TRUE(shm::find_deployed(*t, 1, 500, "p" + std::to_string(i), out)) << i;
    // One more evicts exactly one other entry; every project is found at most once.
    shm::publish_deployed(*t, e, "new", facts(1, 1000));
    ASSERT_TRUE(shm::find_deployed(*t, 1, 500, "new", out));
    EXPECT_EQ(out.model_id, 1000);
    int found = 0;
    for (int i = 0; i < shm::kDeployedEntries; ++i)
        found += shm::find_deployed(*t, 1, 500, "p" + std::to_string(i), out);
    EXPECT_EQ(found, shm::kDeployedEntries - 1);
}

TEST(Deployed, WhatIsNotShared) {
    auto t = std::make_unique<shm::DeployedTable>();
    const uint64_t e = shm::current_epoch(*t);
    const std::string long_name(shm::kDeployedNameMax + 1, 'x');
    EXPECT_FALSE(shm::shareable(long_name, 2));
    EXPECT_TRUE(shm::shareable(std::string(shm::kDeployedNameMax, 'x'), shm::kDeployedClassesMax));
    EXPECT_FALSE(shm::shareable("p", shm::kDeployedClassesMax + 1));
    shm::publish_deployed(*t, e, long_name, facts(1, 1));
    shm::DeployedFacts out{};
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, long_name, out));
    shm::DeployedFacts many = facts(1, 2);
    many.num_classes = shm::kDeployedClassesMax + 1;
    shm::publish_deployed(*t, e, "many", many);
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "many", out));
}

}  // namespace
}  // namespace pgml::unit
