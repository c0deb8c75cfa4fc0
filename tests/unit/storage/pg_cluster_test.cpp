// The test harness's throwaway PostgreSQL server (tests/support/pg_cluster).
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "support/pg_cluster.hpp"

using ocirelay::test::PgCluster;

TEST_CASE("the PostgreSQL harness gives each test its own database on a durable server", "[pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;

  const std::string a = pg->create_database("harness");
  const std::string b = pg->create_database("harness");
  CHECK(a != b);
  CHECK(a.rfind("postgresql://postgres@127.0.0.1:" + std::to_string(pg->port()) + "/", 0) == 0);
  const std::string name_a = a.substr(a.rfind('/') + 1);
  const std::string name_b = b.substr(b.rfind('/') + 1);

  pg->psql(name_a, "CREATE TABLE t (x int); INSERT INTO t VALUES (7)");
  CHECK(pg->psql(name_a, "SELECT x FROM t") == "7\n");
  CHECK_THROWS_WITH(pg->psql(name_b, "SELECT x FROM t"),
                    Catch::Contains("relation \"t\" does not exist"));

  // The defaults the durability tests rely on.
  CHECK(pg->psql(name_a, "SHOW fsync") == "on\n");
  CHECK(pg->psql(name_a, "SHOW synchronous_commit") == "on\n");
  CHECK(pg->psql(name_a, "SHOW listen_addresses") == "127.0.0.1\n");
  CHECK(pg->psql(name_a, "SELECT current_setting('server_version_num')::int / 10000") == "15\n");

  // The server never runs as root.
  struct stat st {};
  REQUIRE(::stat(pg->data_dir().c_str(), &st) == 0);
  if (::geteuid() == 0) CHECK(st.st_uid != 0);
}

TEST_CASE("a PostgreSQL harness is stopped and removed when destroyed", "[pg]") {
  if (PgCluster::shared() == nullptr) return;
  std::filesystem::path root;
  {
    PgCluster own;
    root = own.data_dir().parent_path();
    REQUIRE(std::filesystem::exists(own.data_dir() / "postmaster.pid"));
    CHECK(own.psql("postgres", "SELECT 1") == "1\n");
  }
  CHECK_FALSE(std::filesystem::exists(root));
}
