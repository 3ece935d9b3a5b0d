// The SQLite index: incremental runs agree with a fresh index, single-file updates, bad input,
// schema versions, a full disk, and a writer killed with SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "indexer/index.h"
#include "indexer_test_util.h"

namespace latent::indexer {
namespace {

using testing::dump_index;
using testing::query_int;
using testing::TempDir;

std::unique_ptr<Index> open_index(const TempDir& ws, const std::filesystem::path& db, int threads = 0,
                                  uint64_t max_pages = 0, uint32_t bulk_load_files = 1000000) {
  IndexOptions o;
  o.bulk_load_files = bulk_load_files;
  o.root = ws.path();
  o.database = db;
  o.threads = threads;
  o.max_database_pages = max_pages;
  o.batch_files = 16;
  return Index::open(o);
}

void write_project(const TempDir& ws, int modules) {
  ws.write(".gitignore", "out/\n");
  for (int i = 0; i < modules; ++i) {
    std::string n = std::to_string(i);
    ws.write("src/mod" + n + ".h", "#pragma once\nint alpha_" + n + "(int x);\nstruct Beta" + n + " { int v; };\n");
    ws.write("src/mod" + n + ".c",
             "#include \"mod" + n + ".h\"\n\nint alpha_" + n + "(int x) {\n  struct Beta" + n +
                 " b = {x};\n  return b.v + " + (i > 0 ? "alpha_" + std::to_string(i - 1) + "(x)" : std::string("1")) +
                 ";\n}\n");
  }
  ws.write("README.md", "# Project\n\nThe alpha functions chain into each other.\n");
  ws.write("out/generated.c", "int ignored_symbol;\n");
}

TEST(Index, FindsDefinitionsReferencesAndText) {
  TempDir ws, dbdir;
  write_project(ws, 5);
  auto index = open_index(ws, dbdir.path() / "i.sqlite");
  IndexStats st = index->index_workspace();
  EXPECT_EQ(st.files_indexed, 12u);  // 10 sources, README, .gitignore
  EXPECT_EQ(st.files_total, 12u);
  EXPECT_TRUE(st.problems.empty());

  auto defs = index->find_definitions("alpha_3");
  ASSERT_EQ(defs.size(), 2u);
  EXPECT_EQ(defs[0].path, "src/mod3.c");
  EXPECT_EQ(defs[0].line, 3u);
  EXPECT_EQ(defs[0].end_line, 6u);
  EXPECT_EQ(defs[1].path, "src/mod3.h");
  auto refs = index->find_references("alpha_3");
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].path, "src/mod4.c");
  EXPECT_EQ(refs[0].kind, "call");
  EXPECT_TRUE(index->find_definitions("ignored_symbol").empty());

  auto hits = index->search("chain into each other");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].path, "README.md");
  EXPECT_EQ(hits[0].start_line, 1u);
}

TEST(Index, IncrementalRunsMatchAFreshIndex) {
  TempDir ws, dbdir;
  write_project(ws, 8);
  auto db = dbdir.path() / "inc.sqlite";
  {
    auto index = open_index(ws, db, 2);
    index->index_workspace();
  }
  // Unchanged: nothing is parsed again.
  {
    auto index = open_index(ws, db, 2);
    IndexStats st = index->index_workspace();
    EXPECT_EQ(st.files_indexed, 0u);
    EXPECT_EQ(st.files_unchanged, 18u);
  }
  // Edit one file, delete one, rename one, touch one without changing it, add an ignored one.
  ws.write("src/mod2.c", "int alpha_2(int x) { return x; }\nint gamma(void) { return 7; }\n");
  std::filesystem::remove(ws.path() / "src/mod5.c");
  std::filesystem::rename(ws.path() / "src/mod6.c", ws.path() / "src/renamed6.c");
  std::filesystem::last_write_time(ws.path() / "src/mod7.h",
                                   std::filesystem::last_write_time(ws.path() / "src/mod7.h") + std::chrono::seconds(5));
  ws.write("out/more.c", "int also_ignored;\n");
  {
    auto index = open_index(ws, db, 2);
    IndexStats st = index->index_workspace();
    EXPECT_EQ(st.files_indexed, 2u);  // mod2.c and renamed6.c
    EXPECT_EQ(st.files_removed, 2u);  // mod5.c and mod6.c
    EXPECT_EQ(st.files_unchanged, 15u);
    EXPECT_TRUE(index->find_definitions("also_ignored").empty());
    EXPECT_EQ(index->find_definitions("gamma").size(), 1u);
  }
  TempDir fresh_dir;
  auto fresh = fresh_dir.path() / "fresh.sqlite";
  {
    auto index = open_index(ws, fresh, 0);
    index->index_workspace();
  }
  EXPECT_EQ(dump_index(db), dump_index(fresh));
}

long long secondary_index_count(const std::filesystem::path& db) {
  return query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE '%\\_by\\_%' ESCAPE '\\'");
}

TEST(Index, ColdBulkLoadMatchesRowByRowAndRebuildsItsIndexes) {
  TempDir ws, dbdir;
  write_project(ws, 8);
  auto bulk = dbdir.path() / "bulk.sqlite", rows = dbdir.path() / "rows.sqlite";
  open_index(ws, bulk, 2, 0, /*bulk_load_files=*/1)->index_workspace();
  open_index(ws, rows, 0)->index_workspace();
  EXPECT_EQ(dump_index(bulk), dump_index(rows));
  EXPECT_EQ(secondary_index_count(bulk), 5);
  EXPECT_EQ(secondary_index_count(bulk), secondary_index_count(rows));
  EXPECT_EQ(query_int(bulk, "SELECT count(*) FROM (SELECT DISTINCT name_id, file_id FROM refs)"),
            query_int(bulk, "SELECT count(*) FROM refs"));
}

TEST(Index, OlderSchemaIsRebuiltFromTheWorkspace) {
  TempDir ws, dbdir;
  write_project(ws, 3);
  auto db = dbdir.path() / "old.sqlite";
  open_index(ws, db)->index_workspace();
  // What an older version left: its own version number and a table this one does not know.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE legacy(x); INSERT INTO legacy VALUES (1); PRAGMA user_version=1",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  {
    auto index = open_index(ws, db);
    EXPECT_EQ(index->file_count(), 0u);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'legacy'"), 0);
    EXPECT_GT(query_int(db, "PRAGMA user_version"), 1);
    IndexStats st = index->index_workspace();
    EXPECT_EQ(st.files_indexed, st.files_checked);
    EXPECT_EQ(index->find_definitions("alpha_1").size(), 2u);
  }
  TempDir fresh_dir;
  auto fresh = fresh_dir.path() / "fresh.sqlite";
  open_index(ws, fresh)->index_workspace();
  EXPECT_EQ(dump_index(db), dump_index(fresh));
}

TEST(Index, SingleFileUpdatesAndEditorBuffers) {
  TempDir ws, dbdir;
  write_project(ws, 3);
  auto db = dbdir.path() / "u.sqlite";
  auto index = open_index(ws, db);
  index->index_workspace();

  ws.write("src/new.c", "int delta(void) { return alpha_1(2); }\n");
  EXPECT_EQ(index->update_file("src/new.c"), std::nullopt);
  EXPECT_EQ(index->find_definitions("delta").size(), 1u);
  EXPECT_EQ(index->update_file((ws.path() / "src/new.c").string()), std::nullopt);  // absolute works too
  EXPECT_EQ(index->find_definitions("delta").size(), 1u);

  index->update_buffer("src/new.c", "int epsilon(void) { return 0; }\n");
  EXPECT_TRUE(index->find_definitions("delta").empty());
  EXPECT_EQ(index->find_definitions("epsilon").size(), 1u);
  // The next run re-reads the disk version the buffer stood in for.
  IndexStats st = index->index_workspace();
  EXPECT_EQ(st.files_indexed, 1u);
  EXPECT_EQ(index->find_definitions("delta").size(), 1u);
  EXPECT_TRUE(index->find_definitions("epsilon").empty());

  std::filesystem::remove(ws.path() / "src/new.c");
  EXPECT_EQ(index->update_file("src/new.c"), std::nullopt);
  EXPECT_TRUE(index->find_definitions("delta").empty());
  EXPECT_TRUE(index->search("delta").empty());
  EXPECT_THROW(index->update_file("../outside.c"), IndexError);
}

TEST(Index, BadInputIsReportedAndTheRestIndexed) {
  TempDir ws, dbdir;
  ws.write("good.c", "int good_one(void) { return 1; }\n");
  ws.write("utf.c", "int bad\xFF_name_ok(void);\nint after_bad(void);\n");
  ws.write("min.js", "var a=" + std::string(30000, '1') + ";\n");
  ws.write("blob.dat", std::string("\x7f" "ELF\0\0\0", 7));
  ws.write("huge.c", std::string(2 << 20, '\n'));
  std::string deep = "int nest = " + std::string(5000, '(') + "1" + std::string(5000, ')') + ";\nint deep_after;\n";
  ws.write("deep.c", deep);
  auto index = open_index(ws, dbdir.path() / "b.sqlite", 2);
  IndexStats st = index->index_workspace();
  auto message = [&](const std::vector<FileProblem>& list, const std::string& path) -> std::string {
    for (const auto& p : list)
      if (p.path == path) return p.message;
    return "";
  };
  auto problem = [&](const std::string& path) { return message(st.problems, path); };
  auto skipped = [&](const std::string& path) { return message(st.skipped, path); };
  EXPECT_NE(problem("utf.c").find("invalid UTF-8"), std::string::npos);
  // Files left out by rule are expected skips, not problems.
  EXPECT_NE(skipped("min.js").find("line 1 is 30007 bytes"), std::string::npos) << skipped("min.js");
  EXPECT_NE(skipped("blob.dat").find("binary"), std::string::npos);
  EXPECT_NE(skipped("huge.c").find("size limit"), std::string::npos);
  EXPECT_EQ(problem("blob.dat"), "");
  EXPECT_EQ(st.problems.size(), 1u);
  EXPECT_EQ(st.files_checked, 6u);
  EXPECT_EQ(problem("good.c"), "");
  EXPECT_EQ(index->find_definitions("good_one").size(), 1u);
  EXPECT_EQ(index->find_definitions("after_bad").size(), 1u);
  EXPECT_EQ(index->find_definitions("deep_after").size(), 1u);
  EXPECT_EQ(st.files_total, 3u);  // good.c, utf.c, deep.c
}

TEST(Index, TheDefaultIndexFolderIgnoresItself) {
  TempDir ws;
  ws.write("a.c", "int a;\n");
  IndexOptions o;
  o.root = ws.path();
  o.threads = 0;
  IndexStats st = Index::open(o)->index_workspace();
  std::ifstream in(ws.path() / ".latent" / ".gitignore");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("\n*\n"), std::string::npos) << text;  // git ignores everything in .latent/
  EXPECT_EQ(st.files_checked, 1u);                             // and so does the walk
  EXPECT_TRUE(st.skipped.empty() && st.problems.empty());
}

TEST(Index, RefusesNewerSchemaAndForeignDatabases) {
  TempDir ws, dbdir;
  ws.write("a.c", "int a;\n");
  auto db = dbdir.path() / "s.sqlite";
  open_index(ws, db)->index_workspace();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  try {
    open_index(ws, db);
    FAIL() << "opened a database from a newer schema";
  } catch (const IndexError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("schema version 99"), std::string::npos) << msg;
    EXPECT_NE(msg.find(db.string()), std::string::npos) << msg;
  }

  auto foreign = dbdir.path() / "other.sqlite";
  ASSERT_EQ(sqlite3_open(foreign.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  EXPECT_THROW(open_index(ws, foreign), IndexError);

  auto garbage = dbdir.path() / "garbage.sqlite";
  { std::ofstream(garbage) << std::string(8192, 'x'); }
  EXPECT_THROW(open_index(ws, garbage), IndexError);
}

TEST(Index, FullDiskKeepsWhatWasCommitted) {
  TempDir ws, dbdir;
  write_project(ws, 2);
  auto db = dbdir.path() / "full.sqlite";
  { open_index(ws, db)->index_workspace(); }
  std::string before = dump_index(db);
  long long pages = query_int(db, "PRAGMA page_count");
  // Many new files, room for almost none of them.
  for (int i = 0; i < 60; ++i) {
    std::string body;
    for (int k = 0; k < 40; ++k) body += "int filler_" + std::to_string(i) + "_" + std::to_string(k) + "(void) { return " + std::to_string(k) + "; }\n";
    ws.write("more/f" + std::to_string(i) + ".c", body);
  }
  {
    auto index = open_index(ws, db, 0, static_cast<uint64_t>(pages + 2));
    try {
      index->index_workspace();
      FAIL() << "a full disk went unnoticed";
    } catch (const IndexError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("full"), std::string::npos) << msg;
      EXPECT_NE(msg.find("re-run"), std::string::npos) << msg;
    }
  }
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"), 0);
  // The original files are intact, and with room again the run completes.
  EXPECT_NE(dump_index(db).find("src/mod1.c|"), std::string::npos);
  auto index = open_index(ws, db);
  index->index_workspace();
  EXPECT_EQ(index->find_definitions("filler_59_39").size(), 1u);
  EXPECT_EQ(index->find_definitions("alpha_1").size(), 2u);
  (void)before;
}

TEST(Index, SurvivesSigkillAtAnyPoint) {
  TempDir ws, dbdir;
  write_project(ws, 150);
  TempDir fresh_dir;
  auto fresh = fresh_dir.path() / "fresh.sqlite";
  { open_index(ws, fresh)->index_workspace(); }
  const std::string expected = dump_index(fresh);

  std::mt19937 rng(1234);
  int partial_rounds = 0;
  for (int round = 0; round < 4; ++round) {
    auto db = dbdir.path() / ("killed" + std::to_string(round) + ".sqlite");
    int delay_ms = static_cast<int>(rng() % 20);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        open_index(ws, db, 1)->index_workspace();
      } catch (...) {
      }
      _exit(0);
    }
    // Kill shortly after the child's first commit, so it dies in the middle of the run.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline &&
           (!std::filesystem::exists(db) || query_int(db, "SELECT count(*) FROM files") <= 0))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    long long written = query_int(db, "SELECT count(*) FROM files");
    partial_rounds += written > 0 && written < query_int(fresh, "SELECT count(*) FROM files");
    // Whatever the child got to, the database opens, is consistent and resumes.
    auto index = open_index(ws, db);
    index->index_workspace();
    index.reset();
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"), 0);
    EXPECT_EQ(dump_index(db), expected) << "after a kill " << delay_ms << " ms after the first commit";
  }
  EXPECT_GT(partial_rounds, 0) << "no kill landed in the middle of a run";
}

TEST(Index, RanksFilesByTheReferenceGraph) {
  TempDir ws, dbdir;
  ws.write("hub.h", "int shared_helper(int x);\n");
  ws.write("hub.c", "int shared_helper(int x) { return x; }\n");
  for (int i = 0; i < 12; ++i)
    ws.write("leaf" + std::to_string(i) + ".c",
             "int leaf_fn_" + std::to_string(i) + "(void) { return shared_helper(" + std::to_string(i) + "); }\n");
  // Same name in another language: C uses must not flow to it.
  ws.write("web/other.js", "function shared_helper(x) { return x; }\n");
  auto db = dbdir.path() / "rank.sqlite";
  open_index(ws, db)->index_workspace();
  auto rank_of = [&](const std::string& path) {
    return "(SELECT r.rank FROM file_rank r JOIN files f ON f.id = r.file_id WHERE f.path = '" + path + "')";
  };
  EXPECT_EQ(query_int(db, "SELECT " + rank_of("hub.c") + " > " + rank_of("leaf3.c")), 1);
  EXPECT_EQ(query_int(db, "SELECT " + rank_of("hub.h") + " > " + rank_of("leaf3.c")), 1);
  EXPECT_EQ(query_int(db, "SELECT " + rank_of("hub.c") + " > " + rank_of("web/other.js")), 1);
  EXPECT_EQ(query_int(db, "SELECT abs(" + rank_of("web/other.js") + " - " + rank_of("leaf3.c") + ") < 1e-9"), 1);
  EXPECT_EQ(query_int(db, "SELECT abs(sum(rank) - 1) < 1e-6 FROM file_rank"), 1);
}

TEST(Index, CancelledRunKeepsItsWorkAndTheNextOneFinishes) {
  TempDir ws, dbdir;
  write_project(ws, 100);
  auto db = dbdir.path() / "cancel.sqlite";
  auto index = open_index(ws, db, 0);
  std::atomic<bool> cancel{false};
  size_t calls = 0;
  IndexStats st = index->index_workspace(
      [&](const Progress& p) {
        ++calls;
        if (p.files_done >= 64) cancel = true;
      },
      &cancel);
  EXPECT_TRUE(st.cancelled);
  EXPECT_GT(calls, 0u);
  EXPECT_GE(st.files_indexed, 64u);
  EXPECT_LT(st.files_indexed, 202u);
  EXPECT_EQ(st.files_removed, 0u);  // a cancelled walk removes nothing
  IndexStats rest = index->index_workspace();
  EXPECT_FALSE(rest.cancelled);
  EXPECT_EQ(rest.files_indexed + rest.files_unchanged, 202u);
  EXPECT_EQ(rest.files_unchanged, st.files_indexed);
}

TEST(Index, ReadersRunWhileTheWriterWrites) {
  TempDir ws, dbdir;
  write_project(ws, 100);
  auto index = open_index(ws, dbdir.path() / "r.sqlite", 2);
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!done) {
      index->search("alpha");
      index->find_definitions("alpha_1");
      ++reads;
    }
  });
  index->index_workspace();
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(index->find_definitions("alpha_99").size(), 2u);
}

}  // namespace
}  // namespace latent::indexer
